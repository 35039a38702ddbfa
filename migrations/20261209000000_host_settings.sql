-- How a cluster's agents prepare each director host (where VIPs live, IPVS sysctls): the
-- canonical JSON of its host settings, as the API shows them. '{}' manages no VIPs and sets
-- no sysctl, so upgraded clusters leave their hosts as they are.
ALTER TABLE clusters ADD COLUMN host TEXT NOT NULL DEFAULT '{}'
    CHECK (json_valid(host) AND json_type(host) = 'object');

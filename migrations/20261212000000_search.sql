-- Fleet-wide search (`GET /search`): every address, key and mark lookup across clusters
-- is an index search (hosts' addresses are indexed by their UNIQUE constraint).

-- VIPs and address prefixes in any cluster (`services_by_address` leads with the cluster).
CREATE INDEX services_by_vip ON services (address, port);
-- The UI's own service labels (`tcp:20.0.0.100:80`, `fwmark:1:ipv4`) in any cluster.
CREATE INDEX services_by_key ON services (service_key);
-- Firewall-mark services in any cluster.
CREATE INDEX services_by_fwmark ON services (fwmark) WHERE fwmark IS NOT NULL;
-- Real servers by address and port, which also serves every lookup by address alone: a
-- search's count reads only this index.
CREATE INDEX real_servers_by_socket ON real_servers (address, port);
DROP INDEX real_servers_by_address;

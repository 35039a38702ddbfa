-- Real-server hosts: the machines behind direct-routing and tunnel services, whose agent
-- (`lvs-agent --role real-server`) puts those services' VIPs on them. Fleet-wide, not per
-- cluster: one host serves the services of any cluster that lists its addresses. Times are
-- Unix milliseconds.

CREATE TABLE real_server_hosts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),
    description TEXT NOT NULL CHECK (length(description) <= 2000),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- SHA-256 of the agent token (`lvsr_<64 hex>`); shown once, never stored. NULL: none.
    token_hash BLOB UNIQUE CHECK (token_hash IS NULL OR length(token_hash) = 32),
    token_created_at INTEGER,
    -- The agent's last request of any kind.
    last_seen INTEGER,
    -- The latest report (a RealServerReport as JSON) with only its failed outcomes, at most
    -- 100, and its repaired drift, at most 50; NULL until the first.
    report TEXT CHECK (report IS NULL OR (json_valid(report) AND json_type(report) = 'object')),
    reported_at INTEGER,
    CHECK ((token_hash IS NULL) = (token_created_at IS NULL)),
    CHECK ((report IS NULL) = (reported_at IS NULL))
) STRICT;

-- A host's addresses; an address belongs to one host at most.
CREATE TABLE real_server_host_addresses (
    host_id INTEGER NOT NULL REFERENCES real_server_hosts (id) ON DELETE CASCADE,
    -- Canonical text, as real servers store theirs.
    address TEXT NOT NULL UNIQUE,
    PRIMARY KEY (host_id, address)
) STRICT, WITHOUT ROWID;

-- A host's needs are read from the real servers at its addresses.
CREATE INDEX real_servers_by_address ON real_servers (address);

-- LVS Fleet's desired configuration: clusters of directors and the virtual services they
-- serve. Validation lives in the model crate; the constraints here are a second line that
-- keeps a bug from storing what the kernel would reject. Times are Unix milliseconds.

CREATE TABLE clusters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    timeout_tcp INTEGER CHECK (timeout_tcp > 0),
    timeout_tcpfin INTEGER CHECK (timeout_tcpfin > 0),
    timeout_udp INTEGER CHECK (timeout_udp > 0),
    -- Bumped by every committed change to the desired state; 0 = never set.
    generation INTEGER NOT NULL DEFAULT 0 CHECK (generation >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE directors (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (cluster_id, name)
) STRICT;

CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    -- The canonical key (`tcp:10.0.0.1:80`, `fwmark:42:ipv4`): unique per cluster.
    service_key TEXT NOT NULL,
    protocol TEXT CHECK (protocol IN ('tcp', 'udp', 'sctp')),
    address TEXT,
    port INTEGER CHECK (port BETWEEN 1 AND 65535),
    fwmark INTEGER CHECK (fwmark BETWEEN 1 AND 4294967295),
    family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6')),
    scheduler TEXT NOT NULL,
    -- Comma-separated, canonical order.
    scheduler_flags TEXT NOT NULL,
    persistence_timeout INTEGER NOT NULL CHECK (persistence_timeout >= 0),
    persistence_prefix_len INTEGER CHECK (persistence_prefix_len BETWEEN 0 AND 128),
    one_packet INTEGER NOT NULL CHECK (one_packet IN (0, 1)),
    persistence_engine TEXT,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (cluster_id, service_key),
    CHECK ((fwmark IS NULL) = (protocol IS NOT NULL AND address IS NOT NULL AND port IS NOT NULL))
) STRICT;

CREATE INDEX services_by_address ON services (cluster_id, address, port);

CREATE TABLE real_servers (
    id INTEGER PRIMARY KEY,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
    forwarding TEXT NOT NULL CHECK (forwarding IN ('masq', 'route', 'tunnel', 'local')),
    tunnel_type TEXT CHECK (tunnel_type IN ('ipip', 'gue', 'gre')),
    tunnel_port INTEGER CHECK (tunnel_port BETWEEN 1 AND 65535),
    tunnel_checksum TEXT CHECK (tunnel_checksum IN ('nocsum', 'csum', 'remcsum')),
    -- The configured weight; a drained server has weight 0 in the kernel.
    weight INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 65535),
    upper_threshold INTEGER NOT NULL CHECK (upper_threshold BETWEEN 0 AND 4294967295),
    lower_threshold INTEGER NOT NULL CHECK (lower_threshold BETWEEN 0 AND upper_threshold),
    state TEXT NOT NULL CHECK (state IN ('active', 'drained')),
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (service_id, address, port)
) STRICT;

-- Changes of real servers' health as the directors' agents reported them: each cluster's
-- event history, trimmed to the newest few (see server/src/db/health_events.rs). A report
-- repeated after a reconnection adds nothing (the UNIQUE constraint).
CREATE TABLE health_events (
    id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    director_id INTEGER NOT NULL REFERENCES directors (id) ON DELETE CASCADE,
    service_key TEXT NOT NULL,
    -- `10.1.0.1:80` or `[2001:db8::1]:80`.
    real_server TEXT NOT NULL,
    health TEXT NOT NULL CHECK (health IN ('up', 'down')),
    reason TEXT,
    -- When the director saw the change (Unix ms).
    at INTEGER NOT NULL,
    UNIQUE (director_id, service_key, real_server, at, health)
) STRICT;

CREATE INDEX health_events_by_cluster ON health_events (cluster_id, id);

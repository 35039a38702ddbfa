-- Each service's statistics history (server/src/agents/stats.rs), kept across restarts:
-- one row per cluster, service key, resolution and block of consecutive points, the points
-- packed as little-endian f32s, six per point, NaN where no director reported (see
-- server/src/db/stats_history.rs). Pruned by age like the history in memory.
CREATE TABLE stats_history (
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    service_key TEXT NOT NULL,
    -- The resolution, as the milliseconds one point covers.
    step_ms INTEGER NOT NULL CHECK (step_ms > 0),
    -- Start of the block's first point (Unix ms), a multiple of its length.
    start_ms INTEGER NOT NULL CHECK (start_ms >= 0),
    points BLOB NOT NULL CHECK (length(points) % 24 = 0),
    PRIMARY KEY (cluster_id, service_key, step_ms, start_ms)
) STRICT, WITHOUT ROWID;

CREATE INDEX stats_history_by_age ON stats_history (step_ms, start_ms);

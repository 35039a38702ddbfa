-- Agents: each director's token (only its SHA-256 is kept) and what its agent last reported.
-- Times are Unix milliseconds.

CREATE TABLE agent_tokens (
    director_id INTEGER PRIMARY KEY REFERENCES directors (id) ON DELETE CASCADE,
    -- SHA-256 of the whole token (`lvsa_<64 hex>`); the token is shown once, never stored.
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE director_status (
    director_id INTEGER PRIMARY KEY REFERENCES directors (id) ON DELETE CASCADE,
    -- The agent's last request of any kind.
    last_seen INTEGER NOT NULL,
    -- The last apply report; the columns below are NULL until one arrives.
    reported_at INTEGER,
    applied_generation INTEGER CHECK (applied_generation >= 0),
    -- Whether every change of the last report applied (1) or some failed (0).
    last_report_ok INTEGER CHECK (last_report_ok IN (0, 1)),
    -- JSON array of the failed changes of the last report that had any.
    last_errors TEXT NOT NULL DEFAULT '[]',
    last_errors_at INTEGER,
    -- JSON array of the latest repaired drifts, newest first, bounded by the server.
    drift_repaired TEXT NOT NULL DEFAULT '[]',
    agent_version TEXT,
    kernel_version TEXT,
    -- JSON array of the services the agent left alone at generation 0 (for import).
    unmanaged_services TEXT NOT NULL DEFAULT '[]'
) STRICT;

-- What each generation of a cluster's desired state changed, written in the transaction
-- that bumped it. Times are Unix milliseconds.

CREATE TABLE changes (
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    -- The generation this change produced.
    generation INTEGER NOT NULL CHECK (generation > 0),
    committed_at INTEGER NOT NULL,
    -- Who made it: the REST API, the web UI, or an import of a director's services.
    source TEXT NOT NULL CHECK (source IN ('api', 'ui', 'import')),
    -- JSON counts of what changed (the model's DiffSummary), always complete.
    summary TEXT NOT NULL,
    -- Whether `diff` lists only the first entries (the server bounds it).
    truncated INTEGER NOT NULL CHECK (truncated IN (0, 1)),
    -- JSON of the diff (the model's DiffSpec). Last, so lists that leave it out do not read
    -- its overflow pages.
    diff TEXT NOT NULL,
    PRIMARY KEY (cluster_id, generation)
) STRICT;

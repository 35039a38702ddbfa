-- One row the readiness probe rewrites, so that `/readyz` answers 200 only while a write
-- commits (a read-only file, a full disk or a broken file system fail it).

CREATE TABLE write_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- Unix milliseconds of the last probe.
    checked_at INTEGER NOT NULL
) STRICT;

INSERT INTO write_probe (id, checked_at) VALUES (1, 0);

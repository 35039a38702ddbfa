-- What revert needs to rebuild the desired state of an older generation exactly: each
-- generation's whole diff, never truncated (the `changes` table bounds its copy).
--
-- Why whole diffs rather than snapshots: a diff holds every value before and after, so
-- reversed it undoes its generation, and the current state (the tables) with the reversed
-- diffs of generations g+1 ..= current gives generation g's state. A change then stores
-- what it changed and nothing more: a one-weight edit of a 100,000-server cluster writes
-- one small row, where a snapshot would copy the cluster. Revert reads the current state
-- and the diffs it undoes, never a chain from a snapshot.
--
-- Bounded: `db::revert_diffs::REACH` diffs per cluster are kept (the oldest is deleted as
-- each generation is written), so revert reaches that many generations back.
CREATE TABLE revert_diffs (
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    -- The generation this diff produced (from the one before).
    generation INTEGER NOT NULL CHECK (generation > 0),
    -- JSON of the whole diff (the model's DiffSpec).
    diff TEXT NOT NULL,
    PRIMARY KEY (cluster_id, generation)
) STRICT;

-- The oldest generation whose state can be rebuilt: diffs were kept only after this
-- migration, so an existing cluster's older generations cannot be reverted to. A cluster
-- created since starts at 0.
ALTER TABLE clusters ADD COLUMN revertable_from INTEGER NOT NULL DEFAULT 0
    CHECK (revertable_from >= 0);
UPDATE clusters SET revertable_from = generation;

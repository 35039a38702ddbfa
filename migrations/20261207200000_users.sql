-- Local users: who signs in to the UI and the API, and what each may do. Times are Unix
-- milliseconds.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    -- A name as cluster names are (a DNS label); unique.
    name TEXT NOT NULL UNIQUE,
    -- An argon2id hash in the PHC string format (algorithm, parameters, salt, hash): the
    -- password itself is never stored.
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
) STRICT;

-- The clusters an operator may edit. Deleting a cluster or a user deletes its grants.
CREATE TABLE user_grants (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, cluster_id)
) STRICT;

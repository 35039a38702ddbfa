-- Who may reach the API and the UI, and who did what. Times are Unix milliseconds.

-- Browser sessions. The cookie holds a random id; only its SHA-256 is stored, so a copy of
-- the database signs no one in.
CREATE TABLE sessions (
    id_hash BLOB PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    -- Persisted now and then (the server keeps the exact time in memory); idle expiry
    -- counts from here after a restart.
    last_seen_at INTEGER NOT NULL,
    -- The address the session signed in from.
    client TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for CI and scripts: a user's own, or a named service account's. Stored only as
-- SHA-256; revoking deletes the row (the audit log keeps that it existed).
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What it is for, as its creator called it: a DNS label, unique per owner.
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- Exactly one owner: a user (the token acts as that user, never above its role) or a
    -- service account (a name that signs in with tokens only).
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    service_account TEXT,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- NULL: never expires.
    expires_at INTEGER,
    -- NULL: never used. Persisted now and then, like sessions' last_seen_at.
    last_used_at INTEGER,
    CHECK ((user_id IS NULL) <> (service_account IS NULL))
) STRICT;

CREATE UNIQUE INDEX api_tokens_user_name ON api_tokens (user_id, name) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX api_tokens_account_name ON api_tokens (service_account, name)
    WHERE service_account IS NOT NULL;

-- The clusters an operator token may edit.
CREATE TABLE api_token_grants (
    token_id INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    cluster_id INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, cluster_id)
) STRICT, WITHOUT ROWID;

-- Who made each change of a desired state. Beside `changes` rather than in it: its rows end
-- with a long diff, and a column after it would be read from overflow pages.
CREATE TABLE change_authors (
    cluster_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    -- user, token (an API token: actor is its owner), cli (lvs-server on the host)
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'token', 'cli')),
    actor TEXT NOT NULL,
    -- The API token's name, for a change made with one.
    token TEXT,
    client TEXT,
    PRIMARY KEY (cluster_id, generation),
    FOREIGN KEY (cluster_id, generation) REFERENCES changes (cluster_id, generation)
        ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Everything that was done and tried: changes, sign-ins and their failures, sign-outs,
-- users and tokens added and removed. Kept when what it names is deleted.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'token', 'cli', 'anonymous')),
    -- For a failed sign-in, the name that was tried.
    actor TEXT NOT NULL,
    token TEXT,
    source TEXT NOT NULL CHECK (source IN ('api', 'ui', 'import', 'cli')),
    client TEXT,
    -- What happened, a stable keyword (`change`, `login`, `login_failed`, ...).
    action TEXT NOT NULL,
    -- What it happened to, in words (`cluster prod-web`, `user alice`).
    target TEXT NOT NULL,
    -- For a change: its cluster and generation.
    cluster TEXT,
    generation INTEGER,
    detail TEXT NOT NULL
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

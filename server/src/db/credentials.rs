//! The `sessions`, `api_tokens` and `api_token_grants` tables: what a browser's session
//! cookie or a bearer token stands for. Both are stored as SHA-256 of the secret only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lvs_model::access::Role;
use sqlx::SqliteConnection;

use super::audit::{Actor, ActorKind};
use super::{corrupt, Tx};

/// The most credentials [`CredentialCache`] holds.
pub const MAX_CACHED: usize = 10_000;
/// How long a cached credential is trusted without reading it again, for changes made by
/// another process on the same file (`lvs-server users remove` while the server runs);
/// the server's own writes invalidate the cache at once.
pub const CACHE_FOR_MS: i64 = 10_000;

/// Which clusters an operator may edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grants {
    All,
    /// Cluster names, sorted.
    Only(Vec<String>),
}

impl Grants {
    pub fn allows(&self, cluster: &str) -> bool {
        match self {
            Grants::All => true,
            Grants::Only(names) => names.binary_search_by(|n| n.as_str().cmp(cluster)).is_ok(),
        }
    }

    fn intersect(self, other: Grants) -> Grants {
        match (self, other) {
            (Grants::All, other) | (other, Grants::All) => other,
            (Grants::Only(a), Grants::Only(b)) => {
                Grants::Only(a.into_iter().filter(|n| b.contains(n)).collect())
            }
        }
    }
}

/// Who a credential stands for, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    /// The user signed in, or owning the token.
    pub user_id: Option<i64>,
    pub role: Role,
    /// Which clusters it may edit as an operator (admins edit all).
    pub grants: Grants,
    pub credential: Credential,
}

impl Principal {
    /// Whether it may edit services and real servers of `cluster`.
    pub fn may_operate(&self, cluster: &str) -> bool {
        self.role == Role::Admin || (self.role == Role::Operator && self.grants.allows(cluster))
    }
}

/// What the request presented, with what bounds its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session {
        created_at: i64,
        /// As last persisted; the server keeps later times in memory.
        last_seen_at: i64,
    },
    ApiToken {
        id: i64,
        expires_at: Option<i64>,
    },
}

/// Which table a hash is looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Session,
    ApiToken,
}

/// Credentials read recently, by kind and hash; invalidated by every commit that may change
/// one (see [`Tx::record_credentials_changed`]), like [`super::agent_tokens::OwnerCache`].
#[derive(Debug, Default)]
pub struct CredentialCache {
    inner: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    epoch: u64,
    entries: HashMap<(Kind, [u8; 32]), (Arc<Principal>, i64)>,
}

impl CredentialCache {
    /// The principal cached for the hash and read since `now - CACHE_FOR_MS`, or the epoch
    /// to insert what the database says with.
    pub fn get(&self, kind: Kind, hash: &[u8; 32], now: i64) -> Result<Arc<Principal>, u64> {
        let cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match cached.entries.get(&(kind, *hash)) {
            Some((principal, read_at)) if now - read_at < CACHE_FOR_MS => Ok(principal.clone()),
            _ => Err(cached.epoch),
        }
    }

    /// Caches `principal`, read at `now` after [`CredentialCache::get`] returned `epoch`,
    /// unless the cache was invalidated since.
    pub fn insert(
        &self,
        epoch: u64,
        kind: Kind,
        hash: [u8; 32],
        principal: Arc<Principal>,
        now: i64,
    ) {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.epoch != epoch {
            return;
        }
        if cached.entries.len() >= MAX_CACHED && !cached.entries.contains_key(&(kind, hash)) {
            cached
                .entries
                .retain(|_, (_, read_at)| now - *read_at < CACHE_FOR_MS);
            if cached.entries.len() >= MAX_CACHED {
                cached.entries.clear();
            }
        }
        cached.entries.insert((kind, hash), (principal, now));
    }

    /// Forgets every credential; called after a commit that may have changed one.
    pub fn invalidate(&self) {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        cached.epoch += 1;
        cached.entries.clear();
    }
}

/// Starts a session for `user_id`.
pub async fn insert_session(
    tx: &mut Tx,
    hash: &[u8; 32],
    user_id: i64,
    client: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let hash = &hash[..];
    sqlx::query!(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, client)
         VALUES (?, ?, ?, ?, ?)",
        hash,
        user_id,
        now,
        now,
        client
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Ends a session; whether it existed.
pub async fn delete_session(tx: &mut Tx, hash: &[u8; 32]) -> Result<bool, sqlx::Error> {
    let hash = &hash[..];
    let done = sqlx::query!("DELETE FROM sessions WHERE id_hash = ?", hash)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(done.rows_affected() > 0)
}

/// Ends every session of the user (a new password signs everyone out).
pub async fn delete_user_sessions(tx: &mut Tx, user_id: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM sessions WHERE user_id = ?", user_id)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(done.rows_affected())
}

/// Deletes the sessions idle since before `idle_before` or started before `started_before`.
pub async fn delete_expired_sessions(
    tx: &mut Tx,
    idle_before: i64,
    started_before: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?",
        idle_before,
        started_before
    )
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Persists when sessions were last seen.
pub async fn touch_session(tx: &mut Tx, hash: &[u8; 32], at: i64) -> Result<(), sqlx::Error> {
    let hash = &hash[..];
    sqlx::query!(
        "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?",
        at,
        hash
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Persists when an API token was last used.
pub async fn touch_token(tx: &mut Tx, id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE api_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?",
        at,
        id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The signed-in user of a session, read from the database.
pub async fn session(
    conn: &mut SqliteConnection,
    hash: &[u8; 32],
) -> Result<Option<Principal>, sqlx::Error> {
    let hash = &hash[..];
    let row = sqlx::query!(
        r#"SELECT s.created_at, s.last_seen_at, u.id AS "user_id!", u.name, u.role
           FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?"#,
        hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role = parse_role(&row.role)?;
    let grants = user_grants(conn, row.user_id, role).await?;
    Ok(Some(Principal {
        actor: Actor::user(&row.name),
        user_id: Some(row.user_id),
        role,
        grants,
        credential: Credential::Session {
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        },
    }))
}

/// What an API token may do, read from the database: never more than its owning user.
pub async fn api_token(
    conn: &mut SqliteConnection,
    hash: &[u8; 32],
) -> Result<Option<Principal>, sqlx::Error> {
    let hash = &hash[..];
    let row = sqlx::query!(
        r#"SELECT t.id AS "id!", t.name, t.role, t.user_id, t.service_account, t.expires_at,
                  u.name AS "user?", u.role AS "user_role?"
           FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
           WHERE t.token_hash = ?"#,
        hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut role = parse_role(&row.role)?;
    let token_grants = token_grants(conn, row.id).await?;
    let mut grants = if token_grants.is_empty() {
        Grants::All
    } else {
        Grants::Only(token_grants)
    };
    let actor = match (row.user, row.user_role, row.user_id, row.service_account) {
        (Some(user), Some(user_role), Some(user_id), _) => {
            let user_role = parse_role(&user_role)?;
            role = role.min(user_role);
            grants = grants.intersect(user_grants(conn, user_id, user_role).await?);
            Actor {
                kind: ActorKind::User,
                name: user,
                token: Some(row.name),
            }
        }
        (_, _, _, Some(account)) => Actor {
            kind: ActorKind::Token,
            name: account,
            token: Some(row.name),
        },
        _ => {
            return Err(corrupt(
                "api token",
                "it has neither a user nor a service account",
            ))
        }
    };
    Ok(Some(Principal {
        actor,
        user_id: row.user_id,
        role,
        grants,
        credential: Credential::ApiToken {
            id: row.id,
            expires_at: row.expires_at,
        },
    }))
}

async fn user_grants(
    conn: &mut SqliteConnection,
    user_id: i64,
    role: Role,
) -> Result<Grants, sqlx::Error> {
    if role != Role::Operator {
        return Ok(Grants::All);
    }
    let names = sqlx::query_scalar!(
        "SELECT c.name FROM user_grants g JOIN clusters c ON c.id = g.cluster_id
         WHERE g.user_id = ? ORDER BY c.name",
        user_id
    )
    .fetch_all(conn)
    .await?;
    Ok(Grants::Only(names))
}

async fn token_grants(
    conn: &mut SqliteConnection,
    token_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT c.name FROM api_token_grants g JOIN clusters c ON c.id = g.cluster_id
         WHERE g.token_id = ? ORDER BY c.name",
        token_id
    )
    .fetch_all(conn)
    .await
}

fn parse_role(text: &str) -> Result<Role, sqlx::Error> {
    text.parse().map_err(|why: String| corrupt("role", &why))
}

/// An API token as listed: everything but the secret.
#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    /// The owning user, or `None` for a service account's.
    pub user: Option<String>,
    pub service_account: Option<String>,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Cluster names, sorted; empty: as many as its owner.
    pub clusters: Vec<String>,
}

/// A token to add.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub hash: &'a [u8; 32],
    pub user_id: Option<i64>,
    pub service_account: Option<&'a str>,
    pub role: Role,
    pub created_by: &'a str,
    pub expires_at: Option<i64>,
    pub cluster_ids: &'a [i64],
}

/// Adds a token; its id. A name its owner already uses is a unique violation.
pub async fn insert_token(
    tx: &mut Tx,
    token: &NewApiToken<'_>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let hash = &token.hash[..];
    let role = token.role.as_str();
    let id = sqlx::query_scalar!(
        r#"INSERT INTO api_tokens (name, token_hash, user_id, service_account, role, created_by,
                                   created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id AS "id!""#,
        token.name,
        hash,
        token.user_id,
        token.service_account,
        role,
        token.created_by,
        now,
        token.expires_at
    )
    .fetch_one(&mut **tx)
    .await?;
    for cluster_id in token.cluster_ids {
        sqlx::query!(
            "INSERT OR IGNORE INTO api_token_grants (token_id, cluster_id) VALUES (?, ?)",
            id,
            cluster_id
        )
        .execute(&mut **tx)
        .await?;
    }
    tx.record_credentials_changed();
    Ok(id)
}

/// Revokes a token; whether it existed.
pub async fn delete_token(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM api_tokens WHERE id = ?", id)
        .execute(&mut **tx)
        .await?;
    tx.record_credentials_changed();
    Ok(done.rows_affected() > 0)
}

/// Lowers the user's tokens above `role` to it (a token never does more than its user),
/// and drops the grants of those that are no longer operator tokens; how many were lowered.
pub async fn cap_user_tokens(tx: &mut Tx, user_id: i64, role: Role) -> Result<u64, sqlx::Error> {
    let rank = role_rank(role);
    let name = role.as_str();
    let done = sqlx::query!(
        "UPDATE api_tokens SET role = ?1 WHERE user_id = ?2
         AND (CASE role WHEN 'admin' THEN 2 WHEN 'operator' THEN 1 ELSE 0 END) > ?3",
        name,
        user_id,
        rank
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "DELETE FROM api_token_grants WHERE token_id IN
         (SELECT id FROM api_tokens WHERE user_id = ? AND role != 'operator')",
        user_id
    )
    .execute(&mut **tx)
    .await?;
    tx.record_credentials_changed();
    Ok(done.rows_affected())
}

/// A role's place in the order viewer < operator < admin, as SQL compares it.
fn role_rank(role: Role) -> i64 {
    match role {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    }
}

/// The tokens of `user_id`, or every token with `None`; by id.
pub async fn list_tokens(
    conn: &mut SqliteConnection,
    user_id: Option<i64>,
) -> Result<Vec<ApiTokenRow>, sqlx::Error> {
    token_rows(conn, user_id, None).await
}

/// One token, by id.
pub async fn get_token(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<ApiTokenRow>, sqlx::Error> {
    Ok(token_rows(conn, None, Some(id)).await?.pop())
}

async fn token_rows(
    conn: &mut SqliteConnection,
    user_id: Option<i64>,
    id: Option<i64>,
) -> Result<Vec<ApiTokenRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT t.id AS "id!", t.name, u.name AS "user?", t.service_account, t.role,
                  t.created_by, t.created_at, t.expires_at, t.last_used_at
           FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
           WHERE (?1 IS NULL OR t.user_id = ?1) AND (?2 IS NULL OR t.id = ?2) ORDER BY t.id"#,
        user_id,
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut tokens = Vec::with_capacity(rows.len());
    for row in rows {
        let clusters = token_grants(conn, row.id).await?;
        tokens.push(ApiTokenRow {
            id: row.id,
            name: row.name,
            user: row.user,
            service_account: row.service_account,
            role: parse_role(&row.role)?,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            clusters,
        });
    }
    Ok(tokens)
}

//! The `agent_tokens` table: one token per director, kept as its SHA-256; and the
//! in-memory cache of who each token belongs to, which spares every agent request a read.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sqlx::SqliteConnection;
use tokio::sync::watch;

use super::Tx;

/// The most owners [`OwnerCache`] holds: one per director, so only a fleet larger than this
/// reads the database for some requests.
pub const MAX_CACHED_OWNERS: usize = 10_000;

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    pub director_id: i64,
    pub director: String,
    pub cluster_id: i64,
    pub cluster: String,
    /// Tells this cluster from an earlier one with the same id (see `agents::state_changes`).
    pub cluster_created_at: i64,
}

/// Token hash -> owner, for valid tokens only (an unknown token is read every time).
///
/// Every write that can change what [`owner`] returns (a token created, replaced or
/// revoked; a director or cluster added or deleted; names never change) takes the [`Tx`] and
/// marks it, and [`Tx::commit`] then calls [`OwnerCache::invalidate`]: so once the API call
/// that committed it returns, no request is authenticated from what was cached before. A
/// lookup that read the database before the commit cannot put its stale answer back: it
/// inserts only if no invalidation happened since it began ([`OwnerCache::insert`]).
///
/// Real-server hosts' tokens have a cache of their own (`OwnerCache<HostOwner>`, see
/// [`super::real_server_hosts`]), invalidated by their own writes: a host's token changing
/// does not send every director's long-poll back to the database.
#[derive(Debug)]
pub struct OwnerCache<T = TokenOwner> {
    inner: Mutex<CachedOwners<T>>,
    /// The epoch, for the long-polls that must end as soon as their token stops being valid.
    invalidated: watch::Sender<u64>,
}

#[derive(Debug)]
struct CachedOwners<T> {
    /// Bumped by every invalidation.
    epoch: u64,
    owners: HashMap<[u8; 32], T>,
}

impl<T> Default for OwnerCache<T> {
    fn default() -> Self {
        OwnerCache {
            inner: Mutex::new(CachedOwners {
                epoch: 0,
                owners: HashMap::new(),
            }),
            invalidated: watch::Sender::default(),
        }
    }
}

impl<T: Clone> OwnerCache<T> {
    /// The cached owner of `hash`, or the epoch to insert what the database says with.
    pub fn get(&self, hash: &[u8; 32]) -> Result<T, u64> {
        let cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        cached.owners.get(hash).cloned().ok_or(cached.epoch)
    }

    /// Caches `owner`, read after [`OwnerCache::get`] returned `epoch`, unless the cache was
    /// invalidated since (the read may predate the change that invalidated it).
    pub fn insert(&self, epoch: u64, hash: [u8; 32], owner: T) {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.epoch != epoch {
            return;
        }
        if cached.owners.len() >= MAX_CACHED_OWNERS && !cached.owners.contains_key(&hash) {
            // Any one: a fleet this large reads some owners, not all, from the database.
            if let Some(evicted) = cached.owners.keys().next().copied() {
                cached.owners.remove(&evicted);
            }
        }
        cached.owners.insert(hash, owner);
    }

    /// Forgets every owner; called after a commit that may have changed one.
    pub fn invalidate(&self) {
        let mut cached = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        cached.epoch += 1;
        cached.owners.clear();
        self.invalidated.send_replace(cached.epoch);
    }

    /// A receiver marked changed by every [`OwnerCache::invalidate`] from now on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.invalidated.subscribe()
    }
}

/// Sets the director's token, replacing the one it had.
pub async fn replace(
    tx: &mut Tx,
    director_id: i64,
    hash: &[u8],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO agent_tokens (director_id, token_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT (director_id) DO UPDATE
         SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        director_id,
        hash,
        now
    )
    .execute(&mut **tx)
    .await?;
    tx.record_owners_changed();
    Ok(())
}

/// Revokes the director's token; whether it had one.
pub async fn delete(tx: &mut Tx, director_id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM agent_tokens WHERE director_id = ?",
        director_id
    )
    .execute(&mut **tx)
    .await?;
    tx.record_owners_changed();
    Ok(result.rows_affected() > 0)
}

/// The director and cluster a token hash belongs to, read from the database (see
/// [`super::Db::token_owner`] for the cached answer).
pub async fn owner(
    conn: &mut SqliteConnection,
    hash: &[u8],
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as!(
        TokenOwner,
        r#"SELECT d.id AS "director_id!", d.name AS director, c.id AS "cluster_id!",
                c.name AS cluster, c.created_at AS cluster_created_at
         FROM agent_tokens t
         JOIN directors d ON d.id = t.director_id
         JOIN clusters c ON c.id = d.cluster_id
         WHERE t.token_hash = ?"#,
        hash
    )
    .fetch_optional(conn)
    .await
}

//! Who is asking: browser sessions and API tokens turned into a [`Principal`], with their
//! expiry, when each was last used, and the throttling of sign-in attempts. What each
//! route needs is decided above, in `http::access`; the writes (sign-in, tokens) are in
//! `edit/`.

pub mod secret;
pub mod throttle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::db::credentials::{self, Credential, Kind, Principal};
use crate::db::{now_millis, Db};
use throttle::Throttle;

/// How long browser sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long has ended.
    pub idle: Duration,
    /// A session this old has ended, however busy.
    pub lifetime: Duration,
}

/// An hour without a click ends a session, and no session outlives a working day.
impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Duration::from_secs(60 * 60),
            lifetime: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// How often last-use times are persisted and ended sessions deleted.
pub const PERSIST_EVERY: Duration = Duration::from_secs(60);

/// Sessions and tokens in use, and sign-in throttling.
#[derive(Debug, Default)]
pub struct Access {
    pub sessions: SessionPolicy,
    pub throttle: Throttle,
    seen: Mutex<Seen>,
}

/// When each credential was last used, newer than the database says until persisted.
#[derive(Debug, Default)]
struct Seen {
    sessions: HashMap<[u8; 32], Use>,
    tokens: HashMap<i64, Use>,
}

#[derive(Debug, Clone, Copy)]
struct Use {
    at: i64,
    persisted: bool,
}

/// Why a credential was refused.
#[derive(Debug)]
pub enum Refused {
    /// Missing, malformed, unknown, expired: the reason in words, never the secret.
    Unauthenticated(String),
    Store(sqlx::Error),
}

impl From<sqlx::Error> for Refused {
    fn from(error: sqlx::Error) -> Self {
        Refused::Store(error)
    }
}

impl Access {
    pub fn new(sessions: SessionPolicy) -> Access {
        Access {
            sessions,
            ..Access::default()
        }
    }

    /// The principal of a session cookie's value.
    pub async fn session(&self, db: &Db, cookie: &str) -> Result<Arc<Principal>, Refused> {
        if !secret::well_formed(secret::SESSION_PREFIX, cookie) {
            return Err(unauthenticated("the session cookie is malformed"));
        }
        let hash = secret::hash(cookie);
        let principal = db
            .principal(Kind::Session, &hash)
            .await?
            .ok_or_else(|| unauthenticated("the session has ended (signed out, or replaced)"))?;
        let Credential::Session {
            created_at,
            last_seen_at,
        } = principal.credential
        else {
            return Err(unauthenticated("not a session"));
        };
        let now = now_millis();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let last = seen
            .sessions
            .get(&hash)
            .map_or(last_seen_at, |u| u.at.max(last_seen_at));
        if now - created_at >= millis(self.sessions.lifetime) {
            return Err(unauthenticated(
                "the session is older than the longest a session lasts; sign in again",
            ));
        }
        if now - last >= millis(self.sessions.idle) {
            return Err(unauthenticated(
                "the session was idle too long; sign in again",
            ));
        }
        seen.sessions.insert(
            hash,
            Use {
                at: now,
                persisted: false,
            },
        );
        Ok(principal)
    }

    /// The principal of a bearer API token.
    pub async fn api_token(&self, db: &Db, token: &str) -> Result<Arc<Principal>, Refused> {
        if !secret::well_formed(secret::API_TOKEN_PREFIX, token) {
            return Err(unauthenticated(
                "the bearer token is malformed (expected lvst_ and 64 hex digits)",
            ));
        }
        let hash = secret::hash(token);
        let principal = db.principal(Kind::ApiToken, &hash).await?.ok_or_else(|| {
            unauthenticated("the API token is unknown: it was revoked, or its user removed")
        })?;
        let Credential::ApiToken { id, expires_at } = principal.credential else {
            return Err(unauthenticated("not an API token"));
        };
        let now = now_millis();
        if expires_at.is_some_and(|at| now >= at) {
            return Err(unauthenticated("the API token has expired"));
        }
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.tokens.insert(
            id,
            Use {
                at: now,
                persisted: false,
            },
        );
        Ok(principal)
    }

    /// Forgets a session's last use (it was ended).
    pub fn forget_session(&self, hash: &[u8; 32]) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.sessions.remove(hash);
    }

    /// Writes the last-use times not yet persisted and deletes ended sessions, in one
    /// transaction.
    pub async fn persist(&self, db: &Db) -> Result<(), sqlx::Error> {
        let now = now_millis();
        let (sessions, tokens) = {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            let idle = millis(self.sessions.idle);
            seen.sessions.retain(|_, u| now - u.at < idle);
            let sessions: Vec<([u8; 32], i64)> = unpersisted(&mut seen.sessions);
            let tokens: Vec<(i64, i64)> = unpersisted(&mut seen.tokens);
            (sessions, tokens)
        };
        let mut tx = db.write().await?;
        for (hash, at) in &sessions {
            credentials::touch_session(&mut tx, hash, *at).await?;
        }
        for (id, at) in &tokens {
            credentials::touch_token(&mut tx, *id, *at).await?;
        }
        let idle_before = now - millis(self.sessions.idle);
        let started_before = now - millis(self.sessions.lifetime);
        credentials::delete_expired_sessions(&mut tx, idle_before, started_before).await?;
        tx.commit().await
    }

    /// Persists every [`PERSIST_EVERY`] until dropped.
    pub async fn run_background(self: Arc<Self>, db: Db) {
        let mut ticks = tokio::time::interval(PERSIST_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.persist(&db).await {
                tracing::warn!(error = %error, "cannot persist when sessions and tokens were last used");
            }
        }
    }
}

fn unpersisted<K: Copy + Eq + std::hash::Hash>(uses: &mut HashMap<K, Use>) -> Vec<(K, i64)> {
    uses.iter_mut()
        .filter(|(_, u)| !u.persisted)
        .map(|(key, u)| {
            u.persisted = true;
            (*key, u.at)
        })
        .collect()
}

fn unauthenticated(why: &str) -> Refused {
    Refused::Unauthenticated(why.to_owned())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

//! Directors' agent tokens: `lvsa_` and 64 hex digits (32 random bytes), stored only as a
//! SHA-256; issue (replacing the one it had) and revoke.

use super::error::EditResult;
use super::{audit, lookup, Author};
use crate::access::secret;
use crate::db::{agent_tokens, now_millis};
use crate::state::AppState;

pub use crate::access::secret::AGENT_TOKEN_PREFIX as TOKEN_PREFIX;

/// A token just issued. The server keeps only its hash, so this is the only time it is
/// known: show it once, never log it.
#[derive(Debug)]
pub struct IssuedToken {
    /// `lvsa_` and 64 hex digits.
    pub token: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Issues the director's agent token, replacing (and so invalidating) the one it had.
pub async fn create(
    state: &AppState,
    cluster: &str,
    director: &str,
    author: &Author,
) -> EditResult<IssuedToken> {
    let (token, hash) = secret::new(TOKEN_PREFIX)?;
    let now = now_millis();
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let director = lookup::director(&mut tx, &cluster, director).await?;
    agent_tokens::replace(&mut tx, director.id, &hash, now).await?;
    let target = format!("director {} of cluster {}", director.name, cluster.name);
    audit(
        &mut tx,
        author,
        "agent_token_created",
        target,
        String::new(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(cluster = %cluster.name, director = %director.name, "agent token created");
    Ok(IssuedToken {
        token,
        created_at: now,
    })
}

/// Revokes the director's agent token: its agent is refused from now on. Whether it had
/// one.
pub async fn revoke(
    state: &AppState,
    cluster: &str,
    director: &str,
    author: &Author,
) -> EditResult<bool> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let director = lookup::director(&mut tx, &cluster, director).await?;
    let revoked = agent_tokens::delete(&mut tx, director.id).await?;
    if revoked {
        let target = format!("director {} of cluster {}", director.name, cluster.name);
        audit(
            &mut tx,
            author,
            "agent_token_revoked",
            target,
            String::new(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(cluster = %cluster.name, director = %director.name, "agent token revoked");
    }
    Ok(revoked)
}

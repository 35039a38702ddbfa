//! Directors' agent tokens: `lvsa_` and 64 hex digits (32 random bytes), stored only as a
//! SHA-256; issue (replacing the one it had) and revoke.

use sha2::{Digest, Sha256};

use super::error::EditResult;
use super::{audit, lookup, Author};
use crate::db::{agent_tokens, now_millis};
use crate::state::AppState;

pub const TOKEN_PREFIX: &str = "lvsa_";
const TOKEN_HEX_DIGITS: usize = 64;

/// A new token, and the hash to store.
pub fn new_token() -> anyhow::Result<(String, [u8; 32])> {
    let mut bytes = [0_u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_HEX_DIGITS);
    token.push_str(TOKEN_PREFIX);
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    let hash = hash(&token);
    Ok((token, hash))
}

/// What is stored of a token: its SHA-256.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `token` has the form of an agent token (checked before any lookup).
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|hex| {
        hex.len() == TOKEN_HEX_DIGITS && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

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
    let (token, hash) = new_token()?;
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

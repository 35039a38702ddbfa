//! Real-server hosts' agent tokens: `lvsr_` and 64 hex digits (32 random bytes), stored
//! only as a SHA-256; issue (replacing the one it had) and revoke, as directors' tokens.

use super::error::EditResult;
use super::real_server_hosts::target;
use super::tokens::IssuedToken;
use super::{audit, lookup, Author};
use crate::access::secret;
use crate::db::{now_millis, real_server_hosts};
use crate::state::AppState;

pub use crate::access::secret::REAL_SERVER_TOKEN_PREFIX as TOKEN_PREFIX;

/// Issues the host's agent token, replacing (and so invalidating) the one it had.
pub async fn create(state: &AppState, host: &str, author: &Author) -> EditResult<IssuedToken> {
    let (token, hash) = secret::new(TOKEN_PREFIX)?;
    let now = now_millis();
    let mut tx = state.db.write().await?;
    let row = lookup::real_server_host(&mut tx, host).await?;
    real_server_hosts::set_token(&mut tx, row.id, &hash, now).await?;
    let action = "real_server_host_token_created";
    audit(&mut tx, author, action, target(&row), String::new()).await?;
    tx.commit().await?;
    tracing::info!(host = %row.name, "real-server host agent token created");
    Ok(IssuedToken {
        token,
        created_at: now,
    })
}

/// Revokes the host's agent token: its agent is refused from now on, and a long-poll it
/// holds ends. Whether it had one.
pub async fn revoke(state: &AppState, host: &str, author: &Author) -> EditResult<bool> {
    let mut tx = state.db.write().await?;
    let row = lookup::real_server_host(&mut tx, host).await?;
    let revoked = real_server_hosts::revoke_token(&mut tx, row.id).await?;
    if revoked {
        let action = "real_server_host_token_revoked";
        audit(&mut tx, author, action, target(&row), String::new()).await?;
        tx.commit().await?;
        tracing::info!(host = %row.name, "real-server host agent token revoked");
    }
    Ok(revoked)
}

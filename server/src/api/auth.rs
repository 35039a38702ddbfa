//! The extractors that authenticate an agent's request: a director's agent with its
//! director's token ([`Agent`], see [`crate::edit::tokens`] for their form), a real-server
//! host's agent with its host's ([`RealServerAgent`], see [`crate::edit::host_tokens`]).
//! Each takes only its own kind of token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::access::secret;
use crate::db::agent_tokens::TokenOwner;
use crate::db::real_server_hosts::HostOwner;
use crate::db::{now_millis, Db};
use crate::edit::host_tokens::TOKEN_PREFIX as HOST_TOKEN_PREFIX;
use crate::edit::tokens::TOKEN_PREFIX;
use crate::state::AppState;

/// The director (and so the cluster) whose agent sent the request. Extracting it answers
/// 401 for a missing, malformed, unknown or revoked token, logging the remote address (never
/// the token), and counts the request as the director's heartbeat.
#[derive(Debug, Clone)]
pub struct Agent(pub TokenOwner, TokenHash);

/// The SHA-256 of the token that authenticated the request.
#[derive(Clone)]
struct TokenHash([u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let refuse = refusal(
            parts,
            "POST /api/v1/clusters/{cluster}/directors/{director}/token",
        );
        let token = bearer(parts, &refuse)?;
        if token.starts_with(HOST_TOKEN_PREFIX) {
            return Err(refuse(
                "the bearer token is a real-server host's (lvsr_), which opens only \
                 /api/v1/agent/real-server; a director's agent needs its director's token",
            ));
        }
        if !secret::well_formed(TOKEN_PREFIX, token) {
            return Err(refuse(
                "the bearer token is malformed (expected lvsa_ and 64 hex digits)",
            ));
        }
        // Cached: revoking, replacing or deleting invalidates it before the call returns.
        let owner = state.db.token_owner(&secret::hash(token)).await?;
        let Some(owner) = owner else {
            return Err(refuse(
                "the agent token is unknown: it was revoked, replaced by a newer one, or \
                 its director was deleted",
            ));
        };
        state.agents.seen(owner.director_id, now_millis());
        Ok(Agent(owner, TokenHash(secret::hash(token))))
    }
}

/// A 401 for `reason`, logged with the remote address (never the token); `issued_by` is
/// the call that creates the right token.
fn refusal<'a>(parts: &'a Parts, issued_by: &'a str) -> impl Fn(&str) -> ApiError + 'a {
    let remote = parts
        .extensions
        .get::<crate::client::ClientAddr>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string());
    move |reason: &str| {
        tracing::warn!(%remote, path = parts.uri.path(), reason, "agent authentication failed");
        ApiError::Unauthorized(format!(
            "{reason}; agents authenticate with `Authorization: Bearer <token>`, a token \
             created by {issued_by}"
        ))
    }
}

/// The request's bearer token.
fn bearer<'a>(parts: &'a Parts, refuse: &impl Fn(&str) -> ApiError) -> Result<&'a str, ApiError> {
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        return Err(refuse("the request has no Authorization header"));
    };
    header
        .to_str()
        .ok()
        .and_then(secret::bearer)
        .ok_or_else(|| refuse("the Authorization header is not `Bearer <token>`"))
}

/// The real-server host whose agent (`lvs-agent --role real-server`) sent the request.
/// Extracting it answers 401 for a missing, malformed, unknown or revoked token, and for a
/// director's token; it counts the request as the host's heartbeat.
#[derive(Debug, Clone)]
pub struct RealServerAgent(pub HostOwner, TokenHash);

impl FromRequestParts<AppState> for RealServerAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let refuse = refusal(parts, "POST /api/v1/real-server-hosts/{host}/token");
        let token = bearer(parts, &refuse)?;
        if token.starts_with(TOKEN_PREFIX) {
            return Err(refuse(
                "the bearer token is a director's agent token (lvsa_); a real-server host's \
                 agent needs its host's token (lvsr_)",
            ));
        }
        if !secret::well_formed(HOST_TOKEN_PREFIX, token) {
            return Err(refuse(
                "the bearer token is malformed (expected lvsr_ and 64 hex digits)",
            ));
        }
        // Cached: revoking, replacing or deleting invalidates it before the call returns.
        let hash = secret::hash(token);
        let Some(owner) = state.db.host_token_owner(&hash).await? else {
            return Err(refuse(
                "the agent token is unknown: it was revoked, replaced by a newer one, or \
                 its real-server host was deleted",
            ));
        };
        state.agents.host_seen(owner.host_id, now_millis());
        Ok(RealServerAgent(owner, TokenHash(hash)))
    }
}

impl RealServerAgent {
    /// 401 unless the token still belongs to the same host: a long-poll checks it again
    /// whenever [`Db::host_token_owners_changed`] fires.
    pub async fn check_still_valid(&self, db: &Db) -> Result<(), ApiError> {
        let owner = db.host_token_owner(&self.1 .0).await?;
        if owner.is_some_and(|o| o.host_id == self.0.host_id) {
            return Ok(());
        }
        Err(ApiError::Unauthorized(format!(
            "the agent token of real-server host {} was revoked, replaced by a newer one, or \
             the host was deleted while this request waited",
            self.0.host
        )))
    }
}

impl Agent {
    /// 401 unless the token still belongs to the same director: a request held open (a
    /// long-poll) checks it again whenever [`crate::db::Db::token_owners_changed`] fires.
    pub async fn check_still_valid(&self, db: &Db) -> Result<(), ApiError> {
        let owner = db.token_owner(&self.1 .0).await?;
        if owner.is_some_and(|o| o.director_id == self.0.director_id) {
            return Ok(());
        }
        Err(ApiError::Unauthorized(format!(
            "the agent token of director {} of cluster {} was revoked, replaced by a newer \
             one, or its director was deleted while this request waited",
            self.0.director, self.0.cluster
        )))
    }

    /// 403 unless the names the agent says it is for are the token's.
    pub fn check_scope(
        &self,
        cluster: Option<&str>,
        director: Option<&str>,
    ) -> Result<(), ApiError> {
        let owner = &self.0;
        if let Some(cluster) = cluster.filter(|c| *c != owner.cluster) {
            return Err(ApiError::Forbidden(format!(
                "this token belongs to director {} of cluster {}, not to cluster {cluster}",
                owner.director, owner.cluster
            )));
        }
        if let Some(director) = director.filter(|d| *d != owner.director) {
            return Err(ApiError::Forbidden(format!(
                "this token belongs to director {} of cluster {}, not to director {director}",
                owner.director, owner.cluster
            )));
        }
        Ok(())
    }
}

//! `/api/v1/clusters/{cluster}/directors/{director}/token`: the director's agent token.

use super::extract::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiResult, Problem};
use super::extract::Path;
use crate::edit;
use crate::resources::timestamp;
use crate::state::AppState;

/// A new agent token. It is shown only in this answer: the server keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentToken {
    /// `lvsa_` and 64 hex digits; the agent sends it as `Authorization: Bearer <token>`.
    pub token: String,
    pub director: String,
    pub cluster: String,
    pub created_at: String,
}

/// Create the director's agent token, replacing (and so invalidating) the one it had.
#[utoipa::path(post, operation_id = "createAgentToken", path = "/api/v1/clusters/{cluster}/directors/{director}/token",
    tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path)),
    responses((status = 201, body = AgentToken), (status = 404, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let issued = edit::tokens::create(&state, &cluster, &name, &caller.author).await?;
    let location = format!("/api/v1/clusters/{cluster}/directors/{name}/token");
    let body = AgentToken {
        token: issued.token,
        director: name,
        cluster,
        created_at: timestamp(issued.created_at),
    };
    Ok(super::response::secret_created(body, &location))
}

/// Revoke the director's agent token (if it has one): its agent is refused from now on.
#[utoipa::path(delete, operation_id = "revokeAgentToken", path = "/api/v1/clusters/{cluster}/directors/{director}/token",
    tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    edit::tokens::revoke(&state, &cluster, &name, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

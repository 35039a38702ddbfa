//! Liveness and readiness probes.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, operation_id = "checkLiveness", path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers reads and commits a write; load balancers should send traffic
/// only when this is 200.
#[utoipa::path(get, operation_id = "checkReadiness", path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if let Err(error) = state.db.ping().await {
        tracing::warn!(%error, "readiness check failed");
        return Err(ApiError::Unavailable("the database does not answer".into()));
    }
    if !state.db.writes().await {
        return Err(ApiError::Unavailable(
            "the database does not accept writes (see the server's log)".into(),
        ));
    }
    Ok(Json(Health { status: "ok" }))
}

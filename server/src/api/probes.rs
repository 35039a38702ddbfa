//! Liveness and readiness probes.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeAnswer {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, operation_id = "checkLiveness", path = "/healthz", tag = "probes", responses((status = 200, body = ProbeAnswer)))]
pub async fn healthz() -> Json<ProbeAnswer> {
    Json(ProbeAnswer { status: "ok" })
}

/// The database answers reads and commits a write; load balancers should send traffic
/// only when this is 200.
#[utoipa::path(get, operation_id = "checkReadiness", path = "/readyz", tag = "probes",
    responses((status = 200, body = ProbeAnswer), (status = 503, body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeAnswer>, ApiError> {
    if let Err(error) = state.db.ping().await {
        tracing::warn!(%error, "readiness check failed");
        return Err(ApiError::Unavailable("the database does not answer".into()));
    }
    if !state.db.writes().await {
        return Err(ApiError::Unavailable(
            "the database does not accept writes (see the server's log)".into(),
        ));
    }
    Ok(Json(ProbeAnswer { status: "ok" }))
}

//! Real servers' health as the directors' agents report it: per service, and each
//! cluster's history of changes.

use axum::extract::State;
use lvs_model::Health;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::{directors, health_events, real_servers};
use crate::edit::lookup;
use crate::resources::health::ServiceHealthView;
use crate::resources::timestamp;
use crate::state::AppState;

/// The most directors a cluster's health view lists.
const MAX_DIRECTORS: i64 = 10_000;

/// Get a service's health on every director of its cluster: per real server where it is up
/// and where down, since when and why; per director how many real servers serve, whether
/// the service is degraded (below `min_healthy`) and whether its sorry server stands in.
/// Kept in memory: a director is `reported: false` until its agent reports after a server
/// restart (within a minute).
#[utoipa::path(get, operation_id = "getServiceHealth", path = "/api/v1/clusters/{cluster}/services/{service}/health",
    tag = "health checks",
    params(("cluster" = String, Path), ("service" = i64, Path)),
    responses((status = 200, body = ServiceHealthView), (status = 404, body = Problem)))]
pub async fn service(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let service = lookup::service(&mut tx, &cluster, id).await?;
    let servers = real_servers::list(&mut tx, service.id, None, None, 0, i64::MAX).await?;
    let rows = directors::list(&mut tx, cluster.id, None, None, MAX_DIRECTORS).await?;
    drop(tx);
    let directors: Vec<_> = rows
        .into_iter()
        .map(|d| {
            let health = state.agents.health.of_director(d.id);
            (d, health)
        })
        .collect();
    let view = ServiceHealthView::new(&cluster.name, &service, &servers, &directors);
    let size = 300 * servers.len() * (directors.len() + 1) + 512;
    Ok(Tagged::ok_sized(view, size))
}

/// A change of a real server's health on a director.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthEvent {
    pub id: i64,
    pub director: String,
    /// The service key.
    pub service: String,
    pub real_server: String,
    pub health: Health,
    /// Why it went down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the director saw it.
    pub at: String,
}

/// List a cluster's health events (real servers going down and up on each director), newest
/// first; the newest 2,000 are kept.
#[utoipa::path(get, operation_id = "listHealthEvents", path = "/api/v1/clusters/{cluster}/health-events",
    tag = "health checks",
    params(("cluster" = String, Path), PageParams),
    responses((status = 200, body = Page<HealthEvent>), (status = 400, body = Problem),
              (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<Page<HealthEvent>>> {
    let (limit, before) = (paging.limit()?, paging.before_id()?);
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let rows = health_events::list(&mut tx, cluster.id, None, before, limit + 1).await?;
    page(
        rows,
        limit,
        |row| row.id.to_string(),
        |row| {
            Ok(HealthEvent {
                id: row.id,
                director: row.director,
                service: row.service_key,
                real_server: row.real_server,
                health: row.health,
                reason: row.reason,
                at: timestamp(row.at),
            })
        },
    )
    .map(axum::Json)
}

//! Statistics reported by agents: a director's latest report, and a service's history
//! summed over its cluster's directors.

use axum::extract::State;
use lvs_model::agent::StatsReport;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::Tagged;
use crate::agents::stats::Resolution;
use crate::edit::lookup;
use crate::resources::timestamp;
use crate::state::AppState;

/// A director's latest statistics report.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorStats {
    pub director: String,
    pub cluster: String,
    /// When the server received the report.
    pub received_at: String,
    #[serde(flatten)]
    pub report: StatsReport,
}

/// Get the latest statistics the director's agent reported (kept in memory: none until
/// the agent reports after a server restart).
#[utoipa::path(get, operation_id = "getDirectorStats", path = "/api/v1/clusters/{cluster}/directors/{director}/stats",
    tag = "statistics",
    params(("cluster" = String, Path), ("director" = String, Path)),
    responses((status = 200, body = DirectorStats), (status = 404, body = Problem)))]
pub async fn director(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let director = lookup::director(&mut tx, &cluster, &name).await?;
    drop(tx);
    let Some(latest) = state.agents.stats.latest(director.id) else {
        return Err(ApiError::NotFound(format!(
            "director {} of cluster {} has not reported statistics yet",
            director.name, cluster.name
        )));
    };
    let size = 2000 * latest.report.services.len() + 256;
    let body = DirectorStatsView {
        director: &director.name,
        cluster: &cluster.name,
        received_at: timestamp(latest.received_at),
        report: &latest.report,
    };
    Ok(Tagged::ok_sized(body, size))
}

/// [`DirectorStats`] without copying the report.
#[derive(Serialize)]
struct DirectorStatsView<'a> {
    director: &'a str,
    cluster: &'a str,
    received_at: String,
    #[serde(flatten)]
    report: &'a StatsReport,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
pub enum HistoryResolution {
    /// One point per 10 seconds, for the last hour.
    #[serde(rename = "10s")]
    TenSeconds,
    /// One point per minute (the mean of its 10-second points), for the last day.
    #[serde(rename = "1m")]
    OneMinute,
    /// One point per 15 minutes (the mean of its 1-minute points), for the last 7 days.
    #[serde(rename = "15m")]
    FifteenMinutes,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `10s` (default; the last hour), `1m` (the last day) or `15m` (the last 7 days).
    #[param(value_type = Option<HistoryResolution>)]
    pub resolution: Option<HistoryResolution>,
}

/// A service's statistics over time, summed over its cluster's directors.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHistory {
    pub cluster: String,
    pub service: i64,
    pub key: String,
    pub resolution: HistoryResolution,
    /// Seconds each point covers.
    pub interval_seconds: f64,
    /// Oldest first; intervals in which no director reported the service are absent.
    pub points: Vec<HistoryPoint>,
}

/// One interval of a service's history: the sum over the directors that reported it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPoint {
    /// Start of the interval.
    pub timestamp: String,
    pub connections_per_second: f64,
    pub packets_in_per_second: f64,
    pub packets_out_per_second: f64,
    pub bytes_in_per_second: f64,
    pub bytes_out_per_second: f64,
    /// Active connections of the service's real servers.
    pub active_connections: f64,
}

/// Get a service's statistics history: 10-second points for the last hour, 1-minute points
/// for the last day or 15-minute points for the last 7 days, summed over the cluster's
/// directors (saved every minute, so a restart loses at most the last minute).
#[utoipa::path(get, operation_id = "getServiceStatsHistory", path = "/api/v1/clusters/{cluster}/services/{service}/stats/history",
    tag = "statistics",
    params(("cluster" = String, Path), ("service" = i64, Path), HistoryParams),
    responses((status = 200, body = ServiceHistory), (status = 400, body = Problem),
              (status = 404, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    Query(params): Query<HistoryParams>,
) -> ApiResult<axum::Json<ServiceHistory>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let service = lookup::service(&mut tx, &cluster, id).await?;
    drop(tx);
    let resolution = params.resolution.unwrap_or(HistoryResolution::TenSeconds);
    let kind = match resolution {
        HistoryResolution::TenSeconds => Resolution::Fine,
        HistoryResolution::OneMinute => Resolution::Coarse,
        HistoryResolution::FifteenMinutes => Resolution::Week,
    };
    let stats = &state.agents.stats;
    let mut points = Vec::with_capacity(kind.points());
    for point in stats.history(cluster.id, &service.service_key, kind) {
        let [cps, pin, pout, bin, bout, active] = point.values.map(round);
        points.push(HistoryPoint {
            timestamp: timestamp(point.at),
            connections_per_second: cps,
            packets_in_per_second: pin,
            packets_out_per_second: pout,
            bytes_in_per_second: bin,
            bytes_out_per_second: bout,
            active_connections: active,
        });
    }
    Ok(axum::Json(ServiceHistory {
        cluster: cluster.name,
        service: service.id,
        key: service.service_key,
        resolution,
        interval_seconds: stats.step_millis(kind) as f64 / 1000.0,
        points,
    }))
}

/// Two decimals: the values are sums of integers or means of a few of them.
fn round(value: f32) -> f64 {
    (f64::from(value) * 100.0).round() / 100.0
}

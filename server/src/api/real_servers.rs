//! `/api/v1/clusters/{cluster}/services/{service}/real-servers`: where a service sends
//! connections.

use super::extract::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::RealServerSpec;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::error::{ApiResult, Problem};
use super::extract::{canonical_address, query_value, IfMatch, Json, Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::real_servers::{self};
use crate::edit;
use crate::edit::lookup;
use crate::resources::RealServer;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RealServerFilter {
    /// Real server address, in any valid notation.
    #[param(schema_with = super::extract::ip_address_schema)]
    pub address: Option<String>,
    /// 0-65535 (0: the port of a fwmark service's real server).
    #[param(minimum = 0, maximum = 65535)]
    pub port: Option<i64>,
}

type ServicePath = (String, i64);
type RealServerPath = (String, i64, i64);

/// List a service's real servers, by id.
#[utoipa::path(get, operation_id = "listRealServers", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), PageParams, RealServerFilter),
    responses((status = 200, body = Page<RealServer>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Path((cluster, service)): Path<ServicePath>,
    Query(paging): Query<PageParams>,
    Query(filter): Query<RealServerFilter>,
) -> ApiResult<axum::Json<Page<RealServer>>> {
    let (limit, after) = (paging.limit()?, paging.after_id()?);
    let address = canonical_address(filter.address.as_deref())?;
    if let Some(port) = filter.port {
        let in_range = u16::try_from(port).is_ok();
        query_value(
            "port",
            in_range
                .then_some(())
                .ok_or_else(|| format!("must be between 0 and 65535, not {port}")),
        )?;
    }
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let rows = real_servers::list(
        &mut tx,
        service.id,
        address.as_deref(),
        filter.port,
        after,
        limit + 1,
    )
    .await?;
    page(
        rows,
        limit,
        |row| row.id.to_string(),
        |row| Ok(RealServer::from(&row)),
    )
    .map(axum::Json)
}

/// Add a real server to a service.
#[utoipa::path(post, operation_id = "createRealServer", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path)), request_body = RealServerSpec,
    responses((status = 201, body = RealServer), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service)): Path<ServicePath>,
    Json(spec): Json<RealServerSpec>,
) -> ApiResult<Tagged> {
    let row = edit::real_servers::create(&state, &cluster, service, &spec, &caller.author)
        .await?
        .value;
    let location = format!(
        "/api/v1/clusters/{cluster}/services/{service}/real-servers/{}",
        row.id
    );
    Ok(Tagged::created(RealServer::from(&row), location))
}

/// Get a real server.
#[utoipa::path(get, operation_id = "getRealServer", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path)),
    responses((status = 200, body = RealServer), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path((cluster, service, id)): Path<RealServerPath>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let row = lookup::real_server(&mut tx, &service, id).await?;
    Ok(Tagged::ok(RealServer::from(&row)))
}

/// Replace a real server; a weight change keeps its connections.
#[utoipa::path(put, operation_id = "replaceRealServer", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = RealServerSpec,
    responses((status = 200, body = RealServer), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    if_match: IfMatch,
    Json(spec): Json<RealServerSpec>,
) -> ApiResult<Tagged> {
    let row = edit::real_servers::replace(
        &state,
        &cluster,
        service,
        id,
        spec,
        &if_match,
        &caller.author,
    )
    .await?
    .value;
    Ok(Tagged::ok(RealServer::from(&row)))
}

/// Change some of a real server's fields (JSON merge patch), e.g. `{"weight": 5}`.
#[utoipa::path(patch, operation_id = "patchRealServer", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    request_body(content = RealServerSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = RealServer), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row = edit::real_servers::merge_patch(
        &state,
        &cluster,
        service,
        id,
        &changes,
        &if_match,
        &caller.author,
    )
    .await?
    .value;
    Ok(Tagged::ok(RealServer::from(&row)))
}

/// Drain a real server: weight 0 in the kernel, so no new connections while existing
/// ones finish; its configured weight is kept.
#[utoipa::path(post, operation_id = "drainRealServer",
    path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/drain",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = RealServer), (status = 404, body = Problem),
              (status = 412, body = Problem)))]
pub async fn drain(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    if_match: IfMatch,
) -> ApiResult<Tagged> {
    let row = edit::real_servers::drain(&state, &cluster, service, id, &if_match, &caller.author)
        .await?
        .value;
    Ok(Tagged::ok(RealServer::from(&row)))
}

/// Restore a drained real server to its configured weight.
#[utoipa::path(post, operation_id = "restoreRealServer",
    path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/restore",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = RealServer), (status = 404, body = Problem),
              (status = 412, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    if_match: IfMatch,
) -> ApiResult<Tagged> {
    let row = edit::real_servers::restore(&state, &cluster, service, id, &if_match, &caller.author)
        .await?
        .value;
    Ok(Tagged::ok(RealServer::from(&row)))
}

/// Remove a real server from its service.
#[utoipa::path(delete, operation_id = "deleteRealServer", path = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}",
    tag = "real servers",
    params(("cluster" = String, Path), ("service" = i64, Path), ("id" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    edit::real_servers::delete(&state, &cluster, service, id, &if_match, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/clusters/{cluster}/services`: virtual services.

use super::extract::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::ServiceSpec;
use lvs_model::{Fwmark, Port, Protocol};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::error::{ApiResult, Problem};
use super::extract::{canonical_address, query_value, IfMatch, Json, Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::services::{self};
use crate::edit;
use crate::edit::lookup;
use crate::resources::Service;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceFilter {
    pub protocol: Option<Protocol>,
    /// Virtual address, in any valid notation.
    #[param(schema_with = super::extract::ip_address_schema)]
    pub address: Option<String>,
    /// 1-65535.
    #[param(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    /// 1-4294967295.
    #[param(minimum = 1, maximum = 4294967295_i64)]
    pub fwmark: Option<i64>,
    /// Only services whose name contains this.
    pub name: Option<String>,
}

/// List a cluster's services, by id.
#[utoipa::path(get, operation_id = "listServices", path = "/api/v1/clusters/{cluster}/services", tag = "services",
    params(("cluster" = String, Path), PageParams, ServiceFilter),
    responses((status = 200, body = Page<Service>), (status = 400, body = Problem),
              (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Query(paging): Query<PageParams>,
    Query(filter): Query<ServiceFilter>,
) -> ApiResult<axum::Json<Page<Service>>> {
    let (limit, after) = (paging.limit()?, paging.after_id()?);
    let address = canonical_address(filter.address.as_deref())?;
    if let Some(port) = filter.port {
        query_value("port", Port::parse(port))?;
    }
    if let Some(fwmark) = filter.fwmark {
        query_value("fwmark", Fwmark::parse(fwmark))?;
    }
    let filter = services::Filter {
        protocol: filter.protocol.map(|p| p.as_str()),
        address: address.as_deref(),
        port: filter.port,
        fwmark: filter.fwmark,
        name_contains: filter.name.as_deref(),
    };
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let rows = services::list(&mut tx, cluster.id, &filter, after, limit + 1).await?;
    page(
        rows,
        limit,
        |row| row.id.to_string(),
        |row| Ok(Service::new(&row, &cluster.name)),
    )
    .map(axum::Json)
}

/// Create a service, optionally with its `real_servers`, in one change.
#[utoipa::path(post, operation_id = "createService", path = "/api/v1/clusters/{cluster}/services", tag = "services",
    params(("cluster" = String, Path)), request_body = ServiceSpec,
    responses((status = 201, body = Service), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    Json(spec): Json<ServiceSpec>,
) -> ApiResult<Tagged> {
    let row = edit::services::create(&state, &cluster, &spec, &caller.author)
        .await?
        .value;
    let location = format!("/api/v1/clusters/{cluster}/services/{}", row.id);
    Ok(Tagged::created(Service::new(&row, &cluster), location))
}

/// Get a service.
#[utoipa::path(get, operation_id = "getService", path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services",
    params(("cluster" = String, Path), ("service" = i64, Path)),
    responses((status = 200, body = Service), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::service(&mut tx, &cluster, id).await?;
    Ok(Tagged::ok(Service::new(&row, &cluster.name)))
}

/// Replace a service's settings; the kernel edits it in place, keeping connections.
#[utoipa::path(put, operation_id = "replaceService", path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services",
    params(("cluster" = String, Path), ("service" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = ServiceSpec,
    responses((status = 200, body = Service), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, id)): Path<(String, i64)>,
    if_match: IfMatch,
    Json(spec): Json<ServiceSpec>,
) -> ApiResult<Tagged> {
    let row = edit::services::replace(&state, &cluster, id, spec, &if_match, &caller.author)
        .await?
        .value;
    Ok(Tagged::ok(Service::new(&row, &cluster)))
}

/// Change some of a service's settings (JSON merge patch).
#[utoipa::path(patch, operation_id = "patchService", path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services",
    params(("cluster" = String, Path), ("service" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    request_body(content = ServiceSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Service), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem),
              (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, id)): Path<(String, i64)>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row =
        edit::services::merge_patch(&state, &cluster, id, &changes, &if_match, &caller.author)
            .await?
            .value;
    Ok(Tagged::ok(Service::new(&row, &cluster)))
}

/// Delete a service and its real servers.
#[utoipa::path(delete, operation_id = "deleteService", path = "/api/v1/clusters/{cluster}/services/{service}", tag = "services",
    params(("cluster" = String, Path), ("service" = i64, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, id)): Path<(String, i64)>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    edit::services::delete(&state, &cluster, id, &if_match, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

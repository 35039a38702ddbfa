//! `/api/v1/clusters`: the groups of directors that serve the same services.

use super::extract::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::ClusterSpec;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use super::error::{ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::clusters;
use crate::edit;
use crate::edit::lookup;
use crate::resources::Cluster;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterFilter {
    /// Only clusters whose name contains this.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Delete the cluster even if it still has services (they go with it).
    #[serde(default)]
    pub force: bool,
}

/// List clusters, by name.
#[utoipa::path(get, operation_id = "listClusters", path = "/api/v1/clusters", tag = "clusters",
    params(PageParams, ClusterFilter),
    responses((status = 200, body = Page<Cluster>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Query(paging): Query<PageParams>,
    Query(filter): Query<ClusterFilter>,
) -> ApiResult<axum::Json<Page<Cluster>>> {
    let limit = paging.limit()?;
    let mut tx = state.db.read().await?;
    let rows = clusters::list(
        &mut tx,
        paging.cursor.as_deref(),
        filter.name.as_deref(),
        limit + 1,
    )
    .await?;
    page(
        rows,
        limit,
        |row| row.name.clone(),
        |row| Ok(Cluster::from(&row)),
    )
    .map(axum::Json)
}

/// Create a cluster.
#[utoipa::path(post, operation_id = "createCluster", path = "/api/v1/clusters", tag = "clusters", request_body = ClusterSpec,
    responses((status = 201, body = Cluster), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(spec): Json<ClusterSpec>,
) -> ApiResult<Tagged> {
    let row = edit::clusters::create(&state, &spec, &caller.author).await?;
    let location = format!("/api/v1/clusters/{}", row.name);
    Ok(Tagged::created(Cluster::from(&row), location))
}

/// Get a cluster.
#[utoipa::path(get, operation_id = "getCluster", path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path)),
    responses((status = 200, body = Cluster), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let row = lookup::cluster(&mut tx, &name).await?;
    Ok(Tagged::ok(Cluster::from(&row)))
}

/// Replace a cluster's description and timeouts (its name cannot change).
#[utoipa::path(put, operation_id = "replaceCluster", path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = ClusterSpec,
    responses((status = 200, body = Cluster), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    if_match: IfMatch,
    Json(spec): Json<ClusterSpec>,
) -> ApiResult<Tagged> {
    let row = edit::clusters::replace(&state, &name, spec, &if_match, &caller.author)
        .await?
        .value;
    Ok(Tagged::ok(Cluster::from(&row)))
}

/// Change some of a cluster's fields (JSON merge patch).
#[utoipa::path(patch, operation_id = "patchCluster", path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = ClusterSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Cluster), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row = edit::clusters::merge_patch(&state, &name, &changes, &if_match, &caller.author)
        .await?
        .value;
    Ok(Tagged::ok(Cluster::from(&row)))
}

/// Delete a cluster; one that still has services needs `?force=true`.
#[utoipa::path(delete, operation_id = "deleteCluster", path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), DeleteParams),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    if_match: IfMatch,
    Query(params): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    edit::clusters::delete(&state, &name, params.force, &if_match, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

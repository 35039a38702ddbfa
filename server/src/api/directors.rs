//! `/api/v1/clusters/{cluster}/directors`: the hosts that program a cluster's services.

use super::extract::Caller;
use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::DirectorSpec;
use serde_json::Value;
use sqlx::SqliteConnection;

use super::clusters::ClusterFilter;
use super::error::{ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::clusters::ClusterRow;
use crate::db::director_status::{self, StatusRow};
use crate::db::{directors, directors::DirectorRow, now_millis};
use crate::edit;
use crate::edit::lookup;
use crate::resources::{director_etag, Director};
use crate::state::AppState;

/// A director with its status, answered with its ETag.
async fn tagged(
    conn: &mut SqliteConnection,
    state: &AppState,
    cluster: &ClusterRow,
    row: &DirectorRow,
    created: Option<String>,
) -> ApiResult<Tagged> {
    let status = director_status::of_cluster(conn, cluster.id, Some(row.id)).await?;
    let director = Director::new(row, cluster, status.first(), &state.agents, now_millis());
    let tag = director_etag(row, &cluster.name);
    Ok(match created {
        Some(location) => Tagged::created(director, location),
        None => Tagged::ok(director),
    }
    .with_etag(tag))
}

/// List a cluster's directors, by name.
#[utoipa::path(get, operation_id = "listDirectors", path = "/api/v1/clusters/{cluster}/directors", tag = "directors",
    params(("cluster" = String, Path), PageParams, ClusterFilter),
    responses((status = 200, body = Page<Director>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Query(paging): Query<PageParams>,
    Query(filter): Query<ClusterFilter>,
) -> ApiResult<axum::Json<Page<Director>>> {
    let limit = paging.limit()?;
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let rows = directors::list(
        &mut tx,
        cluster.id,
        paging.cursor.as_deref(),
        filter.name.as_deref(),
        limit + 1,
    )
    .await?;
    let statuses: HashMap<i64, StatusRow> = director_status::of_cluster(&mut tx, cluster.id, None)
        .await?
        .into_iter()
        .map(|s| (s.director_id, s))
        .collect();
    let now = now_millis();
    page(
        rows,
        limit,
        |row| row.name.clone(),
        |row| {
            let status = statuses.get(&row.id);
            Ok(Director::new(&row, &cluster, status, &state.agents, now))
        },
    )
    .map(axum::Json)
}

/// Add a director to a cluster.
#[utoipa::path(post, operation_id = "createDirector", path = "/api/v1/clusters/{cluster}/directors", tag = "directors",
    params(("cluster" = String, Path)), request_body = DirectorSpec,
    responses((status = 201, body = Director), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    let row = edit::directors::create(&state, &cluster, &spec, &caller.author).await?;
    let location = format!("/api/v1/clusters/{cluster}/directors/{}", row.name);
    answer(&state, &cluster, &row, Some(location)).await
}

/// Get a director.
#[utoipa::path(get, operation_id = "getDirector", path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path)),
    responses((status = 200, body = Director), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &name).await?;
    tagged(&mut tx, &state, &cluster, &row, None).await
}

/// Replace a director's description (its name cannot change).
#[utoipa::path(put, operation_id = "replaceDirector", path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = DirectorSpec,
    responses((status = 200, body = Director), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    let row =
        edit::directors::replace(&state, &cluster, &name, spec, &if_match, &caller.author).await?;
    answer(&state, &cluster, &row, None).await
}

/// Change some of a director's fields (JSON merge patch).
#[utoipa::path(patch, operation_id = "patchDirector", path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body(content = DirectorSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Director), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row =
        edit::directors::merge_patch(&state, &cluster, &name, &changes, &if_match, &caller.author)
            .await?;
    answer(&state, &cluster, &row, None).await
}

/// An edited director with its status, read after the edit committed.
async fn answer(
    state: &AppState,
    cluster: &str,
    row: &DirectorRow,
    created: Option<String>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    tagged(&mut tx, state, &cluster, row, created).await
}

/// Remove a director from its cluster.
#[utoipa::path(delete, operation_id = "deleteDirector", path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    edit::directors::delete(&state, &cluster, &name, &if_match, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `/api/v1/clusters/{cluster}/directors`: the hosts that program a cluster's services.

use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::DirectorSpec;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::clusters::ClusterFilter;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::{etag, page, timestamp, Page, PageParams, Tagged};
use super::{lookup, patch, AppState};
use crate::db::{self, directors, directors::DirectorRow, now_millis};

/// A director as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Director {
    pub name: String,
    pub cluster: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Director {
    fn new(row: &DirectorRow, cluster: &str) -> Self {
        Director {
            name: row.name.clone(),
            cluster: cluster.to_owned(),
            description: row.description.clone(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// List a cluster's directors, by name.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/directors", tag = "directors",
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
    page(
        rows,
        limit,
        |row| row.name.clone(),
        |row| Ok(Director::new(&row, &cluster.name)),
    )
    .map(axum::Json)
}

/// Add a director to a cluster.
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/directors", tag = "directors",
    params(("cluster" = String, Path)), request_body = DirectorSpec,
    responses((status = 201, body = Director), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    let settings = spec.parse()?;
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = match directors::insert(&mut tx, cluster.id, &settings, now_millis()).await {
        Err(e) if db::is_unique_violation(&e) => {
            return Err(ApiError::already_exists(format!(
                "director {} in cluster {}",
                settings.name, cluster.name
            )))
        }
        result => result?,
    };
    tx.commit().await?;
    let location = format!("/api/v1/clusters/{}/directors/{}", cluster.name, row.name);
    Ok(Tagged::created(
        Director::new(&row, &cluster.name),
        location,
    ))
}

/// Get a director.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path)),
    responses((status = 200, body = Director), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &name).await?;
    Ok(Tagged::ok(Director::new(&row, &cluster.name)))
}

/// Replace a director's description (its name cannot change).
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body = DirectorSpec,
    responses((status = 200, body = Director), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    update(state, cluster, name, if_match, |_| Ok(spec)).await
}

/// Change some of a director's fields (JSON merge patch).
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    request_body(content = DirectorSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Director), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    update(state, cluster, name, if_match, |current| {
        patch::merge(&current, &changes)
    })
    .await
}

async fn update(
    state: AppState,
    cluster: String,
    name: String,
    if_match: IfMatch,
    edit: impl FnOnce(DirectorSpec) -> ApiResult<DirectorSpec>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &name).await?;
    if_match.check(&etag(&Director::new(&row, &cluster.name)))?;
    let current = DirectorSpec {
        name: Some(row.name.clone()),
        description: row.description.clone(),
    };
    let mut spec = edit(current)?;
    match &spec.name {
        Some(new) if *new != row.name => {
            return Err(ApiError::invalid("name", "cannot be changed"))
        }
        _ => spec.name = Some(row.name.clone()),
    }
    let settings = spec.parse()?;
    directors::update_description(&mut tx, row.id, settings.description.as_str(), now_millis())
        .await?;
    let row = lookup::director(&mut tx, &cluster, &name).await?;
    tx.commit().await?;
    Ok(Tagged::ok(Director::new(&row, &cluster.name)))
}

/// Remove a director from its cluster.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster}/directors/{director}", tag = "directors",
    params(("cluster" = String, Path), ("director" = String, Path),
           ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &name).await?;
    if_match.check(&etag(&Director::new(&row, &cluster.name)))?;
    directors::delete(&mut tx, row.id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

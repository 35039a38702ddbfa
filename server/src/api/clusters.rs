//! `/api/v1/clusters`: the groups of directors that serve the same services.

use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::spec::{ClusterSpec, TimeoutsSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::{etag, page, timestamp, Page, PageParams, Tagged};
use super::{lookup, patch, AppState};
use crate::db::{self, clusters, clusters::ClusterRow, now_millis, services};

/// A cluster as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cluster {
    pub name: String,
    pub description: String,
    /// Connection timeouts every director applies; unset ones are left as they are.
    pub timeouts: TimeoutsSpec,
    /// Generation of the desired state, bumped by every change to it; 0 = never set.
    pub generation: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ClusterRow> for Cluster {
    fn from(row: &ClusterRow) -> Self {
        Cluster {
            name: row.name.clone(),
            description: row.description.clone(),
            timeouts: row.timeouts_spec(),
            generation: row.generation(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

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
#[utoipa::path(get, path = "/api/v1/clusters", tag = "clusters",
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
#[utoipa::path(post, path = "/api/v1/clusters", tag = "clusters", request_body = ClusterSpec,
    responses((status = 201, body = Cluster), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    Json(spec): Json<ClusterSpec>,
) -> ApiResult<Tagged> {
    let settings = spec.parse()?;
    let mut tx = state.db.write().await?;
    let row = match clusters::insert(&mut tx, &settings, now_millis()).await {
        Err(e) if db::is_unique_violation(&e) => {
            return Err(ApiError::already_exists(format!(
                "cluster {}",
                settings.name
            )))
        }
        result => result?,
    };
    tx.commit().await?;
    let location = format!("/api/v1/clusters/{}", row.name);
    Ok(Tagged::created(Cluster::from(&row), location))
}

/// Get a cluster.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path)),
    responses((status = 200, body = Cluster), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let row = lookup::cluster(&mut tx, &name).await?;
    Ok(Tagged::ok(Cluster::from(&row)))
}

/// Replace a cluster's description and timeouts (its name cannot change).
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = ClusterSpec,
    responses((status = 200, body = Cluster), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    if_match: IfMatch,
    Json(spec): Json<ClusterSpec>,
) -> ApiResult<Tagged> {
    update(state, name, if_match, |_| Ok(spec)).await
}

/// Change some of a cluster's fields (JSON merge patch).
#[utoipa::path(patch, path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = ClusterSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = Cluster), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    Path(name): Path<String>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    update(state, name, if_match, |current| {
        patch::merge(&current, &changes)
    })
    .await
}

async fn update(
    state: AppState,
    name: String,
    if_match: IfMatch,
    edit: impl FnOnce(ClusterSpec) -> ApiResult<ClusterSpec>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, &name).await?;
    if_match.check(&etag(&Cluster::from(&row)))?;
    let current = ClusterSpec {
        name: Some(row.name.clone()),
        description: row.description.clone(),
        timeouts: row.timeouts_spec(),
    };
    let mut spec = edit(current)?;
    spec.name = Some(patch::same_name(spec.name, &row.name)?);
    let settings = spec.parse()?;
    let now = now_millis();
    clusters::update(&mut tx, row.id, &settings, now).await?;
    if settings.timeouts != row.timeouts()? {
        clusters::bump_generation(&mut tx, row.id, now).await?;
    }
    let row = lookup::cluster(&mut tx, &name).await?;
    tx.commit().await?;
    Ok(Tagged::ok(Cluster::from(&row)))
}

/// Delete a cluster; one that still has services needs `?force=true`.
#[utoipa::path(delete, path = "/api/v1/clusters/{cluster}", tag = "clusters",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), DeleteParams),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    if_match: IfMatch,
    Query(params): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, &name).await?;
    if_match.check(&etag(&Cluster::from(&row)))?;
    let services = services::count(&mut tx, row.id).await?;
    if services > 0 && !params.force {
        return Err(ApiError::Conflict {
            code: "cluster_not_empty",
            detail: format!(
                "cluster {name} still has {services} services; delete them first, \
                 or delete with ?force=true to remove them with the cluster"
            ),
        });
    }
    let director_ids: Vec<i64> = crate::db::directors::list(&mut tx, row.id, None, None, i64::MAX)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    clusters::delete(&mut tx, row.id).await?;
    tx.commit().await?;
    // Its agents' long-polls end, and nothing of it stays in memory for a cluster that
    // might reuse its id.
    state.db.changes().forget(row.id);
    state.agents.forget_cluster(row.id, &director_ids);
    Ok(StatusCode::NO_CONTENT)
}

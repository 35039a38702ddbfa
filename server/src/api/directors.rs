//! `/api/v1/clusters/{cluster}/directors`: the hosts that program a cluster's services.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use lvs_model::agent::ObjectOutcome;
use lvs_model::spec::DirectorSpec;
use serde::Serialize;
use serde_json::Value;
use sqlx::SqliteConnection;
use utoipa::ToSchema;

use super::clusters::ClusterFilter;
use super::error::{ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::{etag, page, timestamp, Page, PageParams, Tagged};
use super::{lookup, AppState};
use crate::agents::Agents;
use crate::db::clusters::ClusterRow;
use crate::db::director_status::{self, StatusRow};
use crate::db::Generation;
use crate::db::{directors, directors::DirectorRow, now_millis};
use crate::edit;

/// A director as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Director {
    #[serde(flatten)]
    pub settings: DirectorSettings,
    /// When its current agent token was created; null when it has none.
    pub token_created_at: Option<String>,
    /// What its agent last reported. Not part of the director's ETag.
    pub status: DirectorStatus,
}

/// A director's own fields; its ETag is theirs, so heartbeats do not change it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorSettings {
    pub name: String,
    pub cluster: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl DirectorSettings {
    fn new(row: &DirectorRow, cluster: &str) -> Self {
        DirectorSettings {
            name: row.name.clone(),
            cluster: cluster.to_owned(),
            description: row.description.clone(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// Whether a director's kernel holds its cluster's desired state: `in_sync`; `unmanaged`
/// (the cluster's desired state was never set and the director holds services its agent
/// leaves alone: import them or set the desired state); `behind` (the current generation
/// is not applied yet); `error` (some changes of the last report failed); `never_seen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The last report applied the cluster's current generation without errors.
    InSync,
    /// The cluster's desired state was never set (generation 0) and this director holds
    /// services (`unmanaged_services`) that its agent leaves alone: import them
    /// (`POST /api/v1/clusters/{cluster}/import`) or set the desired state. A director at
    /// generation 0 with no services is `in_sync`.
    Unmanaged,
    /// The agent has not reported applying the current generation (yet).
    Behind,
    /// Some changes of the last report failed (see `last_errors`).
    Error,
    /// No agent of this director ever contacted the server.
    NeverSeen,
}

/// A director's agent, as last seen and reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorStatus {
    /// Seen within the online threshold (30 s: three statistics intervals).
    pub online: bool,
    /// The agent's last request of any kind.
    pub last_seen: Option<String>,
    /// The generation the last report applied. An agent's long-poll reports it too
    /// (`applied` in `GET /api/v1/agent/desired-state`).
    pub applied_generation: Option<u64>,
    pub sync: SyncState,
    /// The last report, or the last long-poll that said which generation was applied.
    pub last_report_at: Option<String>,
    /// The failed changes of the latest report that had any (kept after later successes).
    pub last_errors: Vec<ObjectOutcome>,
    pub last_errors_at: Option<String>,
    /// The latest drifts the agent repaired, newest first (at most 50). When one report
    /// repaired more (a flushed table), its last entry counts the rest: object
    /// `"<n> more objects"`.
    pub drift_repaired: Vec<RepairedDrift>,
    pub agent_version: Option<String>,
    pub kernel_version: Option<String>,
    /// Services the agent found and left alone at generation 0; see
    /// `POST /api/v1/clusters/{cluster}/import`.
    pub unmanaged_services: u64,
}

/// A change made behind the agent's back that it undid.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepairedDrift {
    pub object: String,
    pub found: String,
    pub repaired_at: String,
}

impl Director {
    /// The director as shown by the API and the UI.
    pub fn new(
        row: &DirectorRow,
        cluster: &ClusterRow,
        status: Option<&StatusRow>,
        agents: &Agents,
        now: i64,
    ) -> Self {
        let mut status = status.cloned().unwrap_or_default();
        let last_seen = status.last_seen.max(agents.last_seen(row.id));
        // A long-poll after the last report said which generation the agent applied.
        if let Some(applied) = agents
            .last_applied(row.id)
            .filter(|a| status.reported_at.is_none_or(|at| a.at > at))
        {
            status.reported_at = Some(applied.at);
            status.applied_generation = u64::try_from(applied.generation).ok().map(Generation::new);
            status.last_report_ok = Some(true);
        }
        let applied_generation = status.applied_generation.map(Generation::get);
        let unmanaged_services = status
            .unmanaged_services
            .map_or(0, |n| u64::try_from(n).unwrap_or(0));
        let sync = if last_seen.is_none() {
            SyncState::NeverSeen
        } else if status.reported_at.is_none() {
            SyncState::Behind
        } else if status.last_report_ok == Some(false) {
            SyncState::Error
        } else if applied_generation != Some(cluster.generation()) {
            SyncState::Behind
        } else if cluster.generation() == 0 && unmanaged_services > 0 {
            SyncState::Unmanaged
        } else {
            SyncState::InSync
        };
        let last_errors = status.last_errors;
        let drift = status.drift_repaired;
        Director {
            settings: DirectorSettings::new(row, &cluster.name),
            token_created_at: status.token_created_at.map(timestamp),
            status: DirectorStatus {
                online: agents.is_online(last_seen, now),
                last_seen: last_seen.map(timestamp),
                applied_generation,
                sync,
                last_report_at: status.reported_at.map(timestamp),
                last_errors,
                last_errors_at: status.last_errors_at.map(timestamp),
                drift_repaired: drift
                    .into_iter()
                    .map(|d| RepairedDrift {
                        object: d.object,
                        found: d.found,
                        repaired_at: timestamp(d.at),
                    })
                    .collect(),
                agent_version: status.agent_version,
                kernel_version: status.kernel_version,
                unmanaged_services,
            },
        }
    }
}

/// The ETag of a director, as the API and the UI serve it: that of its own fields.
pub fn director_etag(row: &DirectorRow, cluster: &str) -> String {
    etag(&DirectorSettings::new(row, cluster))
}

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
    Path(cluster): Path<String>,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    let row = edit::directors::create(&state, &cluster, &spec).await?;
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
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(spec): Json<DirectorSpec>,
) -> ApiResult<Tagged> {
    let row = edit::directors::replace(&state, &cluster, &name, spec, &if_match).await?;
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
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row = edit::directors::merge_patch(&state, &cluster, &name, &changes, &if_match).await?;
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
    Path((cluster, name)): Path<(String, String)>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    edit::directors::delete(&state, &cluster, &name, &if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

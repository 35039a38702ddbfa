//! `/api/v1/clusters/{cluster}/changes`: what each generation of a cluster's desired state
//! changed, who changed it and when.

use axum::extract::State;
use lvs_model::{DiffSpec, DiffSummary};
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::audit::{ActorKind, Author};
use crate::db::changes::{self, ChangeRow, Source};
use crate::db::{corrupt, now_millis};
use crate::edit::lookup;
use crate::resources::directors;
use crate::resources::{timestamp, Director, DirectorRollout, Rollout, RolloutCounts};
use crate::state::AppState;

/// One committed change of a cluster's desired state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// The generation it produced.
    pub generation: u64,
    pub committed_at: String,
    pub source: Source,
    /// Counts of everything it changed, even when `truncated`.
    pub summary: DiffSummary,
    /// Its stored diff lists only the first 1,000 entries (the timeouts, each service and
    /// each real server count one).
    pub truncated: bool,
    /// Who made it; absent for changes made before authors were recorded.
    pub author: Option<ChangeAuthor>,
    /// How many of the cluster's directors (those it has now) applied this generation or a
    /// later one.
    pub rollout: RolloutCounts,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeAuthor {
    /// `user` (signed in, or with one of its API tokens), `token` (a service account's API
    /// token) or `cli` (`lvs-server` on the host).
    pub kind: ActorKind,
    /// The user's or service account's name; for `cli`, the host's user.
    pub name: String,
    /// The name of the API token used, if one was.
    pub token: Option<String>,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
}

impl From<&Author> for ChangeAuthor {
    fn from(author: &Author) -> Self {
        ChangeAuthor {
            kind: author.actor.kind,
            name: author.actor.name.clone(),
            token: author.actor.token.clone(),
            client: author.client.clone(),
        }
    }
}

impl Change {
    /// The stored change, validated on the way out, with its rollout over `directors`.
    pub fn new(row: &ChangeRow, directors: &[Director]) -> Result<Self, sqlx::Error> {
        Ok(Change {
            rollout: Rollout::new(row.generation(), directors).counts,
            generation: row.generation(),
            committed_at: timestamp(row.committed_at),
            source: row.source,
            summary: row.summary()?,
            truncated: row.truncated,
            author: row.author.as_ref().map(ChangeAuthor::from),
        })
    }
}

/// A change with what it did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeWithDiff {
    #[serde(flatten)]
    pub change: Change,
    /// Where each of the cluster's directors stands with this generation: those not done
    /// first, then by name.
    pub directors: Vec<DirectorRollout>,
    /// The diff from the previous generation (only its first entries when `truncated`).
    #[schema(value_type = DiffSpec)]
    pub diff: Box<RawValue>,
}

/// List a cluster's changes, newest first.
#[utoipa::path(get, operation_id = "listChanges", path = "/api/v1/clusters/{cluster}/changes", tag = "desired state",
    params(("cluster" = String, Path), PageParams),
    responses((status = 200, body = Page<Change>), (status = 400, body = Problem),
              (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Query(paging): Query<PageParams>,
) -> ApiResult<axum::Json<Page<Change>>> {
    let (limit, before) = (paging.limit()?, paging.before_id()?);
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let rows = changes::list(&mut tx, cluster.id, before, limit + 1).await?;
    let directors = directors::of_cluster(&mut tx, &cluster, &state.agents, now_millis()).await?;
    page(
        rows,
        limit,
        |row| row.generation.to_string(),
        |row| Ok(Change::new(&row, &directors)?),
    )
    .map(axum::Json)
}

/// Get the change that produced a generation, with its diff.
#[utoipa::path(get, operation_id = "getChange", path = "/api/v1/clusters/{cluster}/changes/{generation}",
    tag = "desired state",
    params(("cluster" = String, Path), ("generation" = u64, Path)),
    responses((status = 200, body = ChangeWithDiff), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path((cluster, generation)): Path<(String, u64)>,
) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let stored = match i64::try_from(generation) {
        Ok(generation) => changes::get(&mut tx, cluster.id, generation).await?,
        Err(_) => None,
    };
    let Some((row, diff)) = stored else {
        return Err(ApiError::not_found(format!(
            "generation {generation} of cluster {}",
            cluster.name
        )));
    };
    let diff = RawValue::from_string(diff).map_err(|e| {
        corrupt(
            &format!(
                "diff of generation {generation} of cluster {}",
                cluster.name
            ),
            &e.to_string(),
        )
    })?;
    let directors = directors::of_cluster(&mut tx, &cluster, &state.agents, now_millis()).await?;
    let rollout = Rollout::new(row.generation(), &directors);
    let change = Change::new(&row, &directors)?;
    Ok(Tagged::ok(ChangeWithDiff {
        change,
        directors: rollout.by_director,
        diff,
    }))
}

//! `POST /api/v1/clusters/{cluster}/revert`: a cluster's desired state returned to that of
//! an older generation, as a new generation.

use super::extract::Caller;
use axum::extract::State;
use lvs_model::DiffSpec;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::changes::Change;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{IfMatch, Path, Query};
use super::response::Tagged;
use crate::db::changes;
use crate::edit::{self, lookup};
use crate::resources::directors;
use crate::resources::generation_etag;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevertParams {
    /// The generation whose desired state to return to: older than the current one, and
    /// at most 1,000 generations back.
    pub to: u64,
    /// Answer with the plan, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a revert did, or with `dry_run` would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevertAnswer {
    /// The generation whose desired state is restored.
    pub to: u64,
    /// The plan: the diff from the current desired state to generation `to`'s, written as
    /// the next generation (empty, and nothing written, when the two states agree).
    #[serde(flatten)]
    pub plan: DiffSpec,
    /// The change the revert committed; absent after a dry run or when nothing differed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// Return a cluster's desired state to that of an older generation, as a new generation
/// that writes only the difference and is recorded as any change. `If-Match` must carry the
/// desired state's current ETag. With `?dry_run=true`, only the plan (no `If-Match`
/// needed). 409 `not_revertable` for a generation committed before the server kept what
/// revert needs, 409 `beyond_retention` for one more than 1,000 generations back.
#[utoipa::path(post, operation_id = "revertDesiredState", path = "/api/v1/clusters/{cluster}/revert", tag = "desired state",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), RevertParams),
    responses((status = 200, body = RevertAnswer,
               headers(("ETag" = String, description = "`\"gen-<generation>\"`"))),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem),
              (status = 428, body = Problem)))]
pub async fn revert(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    if_match: IfMatch,
    Query(params): Query<RevertParams>,
) -> ApiResult<Tagged> {
    if !params.dry_run && if_match.is_absent() {
        return Err(ApiError::PreconditionRequired(format!(
            "a revert needs If-Match with the desired state's ETag; GET \
             /api/v1/clusters/{cluster}/desired-state and send its ETag"
        )));
    }
    let plan = edit::revert::revert(
        &state,
        &cluster,
        params.to,
        params.dry_run,
        &if_match,
        &caller.author,
    )
    .await?;
    let committed = !params.dry_run && !plan.is_empty();
    let change = if committed {
        let mut tx = state.db.read().await?;
        let cluster = lookup::cluster(&mut tx, &cluster).await?;
        let generation = i64::try_from(plan.to_generation).unwrap_or(i64::MAX);
        match changes::get(&mut tx, cluster.id, generation).await? {
            Some((row, _)) => {
                let now = crate::db::now_millis();
                let directors = directors::of_cluster(&mut tx, &cluster, &state.agents, now);
                Some(Change::new(&row, &directors.await?)?)
            }
            None => None,
        }
    } else {
        None
    };
    let generation = if committed {
        plan.to_generation
    } else {
        plan.from_generation
    };
    let answer = RevertAnswer {
        to: params.to,
        plan: DiffSpec::from(&plan),
        change,
    };
    Ok(Tagged::ok(answer).with_etag(generation_etag(generation)))
}

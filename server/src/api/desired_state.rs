//! `/api/v1/clusters/{cluster}/desired-state`: a cluster's whole configuration as one
//! document, read by agents and replaced declaratively by CI pipelines.

use axum::extract::State;
use lvs_model::spec::{DesiredStateSpec, DocumentView};
use lvs_model::{Diff, DiffSpec};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::Tagged;
use super::{lookup, AppState};
use crate::db::{clusters, desired_state, now_millis};

/// The ETag of a desired state: its generation, which changes exactly when it does.
pub fn generation_etag(generation: u64) -> String {
    format!("\"gen-{generation}\"")
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplyParams {
    /// Answer with the diff the document would apply, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Get a cluster's desired state: every service with its real servers, and the timeouts.
#[utoipa::path(get, path = "/api/v1/clusters/{cluster}/desired-state", tag = "desired state",
    params(("cluster" = String, Path)),
    responses((status = 200, body = DesiredStateSpec,
               headers(("ETag" = String, description = "`\"gen-<generation>\"`"))),
              (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, Path(cluster): Path<String>) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let loaded = desired_state::load(&mut tx, &cluster).await?;
    let document = DocumentView {
        cluster: Some(&cluster.name),
        state: &loaded.state,
    };
    // About 160 bytes of JSON per real server and 200 per service.
    let size = 160 * loaded.state.real_server_count() + 200 * loaded.state.services().len();
    Ok(Tagged::ok_sized(document, size).with_etag(generation_etag(cluster.generation())))
}

/// Replace a cluster's services and timeouts with the document, in one transaction,
/// writing only what differs; answers with the diff. With `?dry_run=true`, only the diff.
#[utoipa::path(put, path = "/api/v1/clusters/{cluster}/desired-state", tag = "desired state",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), ApplyParams),
    request_body = DesiredStateSpec,
    responses((status = 200, body = DiffSpec), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    if_match: IfMatch,
    Query(params): Query<ApplyParams>,
    Json(document): Json<DesiredStateSpec>,
) -> ApiResult<Tagged> {
    if document.cluster.as_ref().is_some_and(|c| *c != cluster) {
        return Err(ApiError::invalid(
            "cluster",
            format!("must be {cluster}, as in the URL"),
        ));
    }
    // Validate the whole document before taking the write lock; then only the validated
    // state is kept, as a big document is large.
    let mut wanted = document.parse()?;
    let base_generation = document.generation;
    drop(document);
    let mut tx = if params.dry_run {
        state.db.read().await?
    } else {
        state.db.write().await?
    };
    let row = lookup::cluster(&mut tx, &cluster).await?;
    let current_generation = row.generation();
    if_match.check(&generation_etag(current_generation))?;
    if let Some(base) = base_generation.filter(|base| *base != current_generation) {
        return Err(ApiError::PreconditionFailed(format!(
            "the document is based on generation {base}, but cluster {cluster} is at \
             generation {current_generation}; fetch it again and reapply your change"
        )));
    }
    let loaded = desired_state::load(&mut tx, &row).await?;
    wanted.generation = current_generation;
    let mut diff = Diff::between(&loaded.state, &wanted);
    if !diff.is_empty() {
        diff.to_generation = current_generation + 1;
    }
    if !params.dry_run && !diff.is_empty() {
        let now = now_millis();
        desired_state::apply(&mut tx, &row, &loaded, &diff, now).await?;
        clusters::bump_generation(&mut tx, row.id, now).await?;
        tx.commit().await?;
    }
    let etag = generation_etag(diff.to_generation);
    Ok(Tagged::ok(DiffSpec::from(&diff)).with_etag(etag))
}

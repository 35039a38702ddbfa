//! `/api/v1/clusters/{cluster}/desired-state`: a cluster's whole configuration as one
//! document, read by agents and replaced declaratively by CI pipelines.

use super::extract::Caller;
use axum::extract::State;
use lvs_model::spec::{DesiredStateSpec, DocumentView};
use lvs_model::DiffSpec;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiResult, Problem};
use super::extract::{IfMatch, Json, Path, Query};
use super::response::Tagged;
use crate::db::desired_state;
use crate::edit;
use crate::edit::lookup;
use crate::resources::generation_etag;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplyParams {
    /// Answer with the diff the document would apply, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Get a cluster's desired state: every service with its real servers, and the timeouts.
#[utoipa::path(get, operation_id = "getDesiredState", path = "/api/v1/clusters/{cluster}/desired-state", tag = "desired state",
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
#[utoipa::path(put, operation_id = "replaceDesiredState", path = "/api/v1/clusters/{cluster}/desired-state", tag = "desired state",
    params(("cluster" = String, Path), ("If-Match" = Option<String>, Header), ApplyParams),
    request_body = DesiredStateSpec,
    responses((status = 200, body = DiffSpec), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    if_match: IfMatch,
    Query(params): Query<ApplyParams>,
    Json(document): Json<DesiredStateSpec>,
) -> ApiResult<Tagged> {
    let diff = edit::desired_state::replace(
        &state,
        &cluster,
        document,
        params.dry_run,
        &if_match,
        &caller.author,
    )
    .await?;
    let etag = generation_etag(diff.to_generation);
    Ok(Tagged::ok(DiffSpec::from(&diff)).with_etag(etag))
}

//! `POST /api/v1/clusters/{cluster}/import`: adopting a director's existing IPVS services
//! as a cluster's first desired state.

use axum::extract::State;
use lvs_model::DiffSpec;
use serde::Deserialize;
use utoipa::IntoParams;

use super::desired_state::generation_etag;
use super::error::{ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::Tagged;
use super::AppState;
use crate::edit;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The director whose reported services become the desired state.
    pub from_director: String,
}

/// Take the services a director's agent found in its kernel (and left alone, as the
/// cluster's desired state was never set) as the cluster's desired state; answers with the
/// diff. Only while the cluster is at generation 0 (409 `already_managed` afterwards).
#[utoipa::path(post, operation_id = "importDesiredState", path = "/api/v1/clusters/{cluster}/import", tag = "desired state",
    params(("cluster" = String, Path), ImportParams),
    responses((status = 200, body = DiffSpec,
               headers(("ETag" = String, description = "`\"gen-<generation>\"`"))),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn import(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    Query(params): Query<ImportParams>,
) -> ApiResult<Tagged> {
    let diff = edit::import::import(&state, &cluster, &params.from_director).await?;
    let etag = generation_etag(diff.to_generation);
    Ok(Tagged::ok(DiffSpec::from(&diff)).with_etag(etag))
}

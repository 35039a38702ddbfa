//! `POST /api/v1/clusters/{cluster}/import`: adopting a director's existing IPVS services
//! as a cluster's first desired state.

use super::extract::Caller;
use axum::extract::State;
use lvs_model::DiffSpec;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::Tagged;
use crate::edit;
use crate::resources::generation_etag;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The director whose reported services become the desired state.
    pub from_director: String,
}

/// What an import committed, and what of the director's it left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportAnswer {
    /// The diff from generation 0 to 1.
    #[serde(flatten)]
    pub diff: DiffSpec,
    /// What the director has that the cluster did not take, each with the reason; empty
    /// when everything was imported. Today only `timeouts`, when the director's agent
    /// predates reporting them: the cluster's timeouts then stay as they were.
    pub not_imported: Vec<NotImported>,
}

/// Something of the director's that an import left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotImported {
    /// What was left out: `timeouts`.
    #[schema(example = "timeouts")]
    pub what: String,
    /// Why, and what to do about it.
    pub reason: String,
}

/// Take the services a director's agent found in its kernel (and left alone, as the
/// cluster's desired state was never set) as the cluster's desired state, with the
/// connection timeouts it found there (those equal to the kernel's defaults stay null, the
/// kernel's default); answers with the diff and what was not imported. Only while the
/// cluster is at generation 0 (409 `already_managed` afterwards).
#[utoipa::path(post, operation_id = "importDesiredState", path = "/api/v1/clusters/{cluster}/import", tag = "desired state",
    params(("cluster" = String, Path), ImportParams),
    responses((status = 200, body = ImportAnswer,
               headers(("ETag" = String, description = "`\"gen-<generation>\"`"))),
              (status = 404, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    Query(params): Query<ImportParams>,
) -> ApiResult<Tagged> {
    let imported =
        edit::import::import(&state, &cluster, &params.from_director, &caller.author).await?;
    let etag = generation_etag(imported.diff.to_generation);
    let answer = ImportAnswer {
        diff: DiffSpec::from(&imported.diff),
        not_imported: imported
            .not_imported
            .into_iter()
            .map(|n| NotImported {
                what: n.what.to_owned(),
                reason: n.reason,
            })
            .collect(),
    };
    Ok(Tagged::ok(answer).with_etag(etag))
}

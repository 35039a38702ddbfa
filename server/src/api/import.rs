//! `POST /api/v1/clusters/{cluster}/import`: adopting a director's existing IPVS services
//! as a cluster's first desired state.

use axum::extract::State;
use lvs_model::spec::{DesiredStateSpec, ServiceSpec};
use lvs_model::{Diff, DiffSpec};
use serde::Deserialize;
use utoipa::IntoParams;

use super::desired_state::generation_etag;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Path, Query};
use super::response::Tagged;
use super::{lookup, AppState};
use crate::db::{clusters, desired_state, director_status, now_millis};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The director whose reported services become the desired state.
    pub from_director: String,
}

/// Take the services a director's agent found in its kernel (and left alone, as the
/// cluster's desired state was never set) as the cluster's desired state; answers with the
/// diff. Only while the cluster is at generation 0 (409 `already_managed` afterwards).
#[utoipa::path(post, path = "/api/v1/clusters/{cluster}/import", tag = "desired state",
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
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, &cluster).await?;
    if row.generation() != 0 {
        return Err(ApiError::Conflict {
            code: "already_managed",
            detail: format!(
                "cluster {cluster} is at generation {}: its desired state is already managed \
                 here, and import only adopts a director's services before it ever was",
                row.generation()
            ),
        });
    }
    let director = lookup::director(&mut tx, &row, &params.from_director).await?;
    let Some(unmanaged) = director_status::unmanaged_services(&mut tx, director.id).await? else {
        return Err(ApiError::Conflict {
            code: "not_reported",
            detail: format!(
                "director {} has not reported yet; start its agent and try again",
                director.name
            ),
        });
    };
    let services: Vec<ServiceSpec> = serde_json::from_str(&unmanaged)
        .map_err(|e| anyhow::anyhow!("stored unmanaged services are unreadable: {e}"))?;
    let loaded = desired_state::load(&mut tx, &row).await?;
    let document = DesiredStateSpec {
        cluster: None,
        generation: None,
        timeouts: loaded.state.timeouts.into(),
        services,
    };
    let mut wanted = document.parse()?;
    wanted.generation = 0;
    let mut diff = Diff::between(&loaded.state, &wanted);
    diff.to_generation = 1;
    let now = now_millis();
    desired_state::apply(&mut tx, &row, &loaded, &diff, now).await?;
    let generation = clusters::bump_generation(&mut tx, row.id, now).await?;
    tx.commit().await?;
    tracing::info!(cluster = %row.name, director = %director.name, services = wanted.services().len(),
        "imported the director's services as the desired state");
    Ok(Tagged::ok(DiffSpec::from(&diff)).with_etag(generation_etag(generation)))
}

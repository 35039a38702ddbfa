//! Adopting a director's existing IPVS services as a cluster's first desired state.

use lvs_model::spec::{DesiredStateSpec, ServiceSpec};
use lvs_model::Diff;

use super::Source;
use crate::api::error::{ApiError, ApiResult};
use crate::api::{lookup, AppState};
use crate::db::{clusters, desired_state, director_status, now_millis};

/// Takes the services `from_director`'s agent found in its kernel (and left alone, as the
/// cluster's desired state was never set) as the cluster's desired state, and returns the
/// diff (generation 0 to 1). Only while the cluster is at generation 0: 409
/// `already_managed` afterwards, `not_reported` before the agent's first report. Recorded
/// as made by [`Source::Import`], whoever asked.
pub async fn import(state: &AppState, cluster: &str, from_director: &str) -> ApiResult<Diff> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, cluster).await?;
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
    let director = lookup::director(&mut tx, &row, from_director).await?;
    let Some(unmanaged) = director_status::unmanaged_services(&mut tx, director.id).await? else {
        return Err(ApiError::Conflict {
            code: "not_reported",
            detail: format!(
                "director {} has not reported yet; start its agent and try again",
                director.name
            ),
        });
    };
    let mut services: Vec<ServiceSpec> = serde_json::from_str(&unmanaged)
        .map_err(|e| anyhow::anyhow!("stored unmanaged services are unreadable: {e}"))?;
    // A report may leave out the pool of a service without real servers; the document
    // this builds must write it out.
    for service in &mut services {
        service.real_servers.get_or_insert_with(Vec::new);
    }
    let loaded = desired_state::load(&mut tx, &row).await?;
    let document = DesiredStateSpec {
        cluster: None,
        generation: None,
        timeouts: Some(loaded.state.timeouts.into()),
        services: Some(services),
    };
    let mut wanted = document.parse()?;
    wanted.generation = 0;
    let mut diff = Diff::between(&loaded.state, &wanted);
    let now = now_millis();
    desired_state::apply(&mut tx, &row, &loaded, &diff, now).await?;
    clusters::bump_generation(&mut tx, row.id, &mut diff, Source::Import, now).await?;
    tx.commit().await?;
    tracing::info!(cluster = %row.name, director = %director.name,
        services = wanted.services().len(),
        "imported the director's services as the desired state");
    Ok(diff)
}

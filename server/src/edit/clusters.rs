//! Clusters: create, edit (description, timeouts and host settings), delete.

use lvs_model::spec::ClusterSpec;
use lvs_model::Diff;
use serde_json::Value;

use super::{audit, unique, Author, Committed, IfMatch};
use super::{lookup, patch};
use super::{EditError, EditResult};
use crate::db::clusters::{self, ClusterRow};
use crate::db::{directors, now_millis, services};
use crate::resources::cluster_etag;
use crate::state::AppState;

/// Creates a cluster (at generation 0: its desired state was never set).
pub async fn create(
    state: &AppState,
    spec: &ClusterSpec,
    author: &Author,
) -> EditResult<ClusterRow> {
    let settings = spec.parse()?;
    let mut tx = state.db.write().await?;
    let inserted = clusters::insert(&mut tx, &settings, now_millis()).await;
    let row = unique(inserted, || format!("cluster {}", settings.name))?;
    let target = format!("cluster {}", row.name);
    audit(&mut tx, author, "cluster_added", target, String::new()).await?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces a cluster's description, timeouts and host settings (kept when the spec has
/// none); its name cannot change.
pub async fn replace(
    state: &AppState,
    name: &str,
    spec: ClusterSpec,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<ClusterRow>> {
    update(state, name, if_match, author, |_| Ok(spec)).await
}

/// Applies a JSON merge patch to a cluster's fields.
pub async fn merge_patch(
    state: &AppState,
    name: &str,
    changes: &Value,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<ClusterRow>> {
    update(state, name, if_match, author, |current| {
        patch::merge(&current, changes)
    })
    .await
}

/// Deletes a cluster; one that still has services only with `force` (they go with it).
pub async fn delete(
    state: &AppState,
    name: &str,
    force: bool,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<()> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, name).await?;
    if_match.check(&cluster_etag(&row))?;
    let services = services::count(&mut tx, row.id).await?;
    if services > 0 && !force {
        return Err(EditError::Conflict {
            code: "cluster_not_empty",
            detail: format!(
                "cluster {name} still has {services} services; delete them first, \
                 or delete with ?force=true to remove them with the cluster"
            ),
        });
    }
    let director_ids: Vec<i64> = directors::list(&mut tx, row.id, None, None, i64::MAX)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    clusters::delete(&mut tx, row.id).await?;
    let detail = format!("with {services} services");
    audit(
        &mut tx,
        author,
        "cluster_deleted",
        format!("cluster {name}"),
        detail,
    )
    .await?;
    tx.commit().await?;
    // Its agents' long-polls end, and nothing of it stays in memory for a cluster that
    // might reuse its id.
    state.db.announcer().forget(row.id);
    state.agents.forget_cluster(row.id, &director_ids);
    Ok(())
}

async fn update(
    state: &AppState,
    name: &str,
    if_match: &IfMatch,
    author: &Author,
    edit: impl FnOnce(ClusterSpec) -> EditResult<ClusterSpec>,
) -> EditResult<Committed<ClusterRow>> {
    let mut tx = state.db.write().await?;
    let row = lookup::cluster(&mut tx, name).await?;
    if_match.check(&cluster_etag(&row))?;
    let current = ClusterSpec {
        name: Some(row.name.clone()),
        description: row.description.clone(),
        timeouts: row.timeouts_spec(),
        host: Some(row.host_spec()),
    };
    let mut spec = edit(current)?;
    spec.name = Some(patch::same_name(spec.name, &row.name)?);
    let settings = spec.parse()?;
    let now = now_millis();
    clusters::update(&mut tx, row.id, &settings, now).await?;
    // Timeouts and host settings are part of the desired state, the description not.
    let mut diff = Diff::timeouts_changed(row.timeouts()?, settings.timeouts);
    if let Some(host) = &settings.host {
        diff.host = Diff::host_changed(row.host()?, host.clone()).host;
    }
    let generation = if diff.is_empty() {
        None
    } else {
        Some(clusters::bump_generation(&mut tx, row.id, &mut diff, author, now).await?)
    };
    if generation.is_none() && settings.description.as_str() != row.description {
        let target = format!("cluster {}", row.name);
        audit(
            &mut tx,
            author,
            "cluster_edited",
            target,
            "description".into(),
        )
        .await?;
    }
    let row = lookup::cluster(&mut tx, name).await?;
    tx.commit().await?;
    Ok(Committed {
        value: row,
        generation,
    })
}

//! Directors: add, edit the description, remove. None of it is part of the desired state,
//! so none of it changes a generation.

use lvs_model::spec::DirectorSpec;
use serde_json::Value;

use super::EditResult;
use super::{audit, unique, Author, IfMatch};
use super::{lookup, patch};
use crate::db::directors::{self, DirectorRow};
use crate::db::now_millis;
use crate::resources::director_etag;
use crate::state::AppState;

/// Adds a director to a cluster.
pub async fn create(
    state: &AppState,
    cluster: &str,
    spec: &DirectorSpec,
    author: &Author,
) -> EditResult<DirectorRow> {
    let settings = spec.parse()?;
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let inserted = directors::insert(&mut tx, cluster.id, &settings, now_millis()).await;
    let row = unique(inserted, || {
        format!("director {} in cluster {}", settings.name, cluster.name)
    })?;
    let target = format!("director {} of cluster {}", row.name, cluster.name);
    audit(&mut tx, author, "director_added", target, String::new()).await?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces a director's description; its name cannot change.
pub async fn replace(
    state: &AppState,
    cluster: &str,
    name: &str,
    spec: DirectorSpec,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<DirectorRow> {
    update(state, cluster, name, if_match, author, |_| Ok(spec)).await
}

/// Applies a JSON merge patch to a director's fields.
pub async fn merge_patch(
    state: &AppState,
    cluster: &str,
    name: &str,
    changes: &Value,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<DirectorRow> {
    update(state, cluster, name, if_match, author, |current| {
        patch::merge(&current, changes)
    })
    .await
}

/// Removes a director from its cluster (its token and status go with it).
pub async fn delete(
    state: &AppState,
    cluster: &str,
    name: &str,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<()> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let row = lookup::director(&mut tx, &cluster, name).await?;
    if_match.check(&director_etag(&row, &cluster.name))?;
    directors::delete(&mut tx, row.id).await?;
    let target = format!("director {} of cluster {}", row.name, cluster.name);
    audit(&mut tx, author, "director_deleted", target, String::new()).await?;
    tx.commit().await?;
    state.agents.forget_director(row.id);
    Ok(())
}

async fn update(
    state: &AppState,
    cluster: &str,
    name: &str,
    if_match: &IfMatch,
    author: &Author,
    edit: impl FnOnce(DirectorSpec) -> EditResult<DirectorSpec>,
) -> EditResult<DirectorRow> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let row = lookup::director(&mut tx, &cluster, name).await?;
    if_match.check(&director_etag(&row, &cluster.name))?;
    let current = DirectorSpec {
        name: Some(row.name.clone()),
        description: row.description.clone(),
    };
    let mut spec = edit(current)?;
    spec.name = Some(patch::same_name(spec.name, &row.name)?);
    let settings = spec.parse()?;
    let description = settings.description.as_str();
    directors::update_description(&mut tx, row.id, description, now_millis()).await?;
    let target = format!("director {} of cluster {}", row.name, cluster.name);
    audit(
        &mut tx,
        author,
        "director_edited",
        target,
        "description".into(),
    )
    .await?;
    let row = lookup::director(&mut tx, &cluster, name).await?;
    tx.commit().await?;
    Ok(row)
}

//! A cluster's whole desired state, replaced declaratively.

use lvs_model::spec::DesiredStateSpec;
use lvs_model::{DesiredService, DesiredState, Diff};

use super::lookup;
use super::{Author, IfMatch};
use super::{EditError, EditResult};
use crate::db::clusters::{self, ClusterRow};
use crate::db::desired_state::{self, Loaded};
use crate::db::{now_millis, Tx};
use crate::resources::generation_etag;
use crate::state::AppState;

/// Replaces a cluster's services, timeouts and (when it has them) host settings with
/// `document` in one transaction, writing
/// only the rows that differ, and returns the diff (from the cluster's generation to the
/// next, or empty at the current one when nothing differs). With `dry_run`, only the diff:
/// nothing is written. The precondition is on the desired state's ETag (its generation),
/// and a `generation` in the document must be the cluster's.
pub async fn replace(
    state: &AppState,
    cluster: &str,
    document: DesiredStateSpec,
    dry_run: bool,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Diff> {
    if document.cluster.as_ref().is_some_and(|c| c != cluster) {
        return Err(EditError::invalid(
            "cluster",
            format!("must be {cluster}, as in the URL"),
        ));
    }
    // Validate the whole document before taking the write lock; then only the validated
    // state is kept, as a big document is large.
    let mut wanted = document.parse()?;
    overlapping_marks(&document, &wanted)?;
    let base_generation = document.generation;
    let keeps_host = document.host.is_none();
    drop(document);
    let mut tx = if dry_run {
        state.db.read().await?
    } else {
        state.db.write().await?
    };
    let row = lookup::cluster(&mut tx, cluster).await?;
    let current_generation = row.generation();
    if_match.check(&generation_etag(current_generation))?;
    if let Some(base) = base_generation.filter(|base| *base != current_generation) {
        return Err(EditError::PreconditionFailed(format!(
            "the document is based on generation {base}, but cluster {cluster} is at \
             generation {current_generation}; fetch it again and reapply your change"
        )));
    }
    let loaded = desired_state::load(&mut tx, &row).await?;
    wanted.generation = current_generation;
    if keeps_host {
        // An absent field never means "reset": the document leaves them as they are.
        wanted.host = loaded.state.host.clone();
    }
    commit_to(tx, &row, &loaded, &wanted, dry_run, author).await
}

/// Takes the cluster from its `loaded` state to `wanted` (whose generation is the current
/// one) as the next generation: only the rows the diff names are written, the change is
/// recorded and the agents woken. Returns the diff; it is empty, and nothing is written,
/// when the two agree. With `dry_run` nothing is written either, and `tx` is rolled back.
pub(super) async fn commit_to(
    mut tx: Tx,
    row: &ClusterRow,
    loaded: &Loaded,
    wanted: &DesiredState,
    dry_run: bool,
    author: &Author,
) -> EditResult<Diff> {
    let mut diff = Diff::between(&loaded.state, wanted);
    if diff.is_empty() {
        return Ok(diff);
    }
    if dry_run {
        diff.to_generation = row.generation() + 1;
        return Ok(diff);
    }
    let now = now_millis();
    desired_state::apply(&mut tx, row, loaded, &diff, now).await?;
    clusters::bump_generation(&mut tx, row.id, &mut diff, author, now).await?;
    tx.commit().await?;
    Ok(diff)
}

/// Refuses marking rules of two services that mark the same packets, each named by its
/// place in the document.
fn overlapping_marks(document: &DesiredStateSpec, wanted: &DesiredState) -> EditResult<()> {
    let mut errors = lvs_model::ValidationErrors::default();
    for (key, rule, why) in wanted.mark_rule_overlaps() {
        let index = document
            .services
            .iter()
            .flatten()
            .position(|spec| DesiredService::parse(spec).is_ok_and(|s| *s.key() == key))
            .unwrap_or_default();
        errors.add(format!("services[{index}].mark_rules[{rule}]"), why);
    }
    errors.into_result().map_err(EditError::from)
}

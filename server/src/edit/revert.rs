//! Rollback: a cluster's desired state returned to that of an older generation, as a new
//! generation.

use lvs_model::Diff;

use super::lookup;
use super::{Author, IfMatch};
use super::{EditError, EditResult};
use crate::db::revert_diffs::{self, REACH};
use crate::db::{clusters, corrupt, desired_state};
use crate::resources::generation_etag;
use crate::state::AppState;

/// Returns cluster `cluster`'s desired state to that of generation `to`, in one
/// transaction: the plan is the diff from the current state to generation `to`'s (rebuilt
/// by undoing the kept diffs of the generations since), written as any change is (only the
/// rows it names, a new generation, its change recorded, the agents woken). Returns the
/// plan, from the current generation to the next; it is empty, and nothing is written,
/// when the two states agree. With `dry_run`, only the plan: nothing is written. The
/// precondition is on the desired state's ETag (its generation).
pub async fn revert(
    state: &AppState,
    cluster: &str,
    to: u64,
    dry_run: bool,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Diff> {
    let mut tx = if dry_run {
        state.db.read().await?
    } else {
        state.db.write().await?
    };
    let row = lookup::cluster(&mut tx, cluster).await?;
    let current = row.generation();
    if_match.check(&generation_etag(current))?;
    check_reach(&mut tx, &row, to).await?;
    let undone = revert_diffs::newest_first(&mut tx, row.id, to, current).await?;
    let loaded = desired_state::load(&mut tx, &row).await?;
    let mut target = loaded.state.clone();
    for diff in &undone {
        diff.reversed().apply_in_place(&mut target).map_err(|e| {
            corrupt(
                &format!("revert diff of generation {}", diff.to_generation),
                &e.to_string(),
            )
        })?;
    }
    drop(undone);
    target.generation = current;
    super::desired_state::commit_to(tx, &row, &loaded, &target, dry_run, author).await
}

/// Whether generation `to` of the cluster is one whose state can be rebuilt, or else why
/// not, naming `to`.
async fn check_reach(
    conn: &mut sqlx::SqliteConnection,
    cluster: &clusters::ClusterRow,
    to: u64,
) -> EditResult<()> {
    let (name, current) = (&cluster.name, cluster.generation());
    if to == 0 {
        return Err(EditError::invalid(
            "to",
            "generation 0 is the cluster before any desired state was set; to remove every \
             service, replace the desired state with an empty one",
        ));
    }
    if to > current {
        return Err(EditError::invalid(
            "to",
            format!("generation {to} does not exist: cluster {name} is at generation {current}"),
        ));
    }
    if to == current {
        return Err(EditError::invalid(
            "to",
            format!("cluster {name} is at generation {to} already"),
        ));
    }
    if to < current.saturating_sub(REACH) {
        return Err(EditError::Conflict {
            code: "beyond_retention",
            detail: format!(
                "to: generation {to} is beyond retention: revert reaches {REACH} generations \
                 back, to generation {} of cluster {name}",
                current - REACH
            ),
        });
    }
    let floor = revert_diffs::revertable_from(conn, cluster.id).await?;
    if to < floor {
        return Err(EditError::Conflict {
            code: "not_revertable",
            detail: format!(
                "to: generation {to} of cluster {name} was committed before this server kept \
                 what revert needs; the oldest generation it can revert to is {floor}"
            ),
        });
    }
    Ok(())
}

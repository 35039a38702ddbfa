//! The desired-state changes (`DesiredStateChanges` on the wire) an agent that already
//! holds a generation is sent instead of the whole document: the stored diffs since then,
//! so a one-weight change costs the server and the agent the size of that change, not of
//! the cluster. The answer is assembled from the
//! diffs' stored JSON, never parsed into the model and written again.

use anyhow::Context;
use axum::body::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::SqliteConnection;

use crate::db::changes;
use crate::db::clusters::ClusterRow;

/// The most generations one changes answer spans. An agent further behind gets the whole
/// document: by then the diffs may add up to more than the state they lead to, and each
/// one is read from the database.
pub const MAX_CHANGED_GENERATIONS: u64 = 100;

/// A cluster's changes from one generation to another as served to agents: the JSON of a
/// `lvs_model::agent::DesiredStateChanges`.
#[derive(Debug, Clone)]
pub struct StateChanges {
    pub from_generation: u64,
    pub generation: u64,
    pub json: Bytes,
}

/// Which changes an answer holds: a cluster recreated under the same id has other ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChangesKey {
    pub cluster_created_at: i64,
    pub from_generation: u64,
    pub generation: u64,
}

impl ChangesKey {
    /// The changes from `after` to `cluster`'s current generation.
    pub fn new(cluster: &ClusterRow, after: u64) -> ChangesKey {
        ChangesKey {
            cluster_created_at: cluster.created_at,
            from_generation: after,
            generation: cluster.generation(),
        }
    }

    /// Whether changes are worth looking for: the agent is behind, and not by too much.
    pub fn in_reach(&self) -> bool {
        self.generation > self.from_generation
            && self.generation - self.from_generation <= MAX_CHANGED_GENERATIONS
    }
}

/// A cluster's last changes answer. `changes` is `None` when they cannot be served (one is
/// missing or truncated), which the agents a commit wakes then learn without a read each.
#[derive(Debug)]
pub(super) struct CachedChanges {
    pub key: ChangesKey,
    pub changes: Option<StateChanges>,
}

/// The changes `key` names, read in `conn`'s transaction; `None` unless every generation
/// in the range has its diff stored whole.
pub(super) async fn load(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    key: ChangesKey,
) -> anyhow::Result<Option<StateChanges>> {
    let (Ok(after), Ok(to)) = (
        i64::try_from(key.from_generation),
        i64::try_from(key.generation),
    ) else {
        return Ok(None);
    };
    let rows = changes::diffs_between(conn, cluster_id, after, to)
        .await
        .with_context(|| format!("loading the changes of generations {after} to {to}"))?;
    let rows: Vec<Row<'_>> = rows
        .iter()
        .map(|r| Row {
            generation: r.generation.get(),
            truncated: r.truncated,
            diff: &r.diff,
        })
        .collect();
    finish(key, &rows)
}

/// The changes `key` names when they are the one generation whose stored diff is `diff`
/// (as announced by the commit that made it, so no read is needed).
pub(super) fn announced(key: ChangesKey, diff: &str) -> anyhow::Result<Option<StateChanges>> {
    let row = Row {
        generation: key.generation,
        truncated: false,
        diff,
    };
    finish(key, &[row])
}

fn finish(key: ChangesKey, rows: &[Row<'_>]) -> anyhow::Result<Option<StateChanges>> {
    let Some(json) = assemble(key.from_generation, key.generation, rows)? else {
        return Ok(None);
    };
    Ok(Some(StateChanges {
        from_generation: key.from_generation,
        generation: key.generation,
        json,
    }))
}

/// A stored diff, as read or as announced.
struct Row<'a> {
    generation: u64,
    truncated: bool,
    diff: &'a str,
}

/// The JSON of `lvs_model::agent::DesiredStateChanges`, with the same fields, whose diffs
/// are the stored text as it is.
#[derive(Serialize)]
struct ChangesView<'a> {
    from_generation: u64,
    generation: u64,
    diffs: Vec<&'a RawValue>,
}

/// The body of the changes from `after` to `to`, if `rows` are exactly the diffs of
/// generations `after + 1 ..= to`, in order, each stored whole.
fn assemble(after: u64, to: u64, rows: &[Row<'_>]) -> anyhow::Result<Option<Bytes>> {
    let mut diffs = Vec::with_capacity(rows.len());
    let mut expected = after;
    for row in rows {
        expected += 1;
        if row.generation != expected {
            tracing::debug!(
                generation = expected,
                "no stored diff; sending the document"
            );
            return Ok(None);
        }
        if row.truncated {
            tracing::debug!(
                generation = expected,
                "stored diff truncated; sending the document"
            );
            return Ok(None);
        }
        // Checking the syntax is a scan without allocation; the agent validates the rest.
        match serde_json::from_str::<&RawValue>(row.diff) {
            Ok(raw) => diffs.push(raw),
            Err(error) => {
                // Written by this server, so edited behind its back: the document is right.
                tracing::warn!(
                    generation = expected,
                    %error,
                    "stored diff is not JSON; sending the document"
                );
                return Ok(None);
            }
        }
    }
    if expected != to {
        tracing::debug!(
            generation = expected + 1,
            "no stored diff; sending the document"
        );
        return Ok(None);
    }
    let size = rows.iter().map(|r| r.diff.len() + 1).sum::<usize>() + 64;
    let mut json = Vec::with_capacity(size);
    let view = ChangesView {
        from_generation: after,
        generation: to,
        diffs,
    };
    serde_json::to_writer(&mut json, &view).context("serialising changes")?;
    Ok(Some(Bytes::from(json)))
}

//! The `revert_diffs` table: each generation's whole diff, written by
//! [`super::clusters::bump_generation`] in the transaction that made it, so that revert can
//! rebuild any kept generation's desired state exactly (see the migration for why diffs
//! rather than snapshots).

use lvs_model::{Diff, DiffSpec};
use sqlx::SqliteConnection;

use super::{corrupt, in_row, Generation};

/// How many generations back revert reaches: the diffs of a cluster's newest `REACH`
/// generations are kept, so from generation `g` it can return to `g - REACH` at the
/// earliest. Each costs what its change wrote (a one-weight edit, a few hundred bytes).
pub const REACH: u64 = 1000;

/// Keeps `diff`, whose generations are set, as stored JSON (`json` when the caller has
/// already encoded the whole diff), and forgets the diff that falls out of [`REACH`].
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    diff: &Diff,
    json: Option<&str>,
) -> Result<(), sqlx::Error> {
    let encoded;
    let json = match json {
        Some(json) => json,
        None => {
            encoded = serde_json::to_string(diff).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            &encoded
        }
    };
    let generation = Generation::new(diff.to_generation);
    sqlx::query!(
        "INSERT INTO revert_diffs (cluster_id, generation, diff) VALUES (?, ?, ?)",
        cluster_id,
        generation,
        json
    )
    .execute(&mut *conn)
    .await?;
    // The primary key serves the range: this deletes the one diff that fell out.
    let oldest_kept = Generation::new(diff.to_generation.saturating_sub(REACH - 1));
    sqlx::query!(
        "DELETE FROM revert_diffs WHERE cluster_id = ? AND generation < ?",
        cluster_id,
        oldest_kept
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The oldest generation of the cluster whose state its kept diffs can rebuild, by the
/// migration's floor: generations before it were committed before diffs were kept.
pub async fn revertable_from(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<u64, sqlx::Error> {
    let floor = sqlx::query_scalar!(
        r#"SELECT revertable_from AS "floor: Generation" FROM clusters WHERE id = ?"#,
        cluster_id
    )
    .fetch_one(conn)
    .await
    .map_err(|e| in_row("clusters", &cluster_id, e))?;
    Ok(floor.get())
}

/// The kept diffs of generations `after + 1 ..= to`, newest first (the order that undoes
/// them), each checked to be the one that generation made. Fails when one is missing.
pub async fn newest_first(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    after: u64,
    to: u64,
) -> Result<Vec<Diff>, sqlx::Error> {
    let (first, last) = (Generation::new(after + 1), Generation::new(to));
    let rows = sqlx::query!(
        r#"SELECT generation AS "generation: Generation", diff
           FROM revert_diffs
           WHERE cluster_id = ? AND generation >= ? AND generation <= ?
           ORDER BY generation DESC"#,
        cluster_id,
        first,
        last
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("revert_diffs", &format!("of cluster {cluster_id}"), e))?;
    let mut expected = to;
    let mut diffs = Vec::with_capacity(rows.len());
    for row in rows {
        let what = format!("revert diff of generation {}", row.generation);
        if row.generation.get() != expected {
            return Err(corrupt(
                &format!("revert diff of generation {expected}"),
                "missing",
            ));
        }
        let spec: DiffSpec =
            serde_json::from_str(&row.diff).map_err(|e| corrupt(&what, &e.to_string()))?;
        let diff = spec.parse().map_err(|e| corrupt(&what, &e.to_string()))?;
        if (diff.from_generation, diff.to_generation) != (expected - 1, expected) {
            return Err(corrupt(&what, "its generations are not its own"));
        }
        diffs.push(diff);
        expected -= 1;
    }
    if expected != after {
        return Err(corrupt(
            &format!("revert diff of generation {expected}"),
            "missing",
        ));
    }
    Ok(diffs)
}

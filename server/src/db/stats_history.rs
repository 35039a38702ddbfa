//! The `stats_history` table: services' statistics history in blocks of consecutive points,
//! each a BLOB of little-endian `f32`s (encoded by `agents/stats/blocks.rs`). A block
//! is rewritten whole while it fills; rows are pruned by age.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::ROWS_PER_STATEMENT;

/// A block of one service's history at one resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub cluster_id: i64,
    pub service_key: String,
    /// The resolution: the milliseconds one point covers.
    pub step_ms: i64,
    /// Start of the first point (Unix ms).
    pub start_ms: i64,
    pub points: Vec<u8>,
}

/// Where a page of [`page`] starts: after this row's key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After {
    pub cluster_id: i64,
    pub service_key: String,
    pub step_ms: i64,
    pub start_ms: i64,
}

impl Block {
    pub fn key(&self) -> After {
        After {
            cluster_id: self.cluster_id,
            service_key: self.service_key.clone(),
            step_ms: self.step_ms,
            start_ms: self.start_ms,
        }
    }
}

/// Stores `blocks`, replacing those with the same key, [`ROWS_PER_STATEMENT`] a statement;
/// blocks of a cluster deleted meanwhile are skipped. Returns the rows written.
pub async fn put(conn: &mut SqliteConnection, blocks: &[Block]) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    for chunk in blocks.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO stats_history (cluster_id, service_key, step_ms, start_ms, points) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (",
        );
        query.push_values(chunk, |mut row, block| {
            row.push_bind(block.cluster_id)
                .push_bind(&block.service_key)
                .push_bind(block.step_ms)
                .push_bind(block.start_ms)
                .push_bind(&block.points);
        });
        query.push(
            ") AS v WHERE EXISTS (SELECT 1 FROM clusters c WHERE c.id = v.column1) \
             ON CONFLICT (cluster_id, service_key, step_ms, start_ms) \
             DO UPDATE SET points = excluded.points",
        );
        written += query
            .build()
            .persistent(false)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(written)
}

/// Deletes the blocks of resolution `step_ms` that start before `before_ms`.
pub async fn prune(
    conn: &mut SqliteConnection,
    step_ms: i64,
    before_ms: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query!(
        "DELETE FROM stats_history WHERE step_ms = ?1 AND start_ms < ?2",
        step_ms,
        before_ms
    )
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
}

/// Deletes the blocks of every resolution but `steps`: written with another statistics
/// interval, their times mean nothing now.
pub async fn keep_only_steps(
    conn: &mut SqliteConnection,
    steps: [i64; 3],
) -> Result<u64, sqlx::Error> {
    let [a, b, c] = steps;
    sqlx::query!(
        "DELETE FROM stats_history WHERE step_ms NOT IN (?1, ?2, ?3)",
        a,
        b,
        c
    )
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
}

/// Up to `limit` blocks in key order after `after` (from the start for the default key):
/// loading pages keeps each read short and the whole table out of memory.
pub async fn page(
    conn: &mut SqliteConnection,
    after: &After,
    limit: i64,
) -> Result<Vec<Block>, sqlx::Error> {
    sqlx::query_as!(
        Block,
        r#"SELECT cluster_id, service_key, step_ms, start_ms, points
           FROM stats_history
           WHERE (cluster_id, service_key, step_ms, start_ms) > (?1, ?2, ?3, ?4)
           ORDER BY cluster_id, service_key, step_ms, start_ms
           LIMIT ?5"#,
        after.cluster_id,
        after.service_key,
        after.step_ms,
        after.start_ms,
        limit
    )
    .fetch_all(conn)
    .await
}

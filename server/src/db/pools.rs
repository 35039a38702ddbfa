//! Summaries of services' pools (their real servers), for listing many services at once.

use std::collections::HashMap;

use sqlx::SqliteConnection;

/// A service's real servers in brief.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSummary {
    pub total: i64,
    /// Active (not drained) with a weight above 0: those that get new connections.
    pub up: i64,
    /// The forwarding methods in use, comma-separated, sorted.
    pub forwarding: String,
}

/// The pool summary of each of `service_ids` that has real servers.
pub async fn summaries(
    conn: &mut SqliteConnection,
    service_ids: &[i64],
) -> Result<HashMap<i64, PoolSummary>, sqlx::Error> {
    let ids = serde_json::to_string(service_ids).unwrap_or_else(|_| "[]".to_owned());
    let rows = sqlx::query!(
        r#"SELECT service_id AS "service_id!", count(*) AS "total!: i64",
                  sum(state = 'active' AND weight > 0) AS "up!: i64",
                  (SELECT group_concat(forwarding, ',') FROM (
                      SELECT DISTINCT forwarding FROM real_servers f
                      WHERE f.service_id = r.service_id ORDER BY forwarding)) AS "forwarding: String"
           FROM real_servers r
           WHERE service_id IN (SELECT value FROM json_each(?1))
           GROUP BY service_id"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let summary = PoolSummary {
                total: row.total,
                up: row.up,
                forwarding: row.forwarding.unwrap_or_default(),
            };
            (row.service_id, summary)
        })
        .collect())
}

//! The `health_events` table: each cluster's history of real servers' health changes.

use lvs_model::Health;
use serde::Serialize;
use sqlx::SqliteConnection;

use super::in_row;
use super::types::Keyword;

/// How many events each cluster keeps: enough to see a real server flap for a day at one
/// change a minute, small enough to read at once.
pub const KEPT_PER_CLUSTER: i64 = 2000;

/// One event to store.
#[derive(Debug, Serialize)]
pub struct NewEvent<'a> {
    pub director_id: i64,
    pub service_key: &'a str,
    pub real_server: &'a str,
    pub health: Health,
    pub reason: Option<&'a str>,
    pub at: i64,
}

/// A stored event, with its director's name.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub director: String,
    pub service_key: String,
    pub real_server: String,
    pub health: Health,
    pub reason: Option<String>,
    pub at: i64,
}

/// Stores `events` of cluster `cluster_id` (those stored already are skipped) and trims the
/// cluster's history to [`KEPT_PER_CLUSTER`].
pub async fn insert(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_string(events).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT OR IGNORE INTO health_events
             (cluster_id, director_id, service_key, real_server, health, reason, at)
         SELECT ?1, e.value ->> 'director_id', e.value ->> 'service_key',
                e.value ->> 'real_server', e.value ->> 'health', e.value ->> 'reason',
                e.value ->> 'at'
         FROM json_each(?2) AS e",
    )
    .bind(cluster_id)
    .bind(json)
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM health_events
         WHERE cluster_id = ?1 AND id <= (
             SELECT id FROM health_events WHERE cluster_id = ?1
             ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        cluster_id,
        KEPT_PER_CLUSTER
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The cluster's newest events first, before event `before_id`, at most `limit`;
/// optionally of one service only.
pub async fn list(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    service_key: Option<&str>,
    before_id: i64,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        r#"SELECT e.id AS "id!", d.name AS director, e.service_key, e.real_server,
                  e.health AS "health: Keyword<Health>", e.reason, e.at
           FROM health_events e JOIN directors d ON d.id = e.director_id
           WHERE e.cluster_id = ?1 AND e.id < ?2 AND (?3 IS NULL OR e.service_key = ?3)
           ORDER BY e.id DESC LIMIT ?4"#,
        cluster_id,
        before_id,
        service_key,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("health_events", &format!("of cluster {cluster_id}"), e))
}

/// How many of a cluster's events are older than `before_id` (all: `i64::MAX`), counted
/// in `health_events_by_cluster`: a history page's "page X of N".
pub async fn count_before(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    before_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM health_events WHERE cluster_id = ? AND id < ?"#,
        cluster_id,
        before_id
    )
    .fetch_one(conn)
    .await
}

/// The id of the event `offset` events below the newest, if there is one: the cursor a
/// history page's jump starts after.
pub async fn id_at(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    offset: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!: i64" FROM health_events WHERE cluster_id = ?
           ORDER BY id DESC LIMIT 1 OFFSET ?"#,
        cluster_id,
        offset
    )
    .fetch_optional(conn)
    .await
}

//! The `director_status` table: what each director's agent last reported, and when it was
//! last seen.

use lvs_model::agent::ObjectOutcome;
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;

use super::{corrupt, in_row, Generation};

/// A director's token and agent status as stored; every field is `None` (or empty) until
/// the agent has been seen (and the report fields until it has reported).
#[derive(Debug, Clone, Default)]
pub struct StatusRow {
    pub director_id: i64,
    pub token_created_at: Option<i64>,
    pub last_seen: Option<i64>,
    pub reported_at: Option<i64>,
    pub applied_generation: Option<Generation>,
    /// Whether every change of the last report applied.
    pub last_report_ok: Option<bool>,
    /// The failed changes of the last report that had any.
    pub last_errors: Vec<ObjectOutcome>,
    pub last_errors_at: Option<i64>,
    /// Newest first.
    pub drift_repaired: Vec<StoredDrift>,
    pub agent_version: Option<String>,
    pub kernel_version: Option<String>,
    pub unmanaged_services: Option<i64>,
}

/// A repaired drift as stored, with when it was reported (Unix milliseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDrift {
    pub object: String,
    pub found: String,
    pub at: i64,
}

/// The status of the cluster's directors (of one of them when `director_id` is given).
pub async fn of_cluster(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    director_id: Option<i64>,
) -> Result<Vec<StatusRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT d.id AS "director_id!", t.created_at AS "token_created_at?",
                s.last_seen AS "last_seen?", s.reported_at AS "reported_at?",
                s.applied_generation AS "applied_generation?: Generation",
                s.last_report_ok AS "last_report_ok?: bool", s.last_errors AS "last_errors?",
                s.last_errors_at AS "last_errors_at?", s.drift_repaired AS "drift_repaired?",
                s.agent_version AS "agent_version?", s.kernel_version AS "kernel_version?",
                json_array_length(s.unmanaged_services) AS "unmanaged_services?: i64"
         FROM directors d
         LEFT JOIN agent_tokens t ON t.director_id = d.id
         LEFT JOIN director_status s ON s.director_id = d.id
         WHERE d.cluster_id = ?1 AND (?2 IS NULL OR d.id = ?2)"#,
        cluster_id,
        director_id
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("director_status", &format!("of cluster {cluster_id}"), e))?;
    rows.into_iter()
        .map(|r| {
            let director = r.director_id;
            let last_errors = json_column(director, "last_errors", r.last_errors.as_deref())?;
            let drift_repaired =
                json_column(director, "drift_repaired", r.drift_repaired.as_deref())?;
            Ok(StatusRow {
                director_id: r.director_id,
                token_created_at: r.token_created_at,
                last_seen: r.last_seen,
                reported_at: r.reported_at,
                applied_generation: r.applied_generation,
                last_report_ok: r.last_report_ok,
                last_errors,
                last_errors_at: r.last_errors_at,
                drift_repaired,
                agent_version: r.agent_version,
                kernel_version: r.kernel_version,
                unmanaged_services: r.unmanaged_services,
            })
        })
        .collect()
}

/// A JSON array column of `director`'s row, empty while it has none.
fn json_column<T: serde::de::DeserializeOwned>(
    director: i64,
    column: &str,
    json: Option<&str>,
) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(json.unwrap_or("[]")).map_err(|e| {
        let what = format!("director_status row of director {director}");
        corrupt(&what, &format!("column {column}: {e}"))
    })
}

/// What a report changes: everything but `last_seen` is replaced, except that
/// `last_errors` is kept when the report had none, and `drift_repaired` when it repaired
/// none.
#[derive(Debug)]
pub struct Report<'a> {
    pub now: i64,
    pub applied_generation: i64,
    pub ok: bool,
    /// JSON array; `None` keeps the stored errors.
    pub errors: Option<&'a str>,
    /// JSON array, already merged with the stored one; `None` keeps the stored one.
    pub drift_repaired: Option<&'a str>,
    pub agent_version: &'a str,
    pub kernel_version: &'a str,
    /// JSON array.
    pub unmanaged_services: &'a str,
    /// JSON object; `None` when the report had none.
    pub unmanaged_timeouts: Option<&'a str>,
}

/// The stored repaired drifts (JSON), to merge a report's into.
pub async fn drift_repaired(
    conn: &mut SqliteConnection,
    director_id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT drift_repaired FROM director_status WHERE director_id = ?",
        director_id
    )
    .fetch_optional(conn)
    .await
}

pub async fn record_report(
    conn: &mut SqliteConnection,
    director_id: i64,
    report: &Report<'_>,
) -> Result<(), sqlx::Error> {
    let ok = i64::from(report.ok);
    let errors_at = report.errors.map(|_| report.now);
    sqlx::query!(
        "INSERT INTO director_status
            (director_id, last_seen, reported_at, applied_generation, last_report_ok,
             last_errors, last_errors_at, drift_repaired, agent_version, kernel_version,
             unmanaged_services, unmanaged_timeouts)
         VALUES (?1, ?2, ?2, ?3, ?4, coalesce(?5, '[]'), ?6, coalesce(?7, '[]'), ?8, ?9, ?10,
                 ?11)
         ON CONFLICT (director_id) DO UPDATE SET
            last_seen = max(last_seen, excluded.last_seen),
            reported_at = excluded.reported_at,
            applied_generation = excluded.applied_generation,
            last_report_ok = excluded.last_report_ok,
            last_errors = coalesce(?5, last_errors),
            last_errors_at = coalesce(?6, last_errors_at),
            drift_repaired = coalesce(?7, drift_repaired),
            agent_version = excluded.agent_version,
            kernel_version = excluded.kernel_version,
            unmanaged_services = excluded.unmanaged_services,
            unmanaged_timeouts = excluded.unmanaged_timeouts",
        director_id,
        report.now,
        report.applied_generation,
        ok,
        report.errors,
        errors_at,
        report.drift_repaired,
        report.agent_version,
        report.kernel_version,
        report.unmanaged_services,
        report.unmanaged_timeouts
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Records that the director's agent applied `generation` completely, as its long-poll
/// said at `at`, unless a report came later. Only over a stored report: until the first
/// one, the long-poll's word lives in memory (`agents::applied`; the protocol is specified
/// in `lvs_model::agent`).
pub async fn applied(
    conn: &mut SqliteConnection,
    director_id: i64,
    generation: Generation,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE director_status
         SET reported_at = ?3, applied_generation = ?2, last_report_ok = 1
         WHERE director_id = ?1 AND reported_at < ?3",
        director_id,
        generation,
        at
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Records that the director's agent was seen at `at` (never moving it back).
pub async fn seen(
    conn: &mut SqliteConnection,
    director_id: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO director_status (director_id, last_seen) VALUES (?, ?)
         ON CONFLICT (director_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
        director_id,
        at
    )
    .execute(conn)
    .await
    .map(drop)
}

/// What a director's agent last reported leaving alone at generation 0, as stored (JSON).
#[derive(Debug)]
pub struct Unmanaged {
    /// JSON array of services.
    pub services: String,
    /// JSON object of timeouts; `None` when the report had none.
    pub timeouts: Option<String>,
}

/// What the director's agent last reported as unmanaged, or `None` when it never
/// reported.
pub async fn unmanaged(
    conn: &mut SqliteConnection,
    director_id: i64,
) -> Result<Option<Unmanaged>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT unmanaged_services, unmanaged_timeouts, reported_at
         FROM director_status WHERE director_id = ?",
        director_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        r.reported_at.map(|_| Unmanaged {
            services: r.unmanaged_services,
            timeouts: r.unmanaged_timeouts,
        })
    }))
}

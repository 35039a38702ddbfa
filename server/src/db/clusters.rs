//! The `clusters` table.

use std::sync::Arc;

use lvs_model::spec::{ClusterSettings, HostSpec, TimeoutsSpec};
use lvs_model::{Diff, HostSettings, Timeouts};
use sqlx::types::Json;
use sqlx::SqliteConnection;

use super::audit::{self, Author};
use super::changes;
use super::revert_diffs;
use super::{corrupt, in_row, Announced, Generation, Tx};

#[derive(Debug, Clone)]
pub struct ClusterRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub timeout_tcp: Option<i64>,
    pub timeout_tcpfin: Option<i64>,
    pub timeout_udp: Option<i64>,
    /// The host settings, stored as their canonical JSON.
    pub host: Json<HostSpec>,
    pub generation: Generation,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ClusterRow {
    pub fn timeouts_spec(&self) -> TimeoutsSpec {
        TimeoutsSpec {
            tcp: self.timeout_tcp,
            tcpfin: self.timeout_tcpfin,
            udp: self.timeout_udp,
        }
    }

    /// The stored timeouts; they were validated on the way in.
    pub fn timeouts(&self) -> Result<Timeouts, sqlx::Error> {
        self.timeouts_spec()
            .parse()
            .map_err(|e| corrupt(&self.name, &e.to_string()))
    }

    pub fn host_spec(&self) -> HostSpec {
        self.host.0.clone()
    }

    /// The stored host settings; they were validated on the way in.
    pub fn host(&self) -> Result<HostSettings, sqlx::Error> {
        self.host
            .0
            .parse()
            .map_err(|e| corrupt(&format!("cluster {}", self.name), &format!("host: {e}")))
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }
}

fn seconds(value: Option<std::num::NonZeroU32>) -> Option<i64> {
    value.map(|s| i64::from(s.get()))
}

/// Adds a cluster. It takes the transaction, as [`delete`] does, so that committing it
/// invalidates the cached token owners (see [`super::agent_tokens::OwnerCache`]).
pub async fn insert(
    tx: &mut Tx,
    settings: &ClusterSettings,
    now: i64,
) -> Result<ClusterRow, sqlx::Error> {
    let (name, description) = (settings.name.as_str(), settings.description.as_str());
    let t = settings.timeouts;
    let (tcp, tcpfin, udp) = (seconds(t.tcp), seconds(t.tcpfin), seconds(t.udp));
    let host = host_json(&settings.host.clone().unwrap_or_default());
    let row = sqlx::query_as!(
        ClusterRow,
        r#"INSERT INTO clusters
            (name, description, timeout_tcp, timeout_tcpfin, timeout_udp, host, created_at,
             updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING id AS "id!", name, description, timeout_tcp, timeout_tcpfin, timeout_udp,
                   host AS "host: Json<HostSpec>",
                   generation AS "generation: Generation", created_at, updated_at"#,
        name,
        description,
        tcp,
        tcpfin,
        udp,
        host,
        now,
        now,
    )
    .fetch_one(&mut **tx)
    .await?;
    tx.record_owners_changed();
    Ok(row)
}

pub async fn get(
    conn: &mut SqliteConnection,
    name: &str,
) -> Result<Option<ClusterRow>, sqlx::Error> {
    sqlx::query_as!(
        ClusterRow,
        r#"SELECT id AS "id!", name, description, timeout_tcp, timeout_tcpfin, timeout_udp,
                   host AS "host: Json<HostSpec>",
                generation AS "generation: Generation", created_at, updated_at
         FROM clusters WHERE name = ?"#,
        name
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("clusters", &name, e))
}

/// Clusters ordered by name, after `after`, optionally only those whose name contains
/// `name_contains`.
pub async fn list(
    conn: &mut SqliteConnection,
    after: Option<&str>,
    name_contains: Option<&str>,
    limit: i64,
) -> Result<Vec<ClusterRow>, sqlx::Error> {
    let after = after.unwrap_or("");
    sqlx::query_as!(
        ClusterRow,
        r#"SELECT id AS "id!", name, description, timeout_tcp, timeout_tcpfin, timeout_udp,
                   host AS "host: Json<HostSpec>",
                generation AS "generation: Generation", created_at, updated_at
         FROM clusters
         WHERE name > ?1 AND (?2 IS NULL OR instr(name, ?2) > 0)
         ORDER BY name LIMIT ?3"#,
        after,
        name_contains,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("clusters", &"listed", e))
}

/// Replaces description, timeouts and host settings (kept when `settings` has none). Never
/// the name: cached token owners carry it, so a
/// write that renamed would have to take the [`Tx`] and mark it as [`delete`] does.
pub async fn update(
    conn: &mut SqliteConnection,
    id: i64,
    settings: &ClusterSettings,
    now: i64,
) -> Result<(), sqlx::Error> {
    let description = settings.description.as_str();
    let t = settings.timeouts;
    let (tcp, tcpfin, udp) = (seconds(t.tcp), seconds(t.tcpfin), seconds(t.udp));
    let host = settings.host.as_ref().map(host_json);
    sqlx::query!(
        "UPDATE clusters SET description = ?, timeout_tcp = ?, timeout_tcpfin = ?,
                timeout_udp = ?, host = coalesce(?, host), updated_at = ?
         WHERE id = ?",
        description,
        tcp,
        tcpfin,
        udp,
        host,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Records a change of the desired state: the next generation, and in the `changes` table
/// what `diff` changed and who changed it (`diff`'s generations are set here). It takes the
/// transaction (not just a connection) so that committing it wakes the cluster's waiting
/// agents (and the real-server hosts' long-polls it concerns), and the diff so that no
/// write can change a generation without recording why.
/// The whole diff is also kept for revert ([`revert_diffs`]), so every kept generation's
/// state can be rebuilt exactly.
/// (The diff is empty only for an import of no services, which still marks the desired
/// state as set.)
pub async fn bump_generation(
    tx: &mut Tx,
    id: i64,
    diff: &mut Diff,
    author: &Author,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let bumped = sqlx::query!(
        r#"UPDATE clusters SET generation = generation + 1, updated_at = ?
         WHERE id = ? RETURNING generation AS "generation: Generation", created_at, name"#,
        now,
        id
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| in_row("clusters", &id, e))?;
    let generation = bumped.generation.get();
    diff.from_generation = generation.saturating_sub(1);
    diff.to_generation = generation;
    let stored = changes::insert(tx, id, diff, author, now).await?;
    revert_diffs::insert(tx, id, diff, stored.as_deref()).await?;
    let event = audit::Event {
        author,
        action: "change",
        target: format!("cluster {}", bumped.name),
        change: Some((&bumped.name, generation)),
        detail: format!("generation {generation}"),
    };
    audit::record(tx, &event, now).await?;
    tx.host_changes().add_diff(id, diff);
    tx.record_bump(
        id,
        Announced {
            cluster_created_at: bumped.created_at,
            generation,
            diff: stored.map(Arc::from),
        },
    );
    Ok(generation)
}

pub async fn get_by_id(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<ClusterRow>, sqlx::Error> {
    sqlx::query_as!(
        ClusterRow,
        r#"SELECT id AS "id!", name, description, timeout_tcp, timeout_tcpfin, timeout_udp,
                   host AS "host: Json<HostSpec>",
                generation AS "generation: Generation", created_at, updated_at
         FROM clusters WHERE id = ?"#,
        id
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("clusters", &id, e))
}

/// The cluster's generation, or `None` when it no longer exists.
pub async fn generation(conn: &mut SqliteConnection, id: i64) -> Result<Option<u64>, sqlx::Error> {
    let generation = sqlx::query_scalar!(
        r#"SELECT generation AS "generation: Generation" FROM clusters WHERE id = ?"#,
        id
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("clusters", &id, e))?;
    Ok(generation.map(Generation::get))
}

/// Deletes a cluster, and with it everything in it (directors and their tokens too).
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM clusters WHERE id = ?", id)
        .execute(&mut **tx)
        .await?;
    tx.record_owners_changed();
    // Grants of the cluster go with it.
    tx.record_credentials_changed();
    // Its services go with it, without a diff: the hosts they used need less.
    tx.host_changes().clusters.push(id);
    Ok(())
}

pub async fn update_timeouts(
    conn: &mut SqliteConnection,
    id: i64,
    timeouts: &Timeouts,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (tcp, tcpfin, udp) = (
        seconds(timeouts.tcp),
        seconds(timeouts.tcpfin),
        seconds(timeouts.udp),
    );
    sqlx::query!(
        "UPDATE clusters SET timeout_tcp = ?, timeout_tcpfin = ?, timeout_udp = ?, updated_at = ?
         WHERE id = ?",
        tcp,
        tcpfin,
        udp,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

pub async fn update_host(
    conn: &mut SqliteConnection,
    id: i64,
    host: &HostSettings,
    now: i64,
) -> Result<(), sqlx::Error> {
    let host = host_json(host);
    sqlx::query!(
        "UPDATE clusters SET host = ?, updated_at = ? WHERE id = ?",
        host,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The stored form of host settings: their canonical spec.
fn host_json(host: &HostSettings) -> String {
    serde_json::to_string(&HostSpec::from(host)).expect("a spec always serialises")
}

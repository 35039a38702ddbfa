//! The `real_server_hosts` and `real_server_host_addresses` tables: the fleet's hosts
//! behind route and tunnel services, each with its addresses, its agent token (kept as its
//! SHA-256, like directors' in [`super::agent_tokens`]) and what its agent last reported.

use std::net::IpAddr;

use lvs_model::real_server_host::RealServerReport;
use lvs_model::spec::RealServerHostSettings;
use sqlx::types::Json;
use sqlx::SqliteConnection;

use super::{corrupt, in_row, Tx};

/// A host as stored.
#[derive(Debug, Clone)]
pub struct HostRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Sorted.
    pub addresses: Vec<IpAddr>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When its agent token was created; `None` while it has none.
    pub token_created_at: Option<i64>,
    /// As persisted (see `agents::Agents::host_seen` for the latest).
    pub last_seen: Option<i64>,
    /// The latest report, with its failed outcomes only.
    pub report: Option<RealServerReport>,
    pub reported_at: Option<i64>,
}

/// The host an agent token belongs to.
#[derive(Debug, Clone)]
pub struct HostOwner {
    pub host_id: i64,
    pub host: String,
}

/// A row as the queries below select it.
struct Stored {
    id: i64,
    name: String,
    description: String,
    addresses: Json<Vec<String>>,
    created_at: i64,
    updated_at: i64,
    token_created_at: Option<i64>,
    last_seen: Option<i64>,
    report: Option<Json<RealServerReport>>,
    reported_at: Option<i64>,
}

impl Stored {
    fn into_row(self) -> Result<HostRow, sqlx::Error> {
        let mut addresses = self
            .addresses
            .0
            .iter()
            .map(|text| {
                text.parse::<IpAddr>().map_err(|_| {
                    let what = format!("real_server_host_addresses row of host {}", self.name);
                    corrupt(&what, &format!("{text:?} is not an IP address"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        addresses.sort();
        Ok(HostRow {
            id: self.id,
            name: self.name,
            description: self.description,
            addresses,
            created_at: self.created_at,
            updated_at: self.updated_at,
            token_created_at: self.token_created_at,
            last_seen: self.last_seen,
            report: self.report.map(|r| r.0),
            reported_at: self.reported_at,
        })
    }
}

fn rows(stored: Vec<Stored>) -> Result<Vec<HostRow>, sqlx::Error> {
    stored.into_iter().map(Stored::into_row).collect()
}

/// Adds a host with its addresses; a UNIQUE violation when its name or one of its addresses
/// is taken.
pub async fn insert(
    tx: &mut Tx,
    settings: &RealServerHostSettings,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let (name, description) = (settings.name.as_str(), settings.description.as_str());
    let id = sqlx::query_scalar!(
        r#"INSERT INTO real_server_hosts (name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?) RETURNING id AS "id!""#,
        name,
        description,
        now,
        now
    )
    .fetch_one(&mut **tx)
    .await?;
    insert_addresses(tx, id, &settings.addresses).await?;
    Ok(id)
}

async fn insert_addresses(
    conn: &mut SqliteConnection,
    id: i64,
    addresses: &[IpAddr],
) -> Result<(), sqlx::Error> {
    let addresses = addresses_json(addresses);
    sqlx::query!(
        "INSERT INTO real_server_host_addresses (host_id, address)
         SELECT ?1, value FROM json_each(?2)",
        id,
        addresses
    )
    .execute(conn)
    .await
    .map(drop)
}

/// The JSON array of `addresses` in canonical text, as real servers store theirs.
fn addresses_json(addresses: &[IpAddr]) -> String {
    let texts: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
    serde_json::to_string(&texts).expect("strings always serialise")
}

/// Replaces a host's description and addresses. Never the name: cached token owners carry
/// it. New addresses wake the host's long-polls, which then read its needs again.
pub async fn update(
    tx: &mut Tx,
    row: &HostRow,
    settings: &RealServerHostSettings,
    now: i64,
) -> Result<(), sqlx::Error> {
    let description = settings.description.as_str();
    sqlx::query!(
        "UPDATE real_server_hosts SET description = ?, updated_at = ? WHERE id = ?",
        description,
        now,
        row.id
    )
    .execute(&mut **tx)
    .await?;
    if settings.addresses != row.addresses {
        sqlx::query!(
            "DELETE FROM real_server_host_addresses WHERE host_id = ?",
            row.id
        )
        .execute(&mut **tx)
        .await?;
        insert_addresses(tx, row.id, &settings.addresses).await?;
        tx.host_changes().hosts.push(row.id);
    }
    Ok(())
}

/// Deletes a host, its addresses and token with it.
pub async fn delete(tx: &mut Tx, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM real_server_hosts WHERE id = ?", id)
        .execute(&mut **tx)
        .await?;
    tx.record_host_owners_changed();
    tx.host_changes().hosts.push(id);
    Ok(())
}

pub async fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<HostRow>, sqlx::Error> {
    let stored = sqlx::query_as!(
        Stored,
        r#"SELECT h.id AS "id!", h.name, h.description,
                (SELECT json_group_array(a.address) FROM real_server_host_addresses a
                 WHERE a.host_id = h.id) AS "addresses!: Json<Vec<String>>",
                h.created_at, h.updated_at, h.token_created_at, h.last_seen,
                h.report AS "report: Json<RealServerReport>", h.reported_at
         FROM real_server_hosts h WHERE h.name = ?"#,
        name
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("real_server_hosts", &name, e))?;
    stored.map(Stored::into_row).transpose()
}

/// Hosts ordered by name, after `after`, optionally only those whose name contains
/// `name_contains`.
pub async fn list(
    conn: &mut SqliteConnection,
    after: Option<&str>,
    name_contains: Option<&str>,
    limit: i64,
) -> Result<Vec<HostRow>, sqlx::Error> {
    let after = after.unwrap_or("");
    let stored = sqlx::query_as!(
        Stored,
        r#"SELECT h.id AS "id!", h.name, h.description,
                (SELECT json_group_array(a.address) FROM real_server_host_addresses a
                 WHERE a.host_id = h.id) AS "addresses!: Json<Vec<String>>",
                h.created_at, h.updated_at, h.token_created_at, h.last_seen,
                h.report AS "report: Json<RealServerReport>", h.reported_at
         FROM real_server_hosts h
         WHERE h.name > ?1 AND (?2 IS NULL OR instr(h.name, ?2) > 0)
         ORDER BY h.name LIMIT ?3"#,
        after,
        name_contains,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("real_server_hosts", &"listed", e))?;
    rows(stored)
}

/// The hosts that claim any of `addresses` (canonical text), each with the address it
/// claims: one indexed read, whatever the number of addresses.
pub async fn claiming(
    conn: &mut SqliteConnection,
    addresses: &[IpAddr],
) -> Result<Vec<(IpAddr, HostRow)>, sqlx::Error> {
    let wanted = addresses_json(addresses);
    let found = sqlx::query!(
        r#"SELECT c.address AS "claimed!", h.id AS "id!", h.name, h.description,
                (SELECT json_group_array(a.address) FROM real_server_host_addresses a
                 WHERE a.host_id = h.id) AS "addresses!: Json<Vec<String>>",
                h.created_at, h.updated_at, h.token_created_at, h.last_seen,
                h.report AS "report: Json<RealServerReport>", h.reported_at
         FROM real_server_host_addresses c
         JOIN real_server_hosts h ON h.id = c.host_id
         WHERE c.address IN (SELECT value FROM json_each(?1))"#,
        wanted
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("real_server_hosts", &"claiming addresses", e))?;
    found
        .into_iter()
        .map(|r| {
            let claimed = r.claimed.parse::<IpAddr>().map_err(|_| {
                let what = format!("real_server_host_addresses row of host {}", r.name);
                corrupt(&what, &format!("{:?} is not an IP address", r.claimed))
            })?;
            let row = Stored {
                id: r.id,
                name: r.name,
                description: r.description,
                addresses: r.addresses,
                created_at: r.created_at,
                updated_at: r.updated_at,
                token_created_at: r.token_created_at,
                last_seen: r.last_seen,
                report: r.report,
                reported_at: r.reported_at,
            }
            .into_row()?;
            Ok((claimed, row))
        })
        .collect()
}

/// Sets the host's agent token, replacing the one it had.
pub async fn set_token(tx: &mut Tx, id: i64, hash: &[u8], now: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE real_server_hosts SET token_hash = ?, token_created_at = ? WHERE id = ?",
        hash,
        now,
        id
    )
    .execute(&mut **tx)
    .await?;
    tx.record_host_owners_changed();
    Ok(())
}

/// Revokes the host's agent token; whether it had one.
pub async fn revoke_token(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE real_server_hosts SET token_hash = NULL, token_created_at = NULL
         WHERE id = ? AND token_hash IS NOT NULL",
        id
    )
    .execute(&mut **tx)
    .await?;
    tx.record_host_owners_changed();
    Ok(result.rows_affected() > 0)
}

/// The host a token hash belongs to, read from the database (see
/// [`super::Db::host_token_owner`] for the cached answer).
pub async fn owner(
    conn: &mut SqliteConnection,
    hash: &[u8],
) -> Result<Option<HostOwner>, sqlx::Error> {
    sqlx::query_as!(
        HostOwner,
        r#"SELECT id AS "host_id!", name AS host FROM real_server_hosts WHERE token_hash = ?"#,
        hash
    )
    .fetch_optional(conn)
    .await
}

/// Records that the host's agent was seen at `at` (never moving it back).
pub async fn seen(conn: &mut SqliteConnection, id: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE real_server_hosts SET last_seen = max(coalesce(last_seen, 0), ?1) WHERE id = ?2",
        at,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Stores the host's latest report (JSON, already cut to what is kept), received at `now`;
/// whether the host still exists.
pub async fn record_report(
    conn: &mut SqliteConnection,
    id: i64,
    report: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE real_server_hosts
         SET report = ?1, reported_at = ?2, last_seen = max(coalesce(last_seen, 0), ?2)
         WHERE id = ?3",
        report,
        now,
        id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

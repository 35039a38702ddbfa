//! Fleet-wide search by address, service key or mark: services, real servers and
//! real-server hosts in every cluster, each read through an index (see the migration
//! `search`), at most `limit` rows with the total that matched.
//!
//! Addresses are stored as canonical text, which only uses `0-9a-f.:`: an address is the
//! range from itself to itself, a prefix (`10.1.0.`) the range from itself to itself
//! followed by `~`, which sorts after every one of those characters.

use lvs_model::{ForwardingMethod, RealServerState};
use sqlx::SqliteConnection;

use super::in_row;
use super::types::Keyword;

/// Up to `limit` of what matched, and how many matched in all.
#[derive(Debug)]
pub struct Found<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Found {
            rows: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Found<T> {
    /// Adds what one more range found, keeping at most `limit` rows.
    fn add(&mut self, rows: impl IntoIterator<Item = T>, total: i64, limit: i64) {
        self.total += total;
        let room = usize::try_from(limit)
            .unwrap_or(0)
            .saturating_sub(self.rows.len());
        self.rows.extend(rows.into_iter().take(room));
    }

    /// What one query found, each row with the total (`count(*) OVER ()`).
    pub(super) fn counted(rows: Vec<(T, i64)>) -> Found<T> {
        Found {
            total: rows.first().map_or(0, |(_, total)| *total),
            rows: rows.into_iter().map(|(row, _)| row).collect(),
        }
    }
}

/// Addresses from `from` to `to` (canonical text, both included), and the port if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRange {
    pub from: String,
    pub to: String,
    pub port: Option<i64>,
}

impl AddressRange {
    /// One address (canonical text).
    pub fn exact(address: &str, port: Option<i64>) -> AddressRange {
        AddressRange {
            from: address.to_owned(),
            to: address.to_owned(),
            port,
        }
    }

    /// Every address whose text starts with `prefix` (`10.1.0.`, `2001:db8:`).
    pub fn prefix(prefix: &str) -> AddressRange {
        AddressRange {
            from: prefix.to_owned(),
            to: format!("{prefix}~"),
            port: None,
        }
    }
}

/// A service that matched, with its cluster.
#[derive(Debug)]
pub struct ServiceHit {
    pub cluster: String,
    pub id: i64,
    pub service_key: String,
    pub name: String,
    pub description: String,
}

/// A real server that matched, with its service and cluster.
#[derive(Debug)]
pub struct RealServerHit {
    pub cluster: String,
    pub service_id: i64,
    pub service_key: String,
    pub id: i64,
    pub address: String,
    pub port: i64,
    pub forwarding: ForwardingMethod,
    pub weight: i64,
    pub state: RealServerState,
}

/// A real-server host that matched, with the address that did (none for a name).
#[derive(Debug)]
pub struct HostHit {
    pub name: String,
    pub description: String,
    pub address: Option<String>,
}

/// Services whose VIP is in one of `ranges`, by address: the rows in the index's order,
/// so reading stops at `limit`, and the rest counted in the index.
pub async fn services_at(
    conn: &mut SqliteConnection,
    ranges: &[AddressRange],
    limit: i64,
) -> Result<Found<ServiceHit>, sqlx::Error> {
    let mut found = Found::default();
    for range in ranges {
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM services
               WHERE address BETWEEN ?1 AND ?2 AND (?3 IS NULL OR port = ?3)"#,
            range.from,
            range.to,
            range.port
        )
        .fetch_one(&mut *conn)
        .await?;
        let room = limit - i64::try_from(found.rows.len()).unwrap_or(i64::MAX);
        if total == 0 || room <= 0 {
            found.add([], total, limit);
            continue;
        }
        let rows = sqlx::query!(
            r#"SELECT c.name AS cluster, s.id AS "id!", s.service_key, s.name, s.description
               FROM services s JOIN clusters c ON c.id = s.cluster_id
               WHERE s.address BETWEEN ?1 AND ?2 AND (?3 IS NULL OR s.port = ?3)
               ORDER BY s.address, s.port, s.id LIMIT ?4"#,
            range.from,
            range.to,
            range.port,
            room
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| in_row("services", &"found by address", e))?;
        let rows = rows.into_iter().map(|r| ServiceHit {
            cluster: r.cluster,
            id: r.id,
            service_key: r.service_key,
            name: r.name,
            description: r.description,
        });
        found.add(rows, total, limit);
    }
    Ok(found)
}

/// The services named `service_key` (the model's canonical key), one per cluster at most.
pub async fn services_keyed(
    conn: &mut SqliteConnection,
    service_key: &str,
    limit: i64,
) -> Result<Found<ServiceHit>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT c.name AS cluster, s.id AS "id!", s.service_key, s.name, s.description,
                  count(*) OVER () AS "total!: i64"
           FROM services s JOIN clusters c ON c.id = s.cluster_id
           WHERE s.service_key = ?1
           ORDER BY c.name LIMIT ?2"#,
        service_key,
        limit
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| in_row("services", &service_key, e))?;
    Ok(Found::counted(
        rows.into_iter()
            .map(|r| {
                let hit = ServiceHit {
                    cluster: r.cluster,
                    id: r.id,
                    service_key: r.service_key,
                    name: r.name,
                    description: r.description,
                };
                (hit, r.total)
            })
            .collect(),
    ))
}

/// The firewall-mark services of `fwmark`, of one family (`ipv4`, `ipv6`) or both: a
/// mark is used by a few services of the fleet, so they are all read and sorted.
pub async fn services_marked(
    conn: &mut SqliteConnection,
    fwmark: i64,
    family: Option<&str>,
    limit: i64,
) -> Result<Found<ServiceHit>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT c.name AS cluster, s.id AS "id!", s.service_key, s.name, s.description,
                  count(*) OVER () AS "total!: i64"
           FROM services s JOIN clusters c ON c.id = s.cluster_id
           WHERE s.fwmark = ?1 AND (?2 IS NULL OR s.family = ?2)
           ORDER BY c.name, s.service_key LIMIT ?3"#,
        fwmark,
        family,
        limit
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| in_row("services", &format!("of fwmark {fwmark}"), e))?;
    Ok(Found::counted(
        rows.into_iter()
            .map(|r| {
                let hit = ServiceHit {
                    cluster: r.cluster,
                    id: r.id,
                    service_key: r.service_key,
                    name: r.name,
                    description: r.description,
                };
                (hit, r.total)
            })
            .collect(),
    ))
}

/// Real servers whose address is in one of `ranges`, by address (read as
/// [`services_at`]).
pub async fn real_servers_at(
    conn: &mut SqliteConnection,
    ranges: &[AddressRange],
    limit: i64,
) -> Result<Found<RealServerHit>, sqlx::Error> {
    let mut found = Found::default();
    for range in ranges {
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM real_servers
               WHERE address BETWEEN ?1 AND ?2 AND (?3 IS NULL OR port = ?3)"#,
            range.from,
            range.to,
            range.port
        )
        .fetch_one(&mut *conn)
        .await?;
        let room = limit - i64::try_from(found.rows.len()).unwrap_or(i64::MAX);
        if total == 0 || room <= 0 {
            found.add([], total, limit);
            continue;
        }
        let rows = sqlx::query!(
            r#"SELECT c.name AS cluster, s.id AS "service_id!", s.service_key,
                      r.id AS "id!", r.address, r.port,
                      r.forwarding AS "forwarding: Keyword<ForwardingMethod>", r.weight,
                      r.state AS "state: Keyword<RealServerState>"
               FROM real_servers r
               JOIN services s ON s.id = r.service_id
               JOIN clusters c ON c.id = s.cluster_id
               WHERE r.address BETWEEN ?1 AND ?2 AND (?3 IS NULL OR r.port = ?3)
               ORDER BY r.address, r.port, r.id LIMIT ?4"#,
            range.from,
            range.to,
            range.port,
            room
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| in_row("real_servers", &"found by address", e))?;
        let rows = rows.into_iter().map(|r| RealServerHit {
            cluster: r.cluster,
            service_id: r.service_id,
            service_key: r.service_key,
            id: r.id,
            address: r.address,
            port: r.port,
            forwarding: r.forwarding.0,
            weight: r.weight,
            state: r.state.0,
        });
        found.add(rows, total, limit);
    }
    Ok(found)
}

/// Real-server hosts with an address in one of `ranges` (ports do not apply).
pub async fn hosts_at(
    conn: &mut SqliteConnection,
    ranges: &[AddressRange],
    limit: i64,
) -> Result<Found<HostHit>, sqlx::Error> {
    let mut found = Found::default();
    for range in ranges {
        let total = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!: i64" FROM real_server_host_addresses
               WHERE address BETWEEN ?1 AND ?2"#,
            range.from,
            range.to
        )
        .fetch_one(&mut *conn)
        .await?;
        let room = limit - i64::try_from(found.rows.len()).unwrap_or(i64::MAX);
        if total == 0 || room <= 0 {
            found.add([], total, limit);
            continue;
        }
        let rows = sqlx::query!(
            r#"SELECT h.name, h.description, a.address
               FROM real_server_host_addresses a
               JOIN real_server_hosts h ON h.id = a.host_id
               WHERE a.address BETWEEN ?1 AND ?2
               ORDER BY a.address LIMIT ?3"#,
            range.from,
            range.to,
            room
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| in_row("real_server_host_addresses", &"found by address", e))?;
        let rows = rows.into_iter().map(|r| HostHit {
            name: r.name,
            description: r.description,
            address: Some(r.address),
        });
        found.add(rows, total, limit);
    }
    Ok(found)
}

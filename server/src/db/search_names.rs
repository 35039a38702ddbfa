//! Fleet-wide search by name: clusters, directors, services (name or description) and
//! real-server hosts whose name contains a fragment, ignoring ASCII case. Names are not
//! indexed for this (a fragment can match anywhere), so each is one scan of its table: a
//! fleet has thousands of services, not millions.

use sqlx::SqliteConnection;

use super::in_row;
use super::search::{Found, HostHit, ServiceHit};

/// A cluster that matched.
#[derive(Debug)]
pub struct ClusterHit {
    pub name: String,
    pub description: String,
}

/// A director that matched, with its cluster.
#[derive(Debug)]
pub struct DirectorHit {
    pub cluster: String,
    pub name: String,
    pub description: String,
}

/// Lower-case, as the queries compare.
fn folded(fragment: &str) -> String {
    fragment.to_ascii_lowercase()
}

pub async fn clusters(
    conn: &mut SqliteConnection,
    fragment: &str,
    limit: i64,
) -> Result<Found<ClusterHit>, sqlx::Error> {
    let fragment = folded(fragment);
    let rows = sqlx::query!(
        r#"SELECT name, description, count(*) OVER () AS "total!: i64"
           FROM clusters WHERE instr(lower(name), ?1) > 0
           ORDER BY name LIMIT ?2"#,
        fragment,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("clusters", &"found by name", e))?;
    Ok(Found {
        total: rows.first().map_or(0, |r| r.total),
        rows: rows
            .into_iter()
            .map(|r| ClusterHit {
                name: r.name,
                description: r.description,
            })
            .collect(),
    })
}

pub async fn directors(
    conn: &mut SqliteConnection,
    fragment: &str,
    limit: i64,
) -> Result<Found<DirectorHit>, sqlx::Error> {
    let fragment = folded(fragment);
    let rows = sqlx::query!(
        r#"SELECT c.name AS cluster, d.name, d.description, count(*) OVER () AS "total!: i64"
           FROM directors d JOIN clusters c ON c.id = d.cluster_id
           WHERE instr(lower(d.name), ?1) > 0
           ORDER BY c.name, d.name LIMIT ?2"#,
        fragment,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("directors", &"found by name", e))?;
    Ok(Found {
        total: rows.first().map_or(0, |r| r.total),
        rows: rows
            .into_iter()
            .map(|r| DirectorHit {
                cluster: r.cluster,
                name: r.name,
                description: r.description,
            })
            .collect(),
    })
}

/// Services whose name or description contains the fragment.
pub async fn services(
    conn: &mut SqliteConnection,
    fragment: &str,
    limit: i64,
) -> Result<Found<ServiceHit>, sqlx::Error> {
    let fragment = folded(fragment);
    let rows = sqlx::query!(
        r#"SELECT c.name AS cluster, s.id AS "id!", s.service_key, s.name, s.description,
                  count(*) OVER () AS "total!: i64"
           FROM services s JOIN clusters c ON c.id = s.cluster_id
           WHERE instr(lower(s.name), ?1) > 0 OR instr(lower(s.description), ?1) > 0
           ORDER BY c.name, s.service_key LIMIT ?2"#,
        fragment,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("services", &"found by name", e))?;
    Ok(Found {
        total: rows.first().map_or(0, |r| r.total),
        rows: rows
            .into_iter()
            .map(|r| ServiceHit {
                cluster: r.cluster,
                id: r.id,
                service_key: r.service_key,
                name: r.name,
                description: r.description,
            })
            .collect(),
    })
}

pub async fn hosts(
    conn: &mut SqliteConnection,
    fragment: &str,
    limit: i64,
) -> Result<Found<HostHit>, sqlx::Error> {
    let fragment = folded(fragment);
    let rows = sqlx::query!(
        r#"SELECT name, description, count(*) OVER () AS "total!: i64"
           FROM real_server_hosts WHERE instr(lower(name), ?1) > 0
           ORDER BY name LIMIT ?2"#,
        fragment,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("real_server_hosts", &"found by name", e))?;
    Ok(Found {
        total: rows.first().map_or(0, |r| r.total),
        rows: rows
            .into_iter()
            .map(|r| HostHit {
                name: r.name,
                description: r.description,
                address: None,
            })
            .collect(),
    })
}

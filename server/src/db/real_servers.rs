//! The `real_servers` table, and the mapping between its rows and `RealServer`.

use lvs_model::spec::RealServerSpec;
use lvs_model::{RealServer, ServiceKey};
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{corrupt, ROWS_PER_STATEMENT};

/// Also read from a JSON array of its fields, in this order (see `all_in_cluster`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RealServerRow {
    pub id: i64,
    pub service_id: i64,
    pub address: String,
    pub port: i64,
    pub forwarding: String,
    pub tunnel_type: Option<String>,
    pub tunnel_port: Option<i64>,
    pub tunnel_checksum: Option<String>,
    pub weight: i64,
    pub upper_threshold: i64,
    pub lower_threshold: i64,
    pub state: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RealServerRow {
    /// The stored real server as its canonical spec.
    pub fn spec(&self) -> RealServerSpec {
        RealServerSpec {
            address: Some(self.address.clone()),
            port: Some(self.port),
            forwarding: Some(self.forwarding.clone()),
            tunnel_type: self.tunnel_type.clone(),
            tunnel_port: self.tunnel_port,
            tunnel_checksum: self.tunnel_checksum.clone(),
            weight: Some(self.weight),
            upper_threshold: Some(self.upper_threshold),
            lower_threshold: Some(self.lower_threshold),
            state: Some(self.state.clone()),
            description: self.description.clone(),
        }
    }

    /// `10.0.0.2:80` or `[2001:db8::2]:80`.
    pub fn key(&self) -> String {
        match self.address.parse::<std::net::IpAddr>() {
            Ok(address) => {
                std::net::SocketAddr::new(address, u16::try_from(self.port).unwrap_or(0))
                    .to_string()
            }
            Err(_) => format!("{}:{}", self.address, self.port),
        }
    }

    /// The stored real server of `service`, validated again on the way out.
    pub fn real_server(&self, service: &ServiceKey) -> Result<RealServer, sqlx::Error> {
        self.spec().parse(service).map_err(|e| {
            let what = format!("real server {} of {service}", self.key());
            corrupt(&what, &e.to_string())
        })
    }
}

/// A real server's columns, from the validated value.
struct Columns {
    address: String,
    port: i64,
    forwarding: String,
    tunnel_type: Option<String>,
    tunnel_port: Option<i64>,
    tunnel_checksum: Option<String>,
    weight: i64,
    upper: i64,
    lower: i64,
    state: String,
}

impl Columns {
    fn of(server: &RealServer) -> Columns {
        let tunnel = server.forwarding().tunnel();
        Columns {
            address: server.address().to_string(),
            port: i64::from(server.port()),
            forwarding: server.forwarding().method().to_string(),
            tunnel_type: tunnel.map(|t| t.kind().to_string()),
            tunnel_port: tunnel.and_then(|t| t.port()).map(i64::from),
            tunnel_checksum: tunnel.and_then(|t| t.checksum()).map(|c| c.to_string()),
            weight: i64::from(server.weight().get()),
            upper: i64::from(server.thresholds().upper()),
            lower: i64::from(server.thresholds().lower()),
            state: server.state().to_string(),
        }
    }
}

pub async fn insert(
    conn: &mut SqliteConnection,
    service_id: i64,
    server: &RealServer,
    now: i64,
) -> Result<RealServerRow, sqlx::Error> {
    let c = Columns::of(server);
    let description = server.description().as_str();
    sqlx::query_as!(
        RealServerRow,
        r#"INSERT INTO real_servers
            (service_id, address, port, forwarding, tunnel_type, tunnel_port, tunnel_checksum,
             weight, upper_threshold, lower_threshold, state, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING id AS "id!", service_id, address, port, forwarding, tunnel_type, tunnel_port,
                   tunnel_checksum, weight, upper_threshold, lower_threshold, state,
                   description, created_at, updated_at"#,
        service_id,
        c.address,
        c.port,
        c.forwarding,
        c.tunnel_type,
        c.tunnel_port,
        c.tunnel_checksum,
        c.weight,
        c.upper,
        c.lower,
        c.state,
        description,
        now,
        now
    )
    .fetch_one(conn)
    .await
}

/// Inserts `servers`, each with its service's row id, with a few multi-row statements
/// (each a round trip to SQLite's thread): 50,000 real servers are 100 statements.
pub async fn insert_many(
    conn: &mut SqliteConnection,
    servers: &[(i64, &RealServer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in servers.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO real_servers
                (service_id, address, port, forwarding, tunnel_type, tunnel_port,
                 tunnel_checksum, weight, upper_threshold, lower_threshold, state, description,
                 created_at, updated_at) ",
        );
        query.push_values(chunk, |mut row, (service_id, server)| {
            row.push_bind(*service_id);
            push_settings(&mut row, server);
            row.push_bind(now).push_bind(now);
        });
        query.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces a real server's settings (address and port included) in place.
pub async fn update(
    conn: &mut SqliteConnection,
    id: i64,
    server: &RealServer,
    now: i64,
) -> Result<(), sqlx::Error> {
    let c = Columns::of(server);
    let description = server.description().as_str();
    sqlx::query!(
        "UPDATE real_servers SET address = ?, port = ?, forwarding = ?, tunnel_type = ?,
                tunnel_port = ?, tunnel_checksum = ?, weight = ?, upper_threshold = ?,
                lower_threshold = ?, state = ?, description = ?, updated_at = ?
         WHERE id = ?",
        c.address,
        c.port,
        c.forwarding,
        c.tunnel_type,
        c.tunnel_port,
        c.tunnel_checksum,
        c.weight,
        c.upper,
        c.lower,
        c.state,
        description,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Replaces the settings of the real servers with these row ids, as [`update`] does, with a
/// few multi-row statements.
pub async fn update_many(
    conn: &mut SqliteConnection,
    servers: &[(i64, &RealServer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in servers.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "UPDATE real_servers SET address = v.column2, port = v.column3,
                forwarding = v.column4, tunnel_type = v.column5, tunnel_port = v.column6,
                tunnel_checksum = v.column7, weight = v.column8, upper_threshold = v.column9,
                lower_threshold = v.column10, state = v.column11, description = v.column12,
                updated_at = ",
        );
        query.push_bind(now).push(" FROM (");
        query.push_values(chunk, |mut row, (id, server)| {
            row.push_bind(*id);
            push_settings(&mut row, server);
        });
        query.push(") AS v WHERE real_servers.id = v.column1");
        query.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A real server's settings, from `address` to `description`, as values of one row of a
/// multi-row statement.
fn push_settings(row: &mut Separated<'_, '_, Sqlite, &'static str>, server: &RealServer) {
    let c = Columns::of(server);
    row.push_bind(c.address)
        .push_bind(c.port)
        .push_bind(c.forwarding)
        .push_bind(c.tunnel_type)
        .push_bind(c.tunnel_port)
        .push_bind(c.tunnel_checksum)
        .push_bind(c.weight)
        .push_bind(c.upper)
        .push_bind(c.lower)
        .push_bind(c.state)
        .push_bind(server.description().as_str().to_owned());
}

pub async fn get(
    conn: &mut SqliteConnection,
    service_id: i64,
    id: i64,
) -> Result<Option<RealServerRow>, sqlx::Error> {
    sqlx::query_as!(
        RealServerRow,
        r#"SELECT id AS "id!", service_id, address, port, forwarding, tunnel_type, tunnel_port,
                tunnel_checksum, weight, upper_threshold, lower_threshold, state,
                description, created_at, updated_at
         FROM real_servers WHERE service_id = ? AND id = ?"#,
        service_id,
        id
    )
    .fetch_optional(conn)
    .await
}

/// A service's real servers by id, after `after_id`, optionally filtered.
pub async fn list(
    conn: &mut SqliteConnection,
    service_id: i64,
    address: Option<&str>,
    port: Option<i64>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<RealServerRow>, sqlx::Error> {
    sqlx::query_as!(
        RealServerRow,
        r#"SELECT id AS "id!", service_id, address, port, forwarding, tunnel_type, tunnel_port,
                tunnel_checksum, weight, upper_threshold, lower_threshold, state,
                description, created_at, updated_at
         FROM real_servers
         WHERE service_id = ?1 AND id > ?2
           AND (?3 IS NULL OR address = ?3) AND (?4 IS NULL OR port = ?4)
         ORDER BY id LIMIT ?5"#,
        service_id,
        after_id,
        address,
        port,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Every real server of every service of a cluster.
pub async fn all_in_cluster(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<super::JsonRows, sqlx::Error> {
    // sqlx hands each row over from its worker thread on its own; at 100,000 rows that
    // costs seconds, so SQLite packs them into one JSON array instead.
    let rows = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_array(
                r.id, r.service_id, r.address, r.port, r.forwarding, r.tunnel_type,
                r.tunnel_port, r.tunnel_checksum, r.weight, r.upper_threshold,
                r.lower_threshold, r.state, r.description, r.created_at, r.updated_at
            )) AS "rows!: String"
           FROM real_servers r JOIN services s ON s.id = r.service_id
           WHERE s.cluster_id = ?"#,
        cluster_id
    )
    .fetch_one(conn)
    .await?;
    Ok(super::JsonRows(rows))
}

pub async fn count(conn: &mut SqliteConnection, service_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT count(*) FROM real_servers WHERE service_id = ?",
        service_id
    )
    .fetch_one(conn)
    .await
}

pub async fn delete(conn: &mut SqliteConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM real_servers WHERE id = ?", id)
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the real servers with these row ids, a few statements for any number.
pub async fn delete_many(conn: &mut SqliteConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    super::delete_ids(conn, "real_servers", ids).await
}

//! The `real_servers` table, and the mapping between its rows and `RealServer`.

use lvs_model::spec::{HealthCheckSpec, RealServerSpec};
use lvs_model::{
    ForwardingMethod, RealServer, RealServerState, ServiceKey, TunnelChecksum, TunnelType,
};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::SqliteConnection;

use super::types::Keyword;
use super::{corrupt, in_row, json_fields, read_columns, update_from_json_sql, ROWS_PER_STATEMENT};

/// Also read from a JSON array of the columns `READ` (see `all_in_cluster`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServerRow {
    pub id: i64,
    pub service_id: i64,
    pub address: String,
    pub port: i64,
    pub forwarding: ForwardingMethod,
    pub tunnel_type: Option<TunnelType>,
    pub tunnel_port: Option<i64>,
    pub tunnel_checksum: Option<TunnelChecksum>,
    pub weight: i64,
    pub upper_threshold: i64,
    pub lower_threshold: i64,
    pub state: RealServerState,
    pub description: String,
    pub health_check: Option<Json<HealthCheckSpec>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RealServerRow {
    /// The stored real server as its canonical spec.
    pub fn spec(&self) -> RealServerSpec {
        RealServerSpec {
            address: Some(self.address.clone()),
            port: Some(self.port),
            forwarding: Some(self.forwarding.to_string()),
            tunnel_type: self.tunnel_type.map(|t| t.to_string()),
            tunnel_port: self.tunnel_port,
            tunnel_checksum: self.tunnel_checksum.map(|c| c.to_string()),
            weight: Some(self.weight),
            upper_threshold: Some(self.upper_threshold),
            lower_threshold: Some(self.lower_threshold),
            state: Some(self.state.to_string()),
            description: self.description.clone(),
            health_check: self.health_check.as_ref().map(|c| c.0.clone()),
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

/// The columns every write sets, named as the fields of [`Settings`], which writes bind by
/// name (one JSON object per row, read with `->>`): a new column is added here and there.
const SETTINGS: [&str; 12] = [
    "address",
    "port",
    "forwarding",
    "tunnel_type",
    "tunnel_port",
    "tunnel_checksum",
    "weight",
    "upper_threshold",
    "lower_threshold",
    "state",
    "description",
    "health_check",
];

/// A real server's columns, from the validated value.
#[derive(Serialize)]
struct Settings<'a> {
    address: String,
    port: u16,
    forwarding: ForwardingMethod,
    tunnel_type: Option<TunnelType>,
    tunnel_port: Option<u16>,
    tunnel_checksum: Option<TunnelChecksum>,
    weight: u16,
    upper_threshold: u32,
    lower_threshold: u32,
    state: RealServerState,
    description: &'a str,
    health_check: Option<HealthCheckSpec>,
}

impl Settings<'_> {
    fn of(server: &RealServer) -> Settings<'_> {
        let tunnel = server.forwarding().tunnel();
        Settings {
            address: server.address().to_string(),
            port: server.port(),
            forwarding: server.forwarding().method(),
            tunnel_type: tunnel.map(|t| t.kind()),
            tunnel_port: tunnel.and_then(|t| t.port()),
            tunnel_checksum: tunnel.and_then(|t| t.checksum()),
            weight: server.weight().get(),
            upper_threshold: server.thresholds().upper(),
            lower_threshold: server.thresholds().lower(),
            state: server.state(),
            description: server.description().as_str(),
            health_check: server.health_check().map(HealthCheckSpec::from),
        }
    }
}

/// One row of a multi-row write: the settings with the row id (`id`, for updates) or the
/// service's row id (`service_id`, for inserts).
#[derive(Serialize)]
struct Written<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_id: Option<i64>,
    #[serde(flatten)]
    settings: Settings<'a>,
}

/// The JSON array of `rows`' objects; `key` makes each row id either the row's `id`
/// (updates) or its `service_id` (inserts).
fn json(
    rows: &[(i64, &RealServer)],
    key: fn(i64) -> (Option<i64>, Option<i64>),
) -> Result<String, sqlx::Error> {
    let written: Vec<_> = rows
        .iter()
        .map(|(row_id, server)| {
            let (id, service_id) = key(*row_id);
            Written {
                id,
                service_id,
                settings: Settings::of(server),
            }
        })
        .collect();
    serde_json::to_string(&written).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn as_service_id(id: i64) -> (Option<i64>, Option<i64>) {
    (None, Some(id))
}

fn as_row_id(id: i64) -> (Option<i64>, Option<i64>) {
    (Some(id), None)
}

/// `INSERT` of the rows of the JSON array `?1`, created and updated at `?2`.
fn insert_sql() -> String {
    format!(
        "INSERT INTO real_servers (service_id, {}, created_at, updated_at)
         SELECT r.value ->> 'service_id', {}, ?2, ?2 FROM json_each(?1) AS r",
        SETTINGS.join(", "),
        json_fields("r", &SETTINGS)
    )
}

/// `UPDATE` of the rows the objects of the JSON array `?1` name by `id`, updated at `?2`.
fn update_sql() -> String {
    update_from_json_sql("real_servers", &SETTINGS)
}

pub async fn insert(
    conn: &mut SqliteConnection,
    service_id: i64,
    server: &RealServer,
    now: i64,
) -> Result<RealServerRow, sqlx::Error> {
    let json = json(&[(service_id, server)], as_service_id)?;
    let id: i64 = sqlx::query_scalar(&format!("{} RETURNING id", insert_sql()))
        .bind(json)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    get(conn, service_id, id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol(format!("real server {id} inserted but not found")))
}

/// Inserts `servers`, each with its service's row id, with a few multi-row statements
/// (each a round trip to SQLite's thread): 50,000 real servers are 100 statements.
pub async fn insert_many(
    conn: &mut SqliteConnection,
    servers: &[(i64, &RealServer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = insert_sql();
    for chunk in servers.chunks(ROWS_PER_STATEMENT) {
        sqlx::query(&sql)
            .bind(json(chunk, as_service_id)?)
            .bind(now)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
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
    update_many(conn, &[(id, server)], now).await
}

/// Replaces the settings of the real servers with these row ids, as [`update`] does, with a
/// few multi-row statements.
pub async fn update_many(
    conn: &mut SqliteConnection,
    servers: &[(i64, &RealServer)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = update_sql();
    for chunk in servers.chunks(ROWS_PER_STATEMENT) {
        sqlx::query(&sql)
            .bind(json(chunk, as_row_id)?)
            .bind(now)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get(
    conn: &mut SqliteConnection,
    service_id: i64,
    id: i64,
) -> Result<Option<RealServerRow>, sqlx::Error> {
    sqlx::query_as!(
        RealServerRow,
        r#"SELECT id AS "id!", service_id, address, port,
                forwarding AS "forwarding: Keyword<ForwardingMethod>",
                tunnel_type AS "tunnel_type!: Keyword<Option<TunnelType>>", tunnel_port,
                tunnel_checksum AS "tunnel_checksum!: Keyword<Option<TunnelChecksum>>",
                weight, upper_threshold, lower_threshold,
                state AS "state: Keyword<RealServerState>", description,
                health_check AS "health_check: Json<HealthCheckSpec>", created_at, updated_at
         FROM real_servers WHERE service_id = ? AND id = ?"#,
        service_id,
        id
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("real_servers", &id, e))
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
        r#"SELECT id AS "id!", service_id, address, port,
                forwarding AS "forwarding: Keyword<ForwardingMethod>",
                tunnel_type AS "tunnel_type!: Keyword<Option<TunnelType>>", tunnel_port,
                tunnel_checksum AS "tunnel_checksum!: Keyword<Option<TunnelChecksum>>",
                weight, upper_threshold, lower_threshold,
                state AS "state: Keyword<RealServerState>", description,
                health_check AS "health_check: Json<HealthCheckSpec>", created_at, updated_at
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
    .map_err(|e| in_row("real_servers", &format!("of service {service_id}"), e))
}

/// The columns of [`RealServerRow`] in the order bulk reads select them (see
/// `all_in_cluster`), which is also how they are named when decoded: derived from
/// [`SETTINGS`].
const READ: [&str; SETTINGS.len() + 4] = read_columns("service_id", SETTINGS);

/// Every real server of every service of a cluster.
pub async fn all_in_cluster(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<super::JsonRows, sqlx::Error> {
    // sqlx hands each row over from its worker thread on its own; at 100,000 rows that
    // costs seconds, so SQLite packs them into one JSON array instead.
    let sql = super::json_rows_sql(
        &READ,
        |column| match column {
            // Stored as JSON text: embedded as an object, not a string.
            "health_check" => "json(r.health_check)".to_owned(),
            column => format!("r.{column}"),
        },
        "real_servers r JOIN services s ON s.id = r.service_id WHERE s.cluster_id = ?",
    );
    let rows: String = sqlx::query_scalar(&sql)
        .bind(cluster_id)
        .fetch_one(conn)
        .await?;
    Ok(super::JsonRows::new("real_servers", &READ, rows))
}

/// The weight each real server of a cluster has in the kernel (0 while drained), with its
/// service's key, address and port: what `node_ipvs_backend_weight` shows.
pub async fn kernel_weights(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<Vec<(String, String, u16, u32)>, sqlx::Error> {
    // One JSON array rather than a row each: see `all_in_cluster`.
    let rows: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(s.service_key, r.address, r.port,
                    iif(r.state = 'drained', 0, r.weight)))
         FROM real_servers r JOIN services s ON s.id = r.service_id WHERE s.cluster_id = ?",
    )
    .bind(cluster_id)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        in_row(
            "real_servers",
            &format!("weights of cluster {cluster_id}"),
            e,
        )
    })?;
    serde_json::from_str(&rows).map_err(|e| {
        corrupt(
            &format!("real_servers of cluster {cluster_id}"),
            &format!("weights: {e}"),
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bind by the names in `SETTINGS`: they must be exactly the fields of `Settings`.
    #[test]
    fn settings_are_the_columns_written() {
        let spec = RealServerSpec {
            address: Some("10.0.0.2".into()),
            port: Some(0),
            forwarding: Some("tunnel".into()),
            tunnel_type: Some("gue".into()),
            tunnel_port: Some(6080),
            tunnel_checksum: Some("csum".into()),
            ..RealServerSpec::default()
        };
        let service = ServiceKey::Fwmark {
            fwmark: lvs_model::Fwmark::parse(1).unwrap(),
            family: lvs_model::Family::Ipv4,
        };
        let server = spec.parse(&service).unwrap();
        let json = serde_json::to_value(Settings::of(&server)).unwrap();
        let fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut columns = SETTINGS.map(str::to_owned).to_vec();
        columns.sort();
        assert_eq!(fields, columns, "serde_json sorts the fields");
    }

    /// Bulk reads select `READ` and decode each value as the field of its name.
    #[test]
    fn read_is_the_row_fields() {
        super::super::check_columns::<RealServerRow>("real_servers", &READ).unwrap();
    }

    /// Each value is the field its column names, and a bad stored keyword is an error that
    /// names the table, the row and the column.
    #[test]
    fn bulk_rows_decode_by_column_name() {
        let row = |state: &str| {
            serde_json::json!([[
                7, 3, "10.0.0.2", 80, "tunnel", "gue", 6080, null, 5, 100, 10, state, "",
                {"kind": "tcp", "port": 8080}, 1, 2
            ]])
            .to_string()
        };
        let rows = super::super::JsonRows::new("real_servers", &READ, row("active"));
        let [server]: [RealServerRow; 1] = rows.collect().unwrap().try_into().unwrap();
        assert_eq!((server.id, server.service_id, server.port), (7, 3, 80));
        assert_eq!(server.tunnel_type, Some(TunnelType::Gue));
        assert_eq!(
            (server.tunnel_port, server.tunnel_checksum),
            (Some(6080), None)
        );
        let thresholds = (
            server.weight,
            server.upper_threshold,
            server.lower_threshold,
        );
        assert_eq!(thresholds, (5, 100, 10));
        assert_eq!((server.created_at, server.updated_at), (1, 2));
        let check = server.health_check.map(|c| c.0);
        assert_eq!(check.and_then(|c| c.port), Some(8080));

        let rows = super::super::JsonRows::new("real_servers", &READ, row("sleeping"));
        let error = rows.collect::<RealServerRow>().unwrap_err().to_string();
        assert!(error.contains("real_servers row 7"), "{error}");
        assert!(error.contains("column state"), "{error}");
    }
}

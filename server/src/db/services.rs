//! The `services` table, and the mapping between its rows and `VirtualService`.

use std::collections::HashMap;

use lvs_model::spec::{HealthCheckSpec, MarkRuleSpec, Netmask, RealServerSpec, ServiceSpec};
use lvs_model::{Family, PersistenceEngine, Protocol, SchedulerName, ServiceKey, VirtualService};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::SqliteConnection;

use super::types::Keyword;
use super::{corrupt, in_row, json_fields, read_columns, update_from_json_sql, ROWS_PER_STATEMENT};

/// Also read from a JSON array of the columns `READ` (see `all`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRow {
    pub id: i64,
    pub cluster_id: i64,
    pub service_key: String,
    pub protocol: Option<Protocol>,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub fwmark: Option<i64>,
    pub family: Family,
    pub scheduler: SchedulerName,
    pub scheduler_flags: String,
    pub persistence_timeout: i64,
    pub persistence_prefix_len: Option<i64>,
    pub one_packet: bool,
    pub persistence_engine: Option<PersistenceEngine>,
    pub name: String,
    pub description: String,
    pub health_check: Option<Json<HealthCheckSpec>>,
    pub sorry_server: Option<Json<RealServerSpec>>,
    pub min_healthy: i64,
    pub mark_rules: Option<Json<Vec<MarkRuleSpec>>>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ServiceRow {
    /// The stored service as its canonical spec (without real servers).
    pub fn spec(&self) -> ServiceSpec {
        ServiceSpec {
            protocol: self.protocol.map(|p| p.to_string()),
            address: self.address.clone(),
            port: self.port,
            fwmark: self.fwmark,
            family: self.fwmark.map(|_| self.family.to_string()),
            scheduler: Some(self.scheduler.to_string()),
            scheduler_flags: self
                .scheduler_flags
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            persistence_timeout: self.persistence_timeout,
            // The canonical form, as in the desired state: dotted for IPv4.
            persistence_netmask: self
                .persistence_prefix_len
                .map(|len| match u8::try_from(len) {
                    Ok(len) => Netmask::from_prefix_len(len, self.family),
                    Err(_) => Netmask::Prefix(len),
                }),
            one_packet: self.one_packet,
            persistence_engine: self.persistence_engine.map(|e| e.to_string()),
            name: self.name.clone(),
            description: self.description.clone(),
            health_check: self.health_check.as_ref().map(|c| c.0.clone()),
            sorry_server: self.sorry_server.as_ref().map(|s| s.0.clone()),
            min_healthy: None,
            mark_rules: self
                .mark_rules
                .as_ref()
                .map(|r| r.0.clone())
                .unwrap_or_default(),
            real_servers: None,
        }
        .with_min_healthy(self.min_healthy)
    }

    /// The stored service, validated again on the way out.
    pub fn service(&self) -> Result<VirtualService, sqlx::Error> {
        self.spec()
            .parse()
            .map_err(|e| corrupt(&format!("service {}", self.service_key), &e.to_string()))
    }
}

/// The columns every write sets, named as the fields of [`Settings`], which writes bind by
/// name (one JSON object per row, read with `->>`): a new column is added here and there.
const SETTINGS: [&str; 18] = [
    "service_key",
    "protocol",
    "address",
    "port",
    "fwmark",
    "family",
    "scheduler",
    "scheduler_flags",
    "persistence_timeout",
    "persistence_prefix_len",
    "one_packet",
    "persistence_engine",
    "name",
    "description",
    "health_check",
    "sorry_server",
    "min_healthy",
    "mark_rules",
];

/// A service's columns, from the validated value.
#[derive(Serialize)]
struct Settings<'a> {
    service_key: String,
    protocol: Option<Protocol>,
    address: Option<String>,
    port: Option<u16>,
    fwmark: Option<u32>,
    family: Family,
    scheduler: SchedulerName,
    /// Comma-separated, in the model's order.
    scheduler_flags: String,
    persistence_timeout: u32,
    persistence_prefix_len: Option<u8>,
    one_packet: bool,
    persistence_engine: Option<PersistenceEngine>,
    name: &'a str,
    description: &'a str,
    health_check: Option<HealthCheckSpec>,
    sorry_server: Option<RealServerSpec>,
    min_healthy: u32,
    /// `None` for none.
    mark_rules: Option<Vec<MarkRuleSpec>>,
}

impl Settings<'_> {
    fn of(service: &VirtualService) -> Settings<'_> {
        let (protocol, address, port, fwmark) = match *service.key() {
            ServiceKey::Address {
                protocol,
                address,
                port,
            } => (
                Some(protocol),
                Some(address.to_string()),
                Some(port.get()),
                None,
            ),
            ServiceKey::Fwmark { fwmark, .. } => (None, None, None, Some(fwmark.get())),
        };
        let flags: Vec<_> = service
            .scheduler()
            .flags()
            .iter()
            .map(|f| f.as_str())
            .collect();
        Settings {
            service_key: service.key().to_string(),
            protocol,
            address,
            port,
            fwmark,
            family: service.key().family(),
            scheduler: service.scheduler().name(),
            scheduler_flags: flags.join(","),
            persistence_timeout: service.persistence().map_or(0, |p| p.timeout()),
            persistence_prefix_len: service.persistence().map(|p| p.prefix_len()),
            one_packet: service.one_packet(),
            persistence_engine: service.persistence_engine(),
            name: service.name().as_str(),
            description: service.description().as_str(),
            health_check: service.health_check().map(HealthCheckSpec::from),
            sorry_server: service.sorry_server().map(RealServerSpec::from),
            min_healthy: service.min_healthy(),
            mark_rules: Some(service.mark_rules())
                .filter(|rules| !rules.is_empty())
                .map(|rules| rules.iter().map(MarkRuleSpec::from).collect()),
        }
    }
}

/// One row of a multi-row update: the settings with the row id.
#[derive(Serialize)]
struct Written<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(flatten)]
    settings: Settings<'a>,
}

/// The JSON array of the objects of `services`, each with its row id if it has one.
fn json<'a>(
    services: impl Iterator<Item = (Option<i64>, &'a VirtualService)>,
) -> Result<String, sqlx::Error> {
    let written: Vec<_> = services
        .map(|(id, service)| Written {
            id,
            settings: Settings::of(service),
        })
        .collect();
    serde_json::to_string(&written).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// `INSERT` into cluster `?3` of the rows of the JSON array `?1`, created and updated at
/// `?2`, returning each row's id and key.
fn insert_sql() -> String {
    format!(
        "INSERT INTO services (cluster_id, {}, created_at, updated_at)
         SELECT ?3, {}, ?2, ?2 FROM json_each(?1) AS s
         RETURNING id, service_key",
        SETTINGS.join(", "),
        json_fields("s", &SETTINGS)
    )
}

/// `UPDATE` of the rows the objects of the JSON array `?1` name by `id`, updated at `?2`.
fn update_sql() -> String {
    update_from_json_sql("services", &SETTINGS)
}

pub async fn insert(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    service: &VirtualService,
    now: i64,
) -> Result<ServiceRow, sqlx::Error> {
    let ids = insert_many(conn, cluster_id, &[service], now).await?;
    let id = ids.first().copied().ok_or_else(|| {
        sqlx::Error::Protocol(format!("no row id returned for {}", service.key()))
    })?;
    get(conn, cluster_id, id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol(format!("service {id} inserted but not found")))
}

/// Inserts `services` with a few multi-row statements (each a round trip to SQLite's
/// thread) and returns their row ids, in the same order.
pub async fn insert_many(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    services: &[&VirtualService],
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let sql = insert_sql();
    let mut ids = HashMap::with_capacity(services.len());
    for chunk in services.chunks(ROWS_PER_STATEMENT) {
        // RETURNING comes in no promised order: the ids are matched by key.
        let rows: Vec<(i64, String)> = sqlx::query_as(&sql)
            .bind(json(chunk.iter().map(|s| (None, *s)))?)
            .bind(now)
            .bind(cluster_id)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
        ids.extend(rows.into_iter().map(|(id, key)| (key, id)));
    }
    services
        .iter()
        .map(|service| {
            let key = service.key().to_string();
            ids.get(&key)
                .copied()
                .ok_or_else(|| sqlx::Error::Protocol(format!("no row id returned for {key}")))
        })
        .collect()
}

/// Replaces a service's settings and key in place.
pub async fn update(
    conn: &mut SqliteConnection,
    id: i64,
    service: &VirtualService,
    now: i64,
) -> Result<(), sqlx::Error> {
    update_many(conn, &[(id, service)], now).await
}

/// Replaces the settings of the services with these row ids, as [`update`] does, with a
/// few multi-row statements.
pub async fn update_many(
    conn: &mut SqliteConnection,
    services: &[(i64, &VirtualService)],
    now: i64,
) -> Result<(), sqlx::Error> {
    let sql = update_sql();
    for chunk in services.chunks(ROWS_PER_STATEMENT) {
        sqlx::query(&sql)
            .bind(json(chunk.iter().map(|(id, s)| (Some(*id), *s)))?)
            .bind(now)
            .persistent(false)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn get(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    id: i64,
) -> Result<Option<ServiceRow>, sqlx::Error> {
    sqlx::query_as!(
        ServiceRow,
        r#"SELECT id AS "id!", cluster_id, service_key,
                  protocol AS "protocol!: Keyword<Option<Protocol>>", address, port, fwmark,
                  family AS "family: Keyword<Family>",
                  scheduler AS "scheduler: Keyword<SchedulerName>", scheduler_flags,
                  persistence_timeout, persistence_prefix_len, one_packet AS "one_packet: bool",
                  persistence_engine AS "persistence_engine!: Keyword<Option<PersistenceEngine>>",
                  name, description,
                  health_check AS "health_check: Json<HealthCheckSpec>",
                  sorry_server AS "sorry_server: Json<RealServerSpec>", min_healthy,
                  mark_rules AS "mark_rules: Json<Vec<MarkRuleSpec>>",
                  created_at, updated_at
           FROM services WHERE cluster_id = ? AND id = ?"#,
        cluster_id,
        id
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("services", &id, e))
}

/// Filters of the service list; `None` matches everything.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub protocol: Option<&'a str>,
    pub address: Option<&'a str>,
    pub port: Option<i64>,
    pub fwmark: Option<i64>,
    pub name_contains: Option<&'a str>,
}

/// A cluster's services by id, after `after_id`.
pub async fn list(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    filter: &Filter<'_>,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ServiceRow>, sqlx::Error> {
    sqlx::query_as!(
        ServiceRow,
        r#"SELECT id AS "id!", cluster_id, service_key,
                  protocol AS "protocol!: Keyword<Option<Protocol>>", address, port, fwmark,
                  family AS "family: Keyword<Family>",
                  scheduler AS "scheduler: Keyword<SchedulerName>", scheduler_flags,
                  persistence_timeout, persistence_prefix_len, one_packet AS "one_packet: bool",
                  persistence_engine AS "persistence_engine!: Keyword<Option<PersistenceEngine>>",
                  name, description,
                  health_check AS "health_check: Json<HealthCheckSpec>",
                  sorry_server AS "sorry_server: Json<RealServerSpec>", min_healthy,
                  mark_rules AS "mark_rules: Json<Vec<MarkRuleSpec>>",
                  created_at, updated_at
           FROM services
           WHERE cluster_id = ?1 AND id > ?2
             AND (?3 IS NULL OR protocol = ?3)
             AND (?4 IS NULL OR address = ?4)
             AND (?5 IS NULL OR port = ?5)
             AND (?6 IS NULL OR fwmark = ?6)
             AND (?7 IS NULL OR instr(name, ?7) > 0)
           ORDER BY id LIMIT ?8"#,
        cluster_id,
        after_id,
        filter.protocol,
        filter.address,
        filter.port,
        filter.fwmark,
        filter.name_contains,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("services", &format!("of cluster {cluster_id}"), e))
}

/// The columns of [`ServiceRow`] in the order bulk reads select them (see `all`), which
/// is also how they are named when decoded: derived from [`SETTINGS`].
const READ: [&str; SETTINGS.len() + 4] = read_columns("cluster_id", SETTINGS);

/// Every service of a cluster.
pub async fn all(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<Vec<ServiceRow>, sqlx::Error> {
    // One JSON array rather than a row each: see `real_servers::all_in_cluster`.
    let sql = super::json_rows_sql(
        &READ,
        |column| match column {
            // SQLite stores 0 or 1; JSON has booleans.
            "one_packet" => "iif(one_packet, json('true'), json('false'))".to_owned(),
            // Stored as JSON text: embedded as objects, not strings.
            "health_check" | "sorry_server" | "mark_rules" => format!("json({column})"),
            column => column.to_owned(),
        },
        "services WHERE cluster_id = ?",
    );
    let rows: String = sqlx::query_scalar(&sql)
        .bind(cluster_id)
        .fetch_one(conn)
        .await?;
    super::JsonRows::new("services", &READ, rows).collect()
}

pub async fn count(conn: &mut SqliteConnection, cluster_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT count(*) FROM services WHERE cluster_id = ?",
        cluster_id
    )
    .fetch_one(conn)
    .await
}

pub async fn delete(conn: &mut SqliteConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM services WHERE id = ?", id)
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the services with these row ids (and their real servers), a few statements for
/// any number.
pub async fn delete_many(conn: &mut SqliteConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    super::delete_ids(conn, "services", ids).await
}

/// The marking rules of a cluster's fwmark services that have some, with their ids and
/// keys: few rows, read to check a service's new rules against the others'.
pub async fn marking_rules(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<Vec<(i64, String, Vec<MarkRuleSpec>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", service_key,
                  mark_rules AS "mark_rules!: Json<Vec<MarkRuleSpec>>"
           FROM services WHERE cluster_id = ? AND mark_rules IS NOT NULL"#,
        cluster_id
    )
    .fetch_all(conn)
    .await
    .map_err(|e| {
        in_row(
            "services",
            &format!("marking rules of cluster {cluster_id}"),
            e,
        )
    })?;
    Ok(rows
        .into_iter()
        .map(|row| (row.id, row.service_key, row.mark_rules.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes bind by the names in `SETTINGS`: they must be exactly the fields of `Settings`.
    #[test]
    fn settings_are_the_columns_written() {
        let spec = ServiceSpec {
            protocol: Some("tcp".into()),
            address: Some("10.0.0.1".into()),
            port: Some(80),
            scheduler: Some("wrr".into()),
            ..ServiceSpec::default()
        };
        let service = spec.parse().unwrap();
        let json = serde_json::to_value(Settings::of(&service)).unwrap();
        let fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut columns = SETTINGS.map(str::to_owned).to_vec();
        columns.sort();
        assert_eq!(fields, columns, "serde_json sorts the fields");
    }

    /// Bulk reads select `READ` and decode each value as the field of its name.
    #[test]
    fn read_is_the_row_fields() {
        super::super::check_columns::<ServiceRow>("services", &READ).unwrap();
    }
}

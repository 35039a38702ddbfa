//! The `services` table, and the mapping between its rows and `VirtualService`.

use std::collections::HashMap;

use lvs_model::spec::{Netmask, ServiceSpec};
use lvs_model::{Family, ServiceKey, VirtualService};
use sqlx::query_builder::Separated;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{corrupt, ROWS_PER_STATEMENT};

/// Also read from a JSON array of its fields, in this order (see `all`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ServiceRow {
    pub id: i64,
    pub cluster_id: i64,
    pub service_key: String,
    pub protocol: Option<String>,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub fwmark: Option<i64>,
    pub family: String,
    pub scheduler: String,
    pub scheduler_flags: String,
    pub persistence_timeout: i64,
    pub persistence_prefix_len: Option<i64>,
    pub one_packet: bool,
    pub persistence_engine: Option<String>,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ServiceRow {
    /// The stored service as its canonical spec (without real servers).
    pub fn spec(&self) -> ServiceSpec {
        ServiceSpec {
            protocol: self.protocol.clone(),
            address: self.address.clone(),
            port: self.port,
            fwmark: self.fwmark,
            family: self.fwmark.map(|_| self.family.clone()),
            scheduler: Some(self.scheduler.clone()),
            scheduler_flags: self
                .scheduler_flags
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            persistence_timeout: self.persistence_timeout,
            // The canonical form, as in the desired state: dotted for IPv4.
            persistence_netmask: self.persistence_prefix_len.map(|len| {
                match (self.family.parse::<Family>(), u8::try_from(len)) {
                    (Ok(family), Ok(len)) => Netmask::from_prefix_len(len, family),
                    _ => Netmask::Prefix(len),
                }
            }),
            one_packet: self.one_packet,
            persistence_engine: self.persistence_engine.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            real_servers: None,
        }
    }

    /// The stored service, validated again on the way out.
    pub fn service(&self) -> Result<VirtualService, sqlx::Error> {
        self.spec()
            .parse()
            .map_err(|e| corrupt(&format!("service {}", self.service_key), &e.to_string()))
    }
}

/// A service's columns, from the validated value.
struct Columns {
    key: String,
    protocol: Option<String>,
    address: Option<String>,
    port: Option<i64>,
    fwmark: Option<i64>,
    family: String,
    scheduler: String,
    flags: String,
    timeout: i64,
    prefix_len: Option<i64>,
    one_packet: bool,
    engine: Option<String>,
}

impl Columns {
    fn of(service: &VirtualService) -> Columns {
        let (protocol, address, port, fwmark) = match *service.key() {
            ServiceKey::Address {
                protocol,
                address,
                port,
            } => (
                Some(protocol.to_string()),
                Some(address.to_string()),
                Some(i64::from(port.get())),
                None,
            ),
            ServiceKey::Fwmark { fwmark, .. } => (None, None, None, Some(i64::from(fwmark.get()))),
        };
        let flags: Vec<_> = service
            .scheduler()
            .flags()
            .iter()
            .map(|f| f.as_str())
            .collect();
        Columns {
            key: service.key().to_string(),
            protocol,
            address,
            port,
            fwmark,
            family: service.key().family().to_string(),
            scheduler: service.scheduler().name().to_string(),
            flags: flags.join(","),
            timeout: service.persistence().map_or(0, |p| i64::from(p.timeout())),
            prefix_len: service.persistence().map(|p| i64::from(p.prefix_len())),
            one_packet: service.one_packet(),
            engine: service.persistence_engine().map(|e| e.to_string()),
        }
    }
}

pub async fn insert(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    service: &VirtualService,
    now: i64,
) -> Result<ServiceRow, sqlx::Error> {
    let c = Columns::of(service);
    let (name, description) = (service.name().as_str(), service.description().as_str());
    sqlx::query_as!(
        ServiceRow,
        r#"INSERT INTO services
            (cluster_id, service_key, protocol, address, port, fwmark, family, scheduler,
             scheduler_flags, persistence_timeout, persistence_prefix_len, one_packet,
             persistence_engine, name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING id AS "id!", cluster_id, service_key, protocol, address, port, fwmark, family,
                   scheduler, scheduler_flags, persistence_timeout, persistence_prefix_len,
                   one_packet AS "one_packet: bool", persistence_engine, name, description,
                   created_at, updated_at"#,
        cluster_id,
        c.key,
        c.protocol,
        c.address,
        c.port,
        c.fwmark,
        c.family,
        c.scheduler,
        c.flags,
        c.timeout,
        c.prefix_len,
        c.one_packet,
        c.engine,
        name,
        description,
        now,
        now
    )
    .fetch_one(conn)
    .await
}

/// Inserts `services` with a few multi-row statements (each a round trip to SQLite's
/// thread) and returns their row ids, in the same order.
pub async fn insert_many(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    services: &[&VirtualService],
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = HashMap::with_capacity(services.len());
    for chunk in services.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO services
                (cluster_id, service_key, protocol, address, port, fwmark, family, scheduler,
                 scheduler_flags, persistence_timeout, persistence_prefix_len, one_packet,
                 persistence_engine, name, description, created_at, updated_at) ",
        );
        query.push_values(chunk, |mut row, service| {
            row.push_bind(cluster_id);
            push_settings(&mut row, service);
            row.push_bind(now).push_bind(now);
        });
        // RETURNING comes in no promised order: the ids are matched by key.
        query.push(" RETURNING id, service_key");
        let rows: Vec<(i64, String)> = query
            .build_query_as()
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
    let c = Columns::of(service);
    let (name, description) = (service.name().as_str(), service.description().as_str());
    sqlx::query!(
        "UPDATE services SET service_key = ?, protocol = ?, address = ?, port = ?, fwmark = ?,
                family = ?, scheduler = ?, scheduler_flags = ?, persistence_timeout = ?,
                persistence_prefix_len = ?, one_packet = ?, persistence_engine = ?, name = ?,
                description = ?, updated_at = ?
         WHERE id = ?",
        c.key,
        c.protocol,
        c.address,
        c.port,
        c.fwmark,
        c.family,
        c.scheduler,
        c.flags,
        c.timeout,
        c.prefix_len,
        c.one_packet,
        c.engine,
        name,
        description,
        now,
        id
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Replaces the settings of the services with these row ids, as [`update`] does, with a
/// few multi-row statements.
pub async fn update_many(
    conn: &mut SqliteConnection,
    services: &[(i64, &VirtualService)],
    now: i64,
) -> Result<(), sqlx::Error> {
    for chunk in services.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "UPDATE services SET service_key = v.column2, protocol = v.column3,
                address = v.column4, port = v.column5, fwmark = v.column6, family = v.column7,
                scheduler = v.column8, scheduler_flags = v.column9,
                persistence_timeout = v.column10, persistence_prefix_len = v.column11,
                one_packet = v.column12, persistence_engine = v.column13, name = v.column14,
                description = v.column15, updated_at = ",
        );
        query.push_bind(now).push(" FROM (");
        query.push_values(chunk, |mut row, (id, service)| {
            row.push_bind(*id);
            push_settings(&mut row, service);
        });
        query.push(") AS v WHERE services.id = v.column1");
        query.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A service's settings, from `service_key` to `description`, as values of one row of a
/// multi-row statement.
fn push_settings(row: &mut Separated<'_, '_, Sqlite, &'static str>, service: &VirtualService) {
    let c = Columns::of(service);
    row.push_bind(c.key)
        .push_bind(c.protocol)
        .push_bind(c.address)
        .push_bind(c.port)
        .push_bind(c.fwmark)
        .push_bind(c.family)
        .push_bind(c.scheduler)
        .push_bind(c.flags)
        .push_bind(c.timeout)
        .push_bind(c.prefix_len)
        .push_bind(c.one_packet)
        .push_bind(c.engine)
        .push_bind(service.name().as_str().to_owned())
        .push_bind(service.description().as_str().to_owned());
}

pub async fn get(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    id: i64,
) -> Result<Option<ServiceRow>, sqlx::Error> {
    sqlx::query_as!(
        ServiceRow,
        r#"SELECT id AS "id!", cluster_id, service_key, protocol, address, port, fwmark, family,
                  scheduler, scheduler_flags, persistence_timeout, persistence_prefix_len,
                  one_packet AS "one_packet: bool", persistence_engine, name, description,
                  created_at, updated_at
           FROM services WHERE cluster_id = ? AND id = ?"#,
        cluster_id,
        id
    )
    .fetch_optional(conn)
    .await
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
        r#"SELECT id AS "id!", cluster_id, service_key, protocol, address, port, fwmark, family,
                  scheduler, scheduler_flags, persistence_timeout, persistence_prefix_len,
                  one_packet AS "one_packet: bool", persistence_engine, name, description,
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
}

/// Every service of a cluster.
pub async fn all(
    conn: &mut SqliteConnection,
    cluster_id: i64,
) -> Result<Vec<ServiceRow>, sqlx::Error> {
    // One JSON array rather than a row each: see `real_servers::all_in_cluster`.
    let rows = sqlx::query_scalar!(
        r#"SELECT json_group_array(json_array(
                id, cluster_id, service_key, protocol, address, port, fwmark, family,
                scheduler, scheduler_flags, persistence_timeout, persistence_prefix_len,
                iif(one_packet, json('true'), json('false')), persistence_engine, name,
                description, created_at, updated_at
            )) AS "rows!: String"
           FROM services WHERE cluster_id = ?"#,
        cluster_id
    )
    .fetch_one(conn)
    .await?;
    super::JsonRows(rows).collect()
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

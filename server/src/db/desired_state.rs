//! A cluster's whole desired state (or one service of it): loading it, and writing a diff
//! to it row by row.

use std::collections::{BTreeMap, HashMap};

use lvs_model::{
    DesiredService, DesiredState, Diff, RealServer, RealServerChange, RealServerKey, ServiceChange,
    ServiceKey,
};
use sqlx::SqliteConnection;

use super::clusters::{self, ClusterRow};
use super::corrupt;
use super::{real_servers, services};

/// A desired state with the row ids of its services and real servers, so a diff against it
/// can be written as updates of exactly the rows that changed.
#[derive(Debug)]
pub struct Loaded {
    pub state: DesiredState,
    service_ids: HashMap<ServiceKey, i64>,
    real_server_ids: HashMap<(i64, RealServerKey), i64>,
}

pub async fn load(
    conn: &mut SqliteConnection,
    cluster: &ClusterRow,
) -> Result<Loaded, sqlx::Error> {
    let mut service_ids = HashMap::new();
    let mut entries = BTreeMap::new();
    for row in services::all(conn, cluster.id).await? {
        let service = row.service()?;
        service_ids.insert(*service.key(), row.id);
        entries.insert(row.id, (row.service_key, service, Vec::new()));
    }
    // A cluster can hold 100,000 real servers: each row becomes a domain value as soon as
    // it is parsed.
    let mut real_server_ids = HashMap::new();
    let rows = real_servers::all_in_cluster(conn, cluster.id).await?;
    for row in rows.iter::<real_servers::RealServerRow>()? {
        let row = row?;
        let (_, service, servers) = entries
            .get_mut(&row.service_id)
            .ok_or_else(|| corrupt(&format!("real server {}", row.id), "its service is gone"))?;
        let server = row.real_server(service.key())?;
        real_server_ids.insert((row.service_id, server.key()), row.id);
        servers.push(server);
    }
    drop(rows);
    let desired = entries
        .into_values()
        .map(|(key, service, servers)| {
            DesiredService::new(service, servers)
                .map_err(|e| corrupt(&format!("service {key}"), &e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut state = DesiredState::new(cluster.generation(), cluster.timeouts()?, desired)
        .map_err(|e| corrupt(&format!("cluster {}", cluster.name), &e.to_string()))?;
    state.host = cluster.host()?;
    Ok(Loaded {
        state,
        service_ids,
        real_server_ids,
    })
}

/// Writes `diff`, computed against `loaded`, touching only the rows it names. Each kind of
/// write goes in multi-row statements, so that loading, changing or removing thousands of
/// services costs a few statements, not a round trip to SQLite's thread per row. Changed
/// rows keep their keys (a diff pairs rows by key), and rows are deleted before any is
/// inserted, so no statement meets a key another one frees.
pub async fn apply(
    conn: &mut SqliteConnection,
    cluster: &ClusterRow,
    loaded: &Loaded,
    diff: &Diff,
    now: i64,
) -> Result<(), sqlx::Error> {
    if let Some(change) = &diff.timeouts {
        clusters::update_timeouts(conn, cluster.id, &change.new, now).await?;
    }
    if let Some(change) = &diff.host {
        clusters::update_host(conn, cluster.id, &change.new, now).await?;
    }
    // Each with its row id, or for real servers added, their service's row id.
    let mut changed_services = Vec::new();
    let mut changed_servers = Vec::new();
    let mut removed_services = Vec::new();
    let mut removed_servers = Vec::new();
    let mut added_services = Vec::new();
    let mut added_servers = Vec::new();
    for change in &diff.services {
        match change {
            ServiceChange::Added(service) => added_services.push(service),
            ServiceChange::Removed(service) => {
                removed_services.push(loaded.service_id(service.key())?);
            }
            ServiceChange::Changed(update) => {
                let service_id = loaded.service_id(&update.key)?;
                if let Some(settings) = &update.settings {
                    changed_services.push((service_id, &settings.new));
                }
                for change in &update.real_servers {
                    match change {
                        RealServerChange::Added(server) => added_servers.push((service_id, server)),
                        RealServerChange::Removed(server) => {
                            removed_servers.push(loaded.real_server_id(service_id, server.key())?);
                        }
                        RealServerChange::Changed(change) => {
                            let id = loaded.real_server_id(service_id, change.old.key())?;
                            changed_servers.push((id, &change.new));
                        }
                    }
                }
            }
        }
    }
    services::update_many(conn, &changed_services, now).await?;
    real_servers::update_many(conn, &changed_servers, now).await?;
    services::delete_many(conn, &removed_services).await?;
    real_servers::delete_many(conn, &removed_servers).await?;
    insert_services(conn, cluster.id, &added_services, added_servers, now).await
}

/// One service with its real servers, validated on the way out: a few rows, however big
/// the cluster.
pub async fn load_service(
    conn: &mut SqliteConnection,
    row: &services::ServiceRow,
) -> Result<DesiredService, sqlx::Error> {
    let service = row.service()?;
    let servers = real_servers::list(conn, row.id, None, None, 0, i64::MAX)
        .await?
        .iter()
        .map(|server| server.real_server(service.key()))
        .collect::<Result<Vec<_>, _>>()?;
    DesiredService::new(service, servers)
        .map_err(|e| corrupt(&format!("service {}", row.service_key), &e.to_string()))
}

/// Inserts a service with all its real servers.
pub async fn insert_service(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    service: &DesiredService,
    now: i64,
) -> Result<services::ServiceRow, sqlx::Error> {
    let row = services::insert(conn, cluster_id, service.service(), now).await?;
    let servers: Vec<_> = service.real_servers().map(|s| (row.id, s)).collect();
    real_servers::insert_many(conn, &servers, now).await?;
    Ok(row)
}

/// Inserts `services` with all their real servers, and `more_servers` into services that
/// exist already.
async fn insert_services(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    services: &[&DesiredService],
    mut more_servers: Vec<(i64, &RealServer)>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let settings: Vec<_> = services.iter().map(|s| s.service()).collect();
    let ids = services::insert_many(conn, cluster_id, &settings, now).await?;
    for (service, id) in services.iter().zip(ids) {
        more_servers.extend(service.real_servers().map(|s| (id, s)));
    }
    real_servers::insert_many(conn, &more_servers, now).await
}

impl Loaded {
    fn service_id(&self, key: &ServiceKey) -> Result<i64, sqlx::Error> {
        self.service_ids
            .get(key)
            .copied()
            .ok_or_else(|| corrupt(&format!("service {key}"), "it has no row"))
    }

    fn real_server_id(&self, service_id: i64, key: RealServerKey) -> Result<i64, sqlx::Error> {
        self.real_server_ids
            .get(&(service_id, key))
            .copied()
            .ok_or_else(|| corrupt(&format!("real server {key:?}"), "it has no row"))
    }
}

//! A cluster's whole desired state (or one service of it): loading it, and writing a diff
//! to it row by row.

use std::collections::{BTreeMap, HashMap};

use lvs_model::{
    DesiredService, DesiredState, Diff, RealServerChange, RealServerKey, ServiceChange, ServiceKey,
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
    let state = DesiredState::new(cluster.generation(), cluster.timeouts()?, desired)
        .map_err(|e| corrupt(&format!("cluster {}", cluster.name), &e.to_string()))?;
    Ok(Loaded {
        state,
        service_ids,
        real_server_ids,
    })
}

/// Writes `diff`, computed against `loaded`, touching only the rows it names.
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
    for change in &diff.services {
        match change {
            ServiceChange::Added(service) => {
                insert_service(conn, cluster.id, service, now).await?;
            }
            ServiceChange::Removed(service) => {
                services::delete(conn, loaded.service_id(service.key())?).await?;
            }
            ServiceChange::Changed(update) => {
                let service_id = loaded.service_id(&update.key)?;
                if let Some(settings) = &update.settings {
                    services::update(conn, service_id, &settings.new, now).await?;
                }
                for change in &update.real_servers {
                    match change {
                        RealServerChange::Added(server) => {
                            real_servers::insert(conn, service_id, server, now).await?;
                        }
                        RealServerChange::Removed(server) => {
                            let id = loaded.real_server_id(service_id, server.key())?;
                            real_servers::delete(conn, id).await?;
                        }
                        RealServerChange::Changed(change) => {
                            let id = loaded.real_server_id(service_id, change.old.key())?;
                            real_servers::update(conn, id, &change.new, now).await?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
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
    for server in service.real_servers() {
        real_servers::insert(conn, row.id, server, now).await?;
    }
    Ok(row)
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

//! Finding the resources a caller names, or failing with [`EditError::NotFound`].

use sqlx::SqliteConnection;

use super::error::{EditError, EditResult};
use crate::db::clusters::{self, ClusterRow};
use crate::db::directors::{self, DirectorRow};
use crate::db::real_server_hosts::{self, HostRow};
use crate::db::real_servers::{self, RealServerRow};
use crate::db::services::{self, ServiceRow};

pub async fn cluster(conn: &mut SqliteConnection, name: &str) -> EditResult<ClusterRow> {
    clusters::get(conn, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("cluster {name}")))
}

pub async fn director(
    conn: &mut SqliteConnection,
    cluster: &ClusterRow,
    name: &str,
) -> EditResult<DirectorRow> {
    directors::get(conn, cluster.id, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("director {name} in cluster {}", cluster.name)))
}

pub async fn service(
    conn: &mut SqliteConnection,
    cluster: &ClusterRow,
    id: i64,
) -> EditResult<ServiceRow> {
    services::get(conn, cluster.id, id)
        .await?
        .ok_or_else(|| EditError::not_found(format!("service {id} in cluster {}", cluster.name)))
}

pub async fn real_server(
    conn: &mut SqliteConnection,
    service: &ServiceRow,
    id: i64,
) -> EditResult<RealServerRow> {
    real_servers::get(conn, service.id, id)
        .await?
        .ok_or_else(|| {
            EditError::not_found(format!(
                "real server {id} in service {}",
                service.service_key
            ))
        })
}

pub async fn real_server_host(conn: &mut SqliteConnection, name: &str) -> EditResult<HostRow> {
    real_server_hosts::get(conn, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("real-server host {name}")))
}

//! A cluster as the API and the UI show it.

use lvs_model::spec::{HostSpec, TimeoutsSpec};
use serde::Serialize;
use utoipa::ToSchema;

use super::{etag, timestamp};
use crate::db::clusters::ClusterRow;

/// A cluster as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cluster {
    pub name: String,
    pub description: String,
    /// Connection timeouts every director applies; unset ones are left as they are.
    pub timeouts: TimeoutsSpec,
    /// How the agents prepare each director host: VIPs and IPVS sysctls.
    pub host: HostSpec,
    /// Generation of the desired state, bumped by every change to it; 0 = never set.
    pub generation: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// The ETag of a cluster, as the API and the UI serve it.
pub fn cluster_etag(row: &ClusterRow) -> String {
    etag(&Cluster::from(row))
}

impl From<&ClusterRow> for Cluster {
    fn from(row: &ClusterRow) -> Self {
        Cluster {
            name: row.name.clone(),
            description: row.description.clone(),
            timeouts: row.timeouts_spec(),
            host: row.host_spec(),
            generation: row.generation(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

//! A virtual service as the API and the UI show it.

use lvs_model::spec::ServiceSpec;
use serde::Serialize;
use utoipa::ToSchema;

use super::{etag, timestamp};
use crate::db::services::ServiceRow;

/// A virtual service as the API shows it (its real servers are a sub-resource).
#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub id: i64,
    pub cluster: String,
    /// The kernel's key for it: `tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`, `fwmark:42:ipv4`.
    pub key: String,
    #[serde(flatten)]
    pub spec: ServiceSpec,
    pub created_at: String,
    pub updated_at: String,
}

/// The ETag of a service, as the API and the UI serve it.
pub fn service_etag(row: &ServiceRow, cluster: &str) -> String {
    etag(&Service::new(row, cluster))
}

impl Service {
    pub fn new(row: &ServiceRow, cluster: &str) -> Self {
        Service {
            id: row.id,
            cluster: cluster.to_owned(),
            key: row.service_key.clone(),
            spec: row.spec(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

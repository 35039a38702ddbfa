//! A real server as the API and the UI show it.

use lvs_model::spec::RealServerSpec;
use serde::Serialize;
use utoipa::ToSchema;

use super::{etag, timestamp};
use crate::db::real_servers::RealServerRow;

/// A real server as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServer {
    pub id: i64,
    pub service_id: i64,
    /// `10.0.0.2:80` or `[2001:db8::2]:80`.
    pub key: String,
    #[serde(flatten)]
    pub spec: RealServerSpec,
    pub created_at: String,
    pub updated_at: String,
}

/// The ETag of a real server, as the API and the UI serve it.
pub fn real_server_etag(row: &RealServerRow) -> String {
    etag(&RealServer::from(row))
}

impl From<&RealServerRow> for RealServer {
    fn from(row: &RealServerRow) -> Self {
        RealServer {
            id: row.id,
            service_id: row.service_id,
            key: row.key(),
            spec: row.spec(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

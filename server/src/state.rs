//! What every request handler, API or UI, can reach.

use std::sync::Arc;

use crate::access::Access;
use crate::agents::reports::Reports;
use crate::agents::Agents;
use crate::db::Db;
use crate::metrics::Metrics;

/// The server's shared state: the database, the agents' in-memory view, and the writer of
/// their reports.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub agents: Arc<Agents>,
    /// The writer of the agents' apply reports.
    pub reports: Reports,
    /// HTTP or HTTPS: what cookies must say (`Secure` over HTTPS).
    pub transport: Transport,
    /// Sessions, API tokens and sign-in throttling.
    pub access: Arc<Access>,
    /// The request families and what scrapes of GET /metrics keep between them.
    pub metrics: Arc<Metrics>,
}

/// How the server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP, for development on localhost or behind a proxy that ends TLS.
    Http,
    /// HTTPS (`--tls-cert`): cookies get `Secure`, answers `Strict-Transport-Security`.
    Https,
}

//! What every request handler, API or UI, can reach.

use std::sync::Arc;

use crate::agents::reports::Reports;
use crate::agents::Agents;
use crate::db::Db;

/// The server's shared state: the database, the agents' in-memory view, and the writer of
/// their reports.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub agents: Arc<Agents>,
    /// The writer of the agents' apply reports.
    pub reports: Reports,
}

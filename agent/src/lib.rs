//! `lvs-agent`: keeps one director's kernel IPVS table in sync with its cluster's desired
//! state on `lvs-server`, and reports what it applied, the drift it repaired and statistics.
//!
//! The core is [`reconcile::plan`], a pure function from the kernel's table (as
//! [`observed::Observed`]), the desired state and the drains in progress to the fewest
//! kernel commands; [`reconciler::Reconciler`] runs it against a real kernel, and
//! [`run::run`] wires it to the server (long-poll, reports, statistics) and the clock.

pub mod backoff;
pub mod changes;
pub mod client;
pub mod config;
pub mod drain;
pub mod kernel;
pub mod kernel_map;
pub mod observed;
pub mod random;
pub mod reconcile;
pub mod reconciler;
pub mod reports;
pub mod run;
pub mod state_cache;
pub mod stats;
pub mod telemetry;
pub mod token;

pub use config::Config;
pub use reconciler::{PassResult, Reconciler};
pub use run::run;
pub use telemetry::init_logging;

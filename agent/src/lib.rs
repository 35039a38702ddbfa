//! `lvs-agent`: keeps one director's kernel IPVS table in sync with its cluster's desired
//! state on `lvs-server`, and reports what it applied, the drift it repaired and statistics.
//!
//! The core is [`planner::plan`], a pure function from the kernel's table (as
//! [`observed::Observed`]), the desired state and the drains in progress to the fewest
//! kernel commands; [`pass::Reconciler`] runs it against a real kernel, a whole table or
//! only what a change [`touched`]. [`run::run`] wires it to the server and the clock: the
//! long-poll (`poll.rs`), the reconcile thread (`worker.rs`), reports ([`reports`]) and
//! statistics. Which generation the director applied, and how the server hears of it, is
//! kept in [`applied`].

pub mod applied;
pub mod backoff;
pub mod client;
pub mod config;
pub mod drain;
pub mod health;
pub mod host;
pub mod kernel;
pub mod kernel_map;
pub mod observed;
pub mod pass;
pub mod planner;
mod poll;
pub mod random;
pub mod real_server;
pub mod reports;
pub mod run;
pub mod state_cache;
pub mod stats;
pub mod token;
pub mod touched;
mod worker;

pub use config::Config;
pub use lvs_telemetry::init_logging;
pub use pass::{PassResult, Reconciler, AGENT_VERSION};
pub use run::run;

//! What agents and the server say to each other, besides the desired-state document.
//!
//! An agent pulls its cluster's `DesiredStateSpec` (long-polling for a newer generation),
//! or, when it already holds an earlier generation, the [`DesiredStateChanges`] since then;
//! applies it to its director's kernel, and reports back an [`ApplyReport`] after a
//! reconcile pass that has something to say and a [`StatsReport`] every few seconds.
//!
//! # Which generation a director applied
//!
//! The one specification of the rule; the agent keeps its side in `agent/src/applied.rs`,
//! the server in `server/src/agents/applied.rs`.
//!
//! - A pass *applied* generation G when every kernel change it made or tried succeeded
//!   (a refused command is an outcome with an error, not a failed pass).
//! - The server hears of a pass in one of two ways. A report (`POST /api/v1/agent/report`)
//!   carries the generation with everything else the pass has to say. A *plain* pass, one
//!   that succeeded without repairing drift after a report that succeeded too, with the
//!   same agent and kernel versions and the same unmanaged services and timeouts, says
//!   nothing but its generation: the agent sends no report, and its next long-poll carries
//!   `applied=G` instead (`GET /api/v1/agent/desired-state?applied=G`), at no extra request
//!   and no write. Any other pass is reported, so that a director's status never shows a
//!   new generation beside the old errors, versions or unmanaged services; a long-poll after
//!   it, or after a pass that could not reach the kernel, carries no `applied`.
//! - A pass that did nothing and whose report equals the last one sent is not reported at
//!   all (a periodic pass over a matching kernel), and its long-poll repeats what the one
//!   before it said.
//! - The exception: a long-poll may overtake a report still in flight, which would then
//!   arrive with an older generation and set the status back. So a plain pass that ended
//!   before the agent's last attempt to send a report ended is reported anyway.
//! - Reports wait a moment before they go, and the reports of passes made meanwhile are
//!   merged into one: plain only if every pass it covers was.
//! - The server keeps each long-poll's word in memory (`Agents::applied`), at the time the
//!   poll came, and shows it as a report that succeeded unless a report came later; it
//!   persists it with the heartbeats (every statistics interval and at shutdown), and then
//!   only over a stored report that is older. A report is stored at once.

use serde::{Deserialize, Serialize};

use crate::diff::DiffSpec;
use crate::health::Health;
use crate::spec::{ServiceSpec, TimeoutsSpec};
use crate::validation::ValidationErrors;
use crate::Diff;

/// The media type of a [`DesiredStateChanges`] answer to the agent's long-poll (a whole
/// document is `application/json`).
pub const CHANGES_MEDIA_TYPE: &str = "application/vnd.lvs-fleet.changes+json";

/// What changed in a cluster's desired state from the generation an agent holds to the
/// current one: each generation's diff, in order. The server sends it instead of the whole
/// document when the agent asks for changes and every diff in between is stored complete,
/// so a change costs the agent what the change is, not what the table is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DesiredStateChanges {
    /// The generation the agent holds (its `after`).
    pub from_generation: u64,
    /// The cluster's generation: the last diff's `to_generation`.
    pub generation: u64,
    /// One diff per generation, from `from_generation + 1` to `generation`.
    pub diffs: Vec<DiffSpec>,
}

impl DesiredStateChanges {
    /// The diffs, validated, each starting where the previous one ends, from
    /// `from_generation` to `generation`.
    pub fn parse(&self) -> Result<Vec<Diff>, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut diffs = Vec::with_capacity(self.diffs.len());
        let mut at = self.from_generation;
        for (i, spec) in self.diffs.iter().enumerate() {
            let field = format!("diffs[{i}]");
            if spec.from_generation != at {
                errors.add(
                    format!("{field}.from_generation"),
                    format!("must be {at}, where the previous diff ends"),
                );
            }
            at = spec.to_generation;
            if let Some(diff) = errors.check_nested(&field, spec.parse()) {
                diffs.push(diff);
            }
        }
        if at != self.generation {
            errors.add(
                "generation",
                format!("must be {at}, where the last diff ends"),
            );
        }
        errors.into_result().map(|()| diffs)
    }
}

/// The outcome of one reconcile pass on a director.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplyReport {
    /// The generation this pass applied (0 while the cluster's state was never set).
    pub applied_generation: u64,
    /// Every kernel change this pass made or tried, each applied or with the kernel's error.
    #[serde(default)]
    pub outcomes: Vec<ObjectOutcome>,
    /// Changes made in the kernel behind the agent's back that this pass undid.
    #[serde(default)]
    pub drift_repaired: Vec<DriftRepair>,
    /// Services found in the kernel that the agent left alone because the cluster's desired
    /// state was never set (generation 0); the server can import them.
    #[serde(default)]
    pub unmanaged_services: Vec<ServiceSpec>,
    /// At generation 0, the connection timeouts found in the kernel that the agent left
    /// alone (those the cluster does not set), for the server to import with the services;
    /// absent from agents that predate it, and above generation 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmanaged_timeouts: Option<TimeoutsSpec>,
    /// `lvs-agent` version.
    pub agent_version: String,
    /// The director's kernel release (`uname -r`).
    pub kernel_version: String,
}

impl ApplyReport {
    /// Whether every change of the pass was applied.
    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.error.is_none())
    }
}

/// One kernel change of a reconcile pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObjectOutcome {
    /// `service tcp:10.0.0.1:80`, `real server 10.1.0.1:80 of tcp:10.0.0.1:80`, `timeouts`.
    pub object: String,
    /// `add`, `edit`, `delete`, `drain` (weight 0 before a delete) or `set`.
    pub action: String,
    /// The kernel's error, when the change failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A difference between the kernel and the desired state that the agent did not cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DriftRepair {
    /// The object, named as in [`ObjectOutcome::object`].
    pub object: String,
    /// What was found, e.g. `missing`, `unexpected`, `weight 3 instead of 5`.
    pub found: String,
}

/// What a director's health checks found (`POST /api/v1/agent/health`): sent a moment
/// after health changed, with several changes merged, and in full every so often (and after
/// a failed send), so a server that restarted or missed one catches up. It also carries the
/// check engine's pulse, which shows a checker that stopped checking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// Whether the lists name every checked real server and every service with a check
    /// or a sorry server (the server forgets the others), or only what changed.
    pub full: bool,
    #[serde(default)]
    pub real_servers: Vec<RealServerHealth>,
    #[serde(default)]
    pub services: Vec<ServiceHealth>,
    pub checker: CheckerPulse,
}

/// A checked real server's health on one director.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerHealth {
    /// The service key, e.g. `tcp:10.0.0.1:80`.
    pub service: String,
    /// `10.1.0.1:80` or `[2001:db8::1]:80`.
    pub real_server: String,
    /// `up` or `down`; absent when it is no longer checked (in a report that is not full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Unix milliseconds of the last change of health; 0 while it has its initial health.
    pub since_ms: u64,
    /// Why it went down (`timeout`, `connection refused`, `status 503`, ...), while down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A service's state on one director, as its real servers' health makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceHealth {
    /// The service key.
    pub service: String,
    /// Whether its sorry server stands in (no real server is up with a weight above 0);
    /// absent when the service no longer has checks or a sorry server (not in full reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server_in_use: Option<bool>,
}

/// The check engine's pulse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckerPulse {
    /// Distinct checks running (real servers sharing one count once).
    pub targets: u64,
    /// Results since the agent started.
    pub results: u64,
    /// Unix milliseconds of the last result; 0 before the first.
    pub last_result_ms: u64,
    /// The longest interval among the running checks, in milliseconds: a checker whose last
    /// result is several of these old has stalled.
    pub longest_interval_ms: u64,
}

/// The kernel's counters of a director, sent every few seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsReport {
    pub services: Vec<ServiceStats>,
}

/// One virtual service's counters, with its real servers'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceStats {
    /// The service key, e.g. `tcp:10.0.0.1:80`.
    pub key: String,
    pub counters: Counters,
    pub rates: Rates,
    #[serde(default)]
    pub real_servers: Vec<RealServerStats>,
}

/// One real server's counters and connection counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerStats {
    /// `10.1.0.1:80` or `[2001:db8::1]:80`.
    pub key: String,
    pub active_connections: u32,
    pub inactive_connections: u32,
    pub persistent_connections: u32,
    pub counters: Counters,
    pub rates: Rates,
}

/// Totals since the object was created in the kernel (IPVS `stats64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counters {
    pub connections: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The kernel's rate estimates, per second (IPVS `cps`, `inpps`, `outpps`, `inbps`, `outbps`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rates {
    pub connections: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

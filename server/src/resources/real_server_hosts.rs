//! A real-server host as the API and the UI show it, with the rule that says whether it
//! holds what its services need ([`HostState`]).

use lvs_model::agent::{DriftRepair, ObjectOutcome};
use lvs_model::real_server_host::RealServerNeeds;
use serde::Serialize;
use utoipa::ToSchema;

use super::{etag, timestamp};
use crate::agents::Agents;
use crate::db::real_server_hosts::HostRow;

/// A real-server host as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerHost {
    #[serde(flatten)]
    pub settings: RealServerHostSettings,
    /// When its agent token was created; null when it has none.
    pub token_created_at: Option<String>,
    /// What its agent last said. Not part of the host's ETag.
    pub status: RealServerHostStatus,
    /// What the host must hold now, as its agent's long-poll answers it: only in the answer
    /// for one host (`GET /api/v1/real-server-hosts/{host}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<RealServerNeeds>,
}

/// A host's own fields; its ETag is theirs, so heartbeats and reports do not change it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerHostSettings {
    pub name: String,
    pub description: String,
    /// Sorted.
    #[schema(example = json!(["10.0.1.11"]))]
    pub addresses: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl RealServerHostSettings {
    fn new(row: &HostRow) -> Self {
        RealServerHostSettings {
            name: row.name.clone(),
            description: row.description.clone(),
            addresses: row.addresses.iter().map(ToString::to_string).collect(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// Whether a host holds what its services need: `prepared` (its last report prepared the
/// current needs without errors), `preparing` (not yet: the needs changed since, or it has
/// not reported), `errors` (some changes of its last report failed), `offline` (its agent
/// was not seen for three of the longest long-polls, 6 minutes), `never_seen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// The last report prepared the current needs' version, and every change was made.
    Prepared,
    /// The agent has not reported preparing the current needs (yet).
    Preparing,
    /// Some changes of the last report failed (see `errors`).
    Errors,
    /// The agent was seen, but not for three of the longest long-polls (6 minutes).
    Offline,
    /// No agent of this host ever contacted the server.
    NeverSeen,
}

impl HostState {
    /// The words the UI shows.
    pub fn label(self) -> &'static str {
        match self {
            HostState::Prepared => "prepared",
            HostState::Preparing => "preparing",
            HostState::Errors => "errors",
            HostState::Offline => "offline",
            HostState::NeverSeen => "never seen",
        }
    }

    /// The UI's badge class.
    pub fn class(self) -> &'static str {
        match self {
            HostState::Prepared => "ok",
            HostState::Preparing => "warn",
            HostState::Errors | HostState::Offline => "error",
            HostState::NeverSeen => "",
        }
    }
}

/// A host's agent, as last seen and reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerHostStatus {
    pub state: HostState,
    /// The agent's last request of any kind.
    pub last_seen: Option<String>,
    /// The last report.
    pub reported_at: Option<String>,
    /// The needs' version the last report prepared the host for (with or without errors).
    pub prepared_version: Option<String>,
    /// The failed changes of the last report (at most 100).
    pub errors: Vec<ObjectOutcome>,
    /// What the last report found changed behind the agent's back and undid (at most 50).
    pub drift_repaired: Vec<DriftRepair>,
    pub agent_version: Option<String>,
    pub kernel_version: Option<String>,
}

impl RealServerHost {
    /// The host as shown by the API and the UI, its state judged at `now` against the
    /// current needs' `version`.
    pub fn new(row: &HostRow, version: &str, agents: &Agents, now: i64) -> Self {
        RealServerHost {
            settings: RealServerHostSettings::new(row),
            token_created_at: row.token_created_at.map(timestamp),
            status: RealServerHostStatus::new(row, version, agents, now),
            needs: None,
        }
    }

    /// Shows the host's current needs too.
    pub fn with_needs(mut self, needs: RealServerNeeds) -> Self {
        self.needs = Some(needs);
        self
    }
}

impl RealServerHostStatus {
    fn new(row: &HostRow, version: &str, agents: &Agents, now: i64) -> Self {
        let last_seen = row.last_seen.max(agents.host_last_seen(row.id));
        let report = row.report.as_ref();
        RealServerHostStatus {
            state: state(
                last_seen,
                report,
                version,
                now,
                agents.options.host_offline_after_millis(),
            ),
            last_seen: last_seen.map(timestamp),
            reported_at: row.reported_at.map(timestamp),
            prepared_version: report.map(|r| r.version.clone()),
            errors: report
                .map(|r| {
                    let failed = r.outcomes.iter().filter(|o| o.error.is_some());
                    failed.cloned().collect()
                })
                .unwrap_or_default(),
            drift_repaired: report.map(|r| r.drift_repaired.clone()).unwrap_or_default(),
            agent_version: report.map(|r| r.agent_version.clone()),
            kernel_version: report.map(|r| r.kernel_version.clone()),
        }
    }
}

/// The one rule for a host's state, the API's and the UI's.
pub fn state(
    last_seen: Option<i64>,
    report: Option<&lvs_model::real_server_host::RealServerReport>,
    version: &str,
    now: i64,
    offline_after_millis: i64,
) -> HostState {
    let Some(last_seen) = last_seen else {
        return HostState::NeverSeen;
    };
    if now.saturating_sub(last_seen) > offline_after_millis {
        return HostState::Offline;
    }
    match report {
        None => HostState::Preparing,
        Some(report) if !report.succeeded() => HostState::Errors,
        Some(report) if report.version == version => HostState::Prepared,
        Some(_) => HostState::Preparing,
    }
}

/// The ETag of a host, as the API and the UI serve it: that of its own fields.
pub fn real_server_host_etag(row: &HostRow) -> String {
    etag(&RealServerHostSettings::new(row))
}

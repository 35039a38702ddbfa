//! A director as the API and the UI show it, with the rule that says whether its kernel
//! holds its cluster's desired state ([`SyncState`]).

use std::collections::HashMap;

use lvs_model::agent::ObjectOutcome;
use serde::Serialize;
use sqlx::SqliteConnection;
use utoipa::ToSchema;

use super::{etag, timestamp};
use crate::agents::Agents;
use crate::db::clusters::ClusterRow;
use crate::db::director_status::{self, StatusRow};
use crate::db::directors::{self, DirectorRow};
use crate::db::Generation;

/// A director as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Director {
    #[serde(flatten)]
    pub settings: DirectorSettings,
    /// When its current agent token was created; null when it has none.
    pub token_created_at: Option<String>,
    /// What its agent last reported. Not part of the director's ETag.
    pub status: DirectorStatus,
}

/// A director's own fields; its ETag is theirs, so heartbeats do not change it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorSettings {
    pub name: String,
    pub cluster: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
}

impl DirectorSettings {
    fn new(row: &DirectorRow, cluster: &str) -> Self {
        DirectorSettings {
            name: row.name.clone(),
            cluster: cluster.to_owned(),
            description: row.description.clone(),
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// Whether a director's kernel holds its cluster's desired state: `in_sync`; `unmanaged`
/// (the cluster's desired state was never set and the director holds services its agent
/// leaves alone: import them or set the desired state); `behind` (the current generation
/// is not applied yet); `error` (some changes of the last report failed); `never_seen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The last report applied the cluster's current generation without errors.
    InSync,
    /// The cluster's desired state was never set (generation 0) and this director holds
    /// services (`unmanaged_services`) that its agent leaves alone: import them
    /// (`POST /api/v1/clusters/{cluster}/import`) or set the desired state. A director at
    /// generation 0 with no services is `in_sync`.
    Unmanaged,
    /// The agent has not reported applying the current generation (yet).
    Behind,
    /// Some changes of the last report failed (see `last_errors`).
    Error,
    /// No agent of this director ever contacted the server.
    NeverSeen,
}

impl SyncState {
    /// The state as JSON spells it, for the metrics' `state` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::InSync => "in_sync",
            SyncState::Unmanaged => "unmanaged",
            SyncState::Behind => "behind",
            SyncState::Error => "error",
            SyncState::NeverSeen => "never_seen",
        }
    }
}

/// A director's agent, as last seen and reported.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorStatus {
    /// Seen within the online threshold (30 s: three statistics intervals).
    pub online: bool,
    /// The agent's last request of any kind.
    pub last_seen: Option<String>,
    /// `last_seen` in Unix milliseconds, for the pages' "5 min ago".
    #[serde(skip)]
    pub last_seen_ms: Option<i64>,
    /// The generation the last report applied. An agent's long-poll reports it too
    /// (`applied` in `GET /api/v1/agent/desired-state`).
    pub applied_generation: Option<u64>,
    pub sync: SyncState,
    /// The last report, or the last long-poll that said which generation was applied.
    pub last_report_at: Option<String>,
    /// `last_report_at` in Unix milliseconds.
    #[serde(skip)]
    pub last_report_ms: Option<i64>,
    /// The failed changes of the latest report that had any (kept after later successes).
    pub last_errors: Vec<ObjectOutcome>,
    pub last_errors_at: Option<String>,
    /// The latest drifts the agent repaired, newest first (at most 50). When one report
    /// repaired more (a flushed table), its last entry counts the rest: object
    /// `"<n> more objects"`.
    pub drift_repaired: Vec<RepairedDrift>,
    pub agent_version: Option<String>,
    pub kernel_version: Option<String>,
    /// Services the agent found and left alone at generation 0; see
    /// `POST /api/v1/clusters/{cluster}/import`.
    pub unmanaged_services: u64,
    /// The agent's health-check engine, once it reported (after a server restart, within
    /// a minute); absent while the director checks nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_checker: Option<HealthChecker>,
}

/// A director's check engine.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecker {
    /// Distinct checks running.
    pub targets: u64,
    /// When the engine last had a result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_result_at: Option<String>,
    /// Whether it stopped producing results: a stuck checker, whose real servers keep the
    /// health they had.
    pub stalled: bool,
}

/// A change made behind the agent's back that it undid.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepairedDrift {
    pub object: String,
    pub found: String,
    pub repaired_at: String,
}

impl Director {
    /// The director as shown by the API and the UI.
    pub fn new(
        row: &DirectorRow,
        cluster: &ClusterRow,
        status: Option<&StatusRow>,
        agents: &Agents,
        now: i64,
    ) -> Self {
        let mut status = status.cloned().unwrap_or_default();
        let last_seen = status.last_seen.max(agents.last_seen(row.id));
        // A long-poll after the last report said which generation the agent applied.
        if let Some(applied) = agents
            .last_applied(row.id)
            .filter(|a| a.is_after_report(status.reported_at))
        {
            status.reported_at = Some(applied.at);
            status.applied_generation = Some(applied.generation);
            status.last_report_ok = Some(true);
        }
        let applied_generation = status.applied_generation.map(Generation::get);
        let unmanaged_services = status
            .unmanaged_services
            .map_or(0, |n| u64::try_from(n).unwrap_or(0));
        let sync = if last_seen.is_none() {
            SyncState::NeverSeen
        } else if status.reported_at.is_none() {
            SyncState::Behind
        } else if status.last_report_ok == Some(false) {
            SyncState::Error
        } else if applied_generation != Some(cluster.generation()) {
            SyncState::Behind
        } else if cluster.generation() == 0 && unmanaged_services > 0 {
            SyncState::Unmanaged
        } else {
            SyncState::InSync
        };
        let last_errors = status.last_errors;
        let drift = status.drift_repaired;
        Director {
            settings: DirectorSettings::new(row, &cluster.name),
            token_created_at: status.token_created_at.map(timestamp),
            status: DirectorStatus {
                online: agents.is_online(last_seen, now),
                last_seen: last_seen.map(timestamp),
                last_seen_ms: last_seen,
                applied_generation,
                sync,
                last_report_at: status.reported_at.map(timestamp),
                last_report_ms: status.reported_at,
                last_errors,
                last_errors_at: status.last_errors_at.map(timestamp),
                drift_repaired: drift
                    .into_iter()
                    .map(|d| RepairedDrift {
                        object: d.object,
                        found: d.found,
                        repaired_at: timestamp(d.at),
                    })
                    .collect(),
                agent_version: status.agent_version,
                kernel_version: status.kernel_version,
                unmanaged_services,
                health_checker: agents
                    .health
                    .of_director(row.id)
                    .filter(|h| h.checker.targets > 0)
                    .map(|h| HealthChecker {
                        targets: h.checker.targets,
                        last_result_at: (h.checker.last_result_ms > 0).then(|| {
                            timestamp(i64::try_from(h.checker.last_result_ms).unwrap_or(i64::MAX))
                        }),
                        stalled: super::health::checker_stalled(&h.checker, h.received_at),
                    }),
            },
        }
    }
}

/// Every director of `cluster` with its status, by name: two queries whatever their number.
pub async fn of_cluster(
    conn: &mut SqliteConnection,
    cluster: &ClusterRow,
    agents: &Agents,
    now: i64,
) -> Result<Vec<Director>, sqlx::Error> {
    let statuses: HashMap<i64, StatusRow> = director_status::of_cluster(conn, cluster.id, None)
        .await?
        .into_iter()
        .map(|s| (s.director_id, s))
        .collect();
    let rows = directors::list(conn, cluster.id, None, None, -1).await?;
    Ok(rows
        .iter()
        .map(|row| Director::new(row, cluster, statuses.get(&row.id), agents, now))
        .collect())
}

/// The ETag of a director, as the API and the UI serve it: that of its own fields.
pub fn director_etag(row: &DirectorRow, cluster: &str) -> String {
    etag(&DirectorSettings::new(row, cluster))
}

#[cfg(test)]
mod tests {
    use super::SyncState;

    /// The label, JSON and the metrics' list of states are one spelling.
    #[test]
    fn each_state_is_spelled_as_json_spells_it() {
        let all = [
            SyncState::InSync,
            SyncState::Unmanaged,
            SyncState::Behind,
            SyncState::Error,
            SyncState::NeverSeen,
        ];
        for state in all {
            let json = serde_json::to_value(state).expect("a state serialises");
            assert_eq!(json, state.as_str());
        }
        let labels: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(labels, crate::metrics::directors::SYNC_STATES);
    }
}

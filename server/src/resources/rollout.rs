//! How far a generation has spread: which of its cluster's directors applied it. The one
//! rule behind a change's progress in the API (`GET .../changes/{generation}`), on its page
//! and in the confirmation after every edit in the UI.
//!
//! Generations only grow and an agent applies whole states, so a director whose agent
//! applied generation `g` or a later one has applied `g`.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Director, SyncState};

/// Where one director stands with a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Its agent applied this generation or a later one without errors.
    Applied,
    /// Its agent applied this generation or a later one, but some changes failed (the
    /// director's `last_errors`).
    Failed,
    /// Its agent is online and has not applied it yet.
    Pending,
    /// Not applied, and its agent has not been seen within the online threshold.
    Offline,
    /// No agent of this director ever contacted the server.
    NeverSeen,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Applied => "applied",
            RolloutState::Failed => "failed",
            RolloutState::Pending => "pending",
            RolloutState::Offline => "offline",
            RolloutState::NeverSeen => "never_seen",
        }
    }
}

/// One director's part in a rollout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DirectorRollout {
    pub director: String,
    pub state: RolloutState,
    /// The newest generation its agent applied.
    pub applied_generation: Option<u64>,
    /// Its agent's last request of any kind.
    pub last_seen: Option<String>,
    /// `last_seen` in Unix milliseconds, for the pages.
    #[serde(skip)]
    pub last_seen_ms: Option<i64>,
    /// The first failed change of its last report, when that report had errors: a
    /// director stuck on an error is `pending` or `offline` with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How many of a cluster's directors applied a generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct RolloutCounts {
    /// The cluster's directors now.
    pub directors: u64,
    pub applied: u64,
    pub failed: u64,
    pub pending: u64,
    pub offline: u64,
    pub never_seen: u64,
}

impl RolloutCounts {
    /// Whether no director is left to apply it (errors count as done: the agent retries,
    /// but only a change can mend them).
    pub fn complete(&self) -> bool {
        self.applied + self.failed == self.directors
    }
}

/// A generation's rollout over the cluster's directors, those with the most to say first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rollout {
    pub generation: u64,
    #[serde(flatten)]
    pub counts: RolloutCounts,
    pub by_director: Vec<DirectorRollout>,
}

impl Rollout {
    /// The rollout of `generation` over `directors` (all of its cluster's).
    pub fn new(generation: u64, directors: &[Director]) -> Rollout {
        let mut by_director: Vec<DirectorRollout> = directors
            .iter()
            .map(|d| director_rollout(generation, d))
            .collect();
        by_director.sort_by(|a, b| {
            b.state
                .cmp(&a.state)
                .then_with(|| a.director.cmp(&b.director))
        });
        let mut counts = RolloutCounts {
            directors: by_director.len() as u64,
            ..RolloutCounts::default()
        };
        for d in &by_director {
            *match d.state {
                RolloutState::Applied => &mut counts.applied,
                RolloutState::Failed => &mut counts.failed,
                RolloutState::Pending => &mut counts.pending,
                RolloutState::Offline => &mut counts.offline,
                RolloutState::NeverSeen => &mut counts.never_seen,
            } += 1;
        }
        Rollout {
            generation,
            counts,
            by_director,
        }
    }
}

fn director_rollout(generation: u64, director: &Director) -> DirectorRollout {
    let status = &director.status;
    let applied = status.applied_generation.is_some_and(|a| a >= generation);
    let failed = status.sync == SyncState::Error;
    let state = if status.sync == SyncState::NeverSeen {
        RolloutState::NeverSeen
    } else if applied && failed {
        RolloutState::Failed
    } else if applied {
        RolloutState::Applied
    } else if status.online {
        RolloutState::Pending
    } else {
        RolloutState::Offline
    };
    let error = failed
        .then(|| status.last_errors.first())
        .flatten()
        .map(|e| {
            let why = e.error.as_deref().unwrap_or("failed");
            format!("{} {}: {why}", e.action, e.object)
        });
    DirectorRollout {
        director: director.settings.name.clone(),
        state,
        applied_generation: status.applied_generation,
        last_seen: status.last_seen.clone(),
        last_seen_ms: status.last_seen_ms,
        error,
    }
}

#[cfg(test)]
mod tests {
    use lvs_model::agent::ObjectOutcome;

    use super::*;
    use crate::resources::{DirectorSettings, DirectorStatus};

    fn director(name: &str, applied: Option<u64>, sync: SyncState, online: bool) -> Director {
        let error = ObjectOutcome {
            object: "service tcp:10.0.0.1:80".into(),
            action: "add".into(),
            error: Some("File exists".into()),
        };
        Director {
            settings: DirectorSettings {
                name: name.into(),
                cluster: "edge".into(),
                description: String::new(),
                created_at: String::new(),
                updated_at: String::new(),
            },
            token_created_at: None,
            status: DirectorStatus {
                online,
                last_seen: None,
                last_seen_ms: (sync != SyncState::NeverSeen).then_some(1_000),
                applied_generation: applied,
                sync,
                last_report_at: None,
                last_report_ms: None,
                last_errors: if sync == SyncState::Error {
                    vec![error]
                } else {
                    Vec::new()
                },
                last_errors_at: None,
                drift_repaired: Vec::new(),
                agent_version: None,
                kernel_version: None,
                unmanaged_services: 0,
                health_checker: None,
            },
        }
    }

    #[test]
    fn a_later_generation_applied_counts_and_those_not_done_come_first() {
        let directors = [
            director("lb1", Some(8), SyncState::InSync, true),
            director("lb2", Some(6), SyncState::Behind, true),
            director("lb3", Some(5), SyncState::Behind, false),
            director("lb4", Some(7), SyncState::Error, true),
            director("lb5", None, SyncState::NeverSeen, false),
            director("lb6", Some(7), SyncState::Behind, false),
        ];
        let rollout = Rollout::new(7, &directors);
        let states: Vec<(&str, RolloutState)> = rollout
            .by_director
            .iter()
            .map(|d| (d.director.as_str(), d.state))
            .collect();
        assert_eq!(
            states,
            [
                ("lb5", RolloutState::NeverSeen),
                ("lb3", RolloutState::Offline),
                ("lb2", RolloutState::Pending),
                ("lb4", RolloutState::Failed),
                ("lb1", RolloutState::Applied),
                // Offline now, but it applied generation 7 before it went.
                ("lb6", RolloutState::Applied),
            ]
        );
        assert_eq!(
            rollout.counts,
            RolloutCounts {
                directors: 6,
                applied: 2,
                failed: 1,
                pending: 1,
                offline: 1,
                never_seen: 1,
            }
        );
        assert!(!rollout.counts.complete());
        let failed = &rollout.by_director[3];
        assert_eq!(
            failed.error.as_deref(),
            Some("add service tcp:10.0.0.1:80: File exists")
        );
        assert_eq!(rollout.by_director[4].error, None);
    }

    #[test]
    fn a_rollout_is_complete_when_every_director_applied_it() {
        let directors = [
            director("lb1", Some(3), SyncState::InSync, true),
            director("lb2", Some(3), SyncState::Error, false),
        ];
        let rollout = Rollout::new(3, &directors);
        assert!(rollout.counts.complete());
        assert!(!Rollout::new(4, &directors).counts.complete());
        assert!(Rollout::new(1, &[]).counts.complete());
    }

    #[test]
    fn states_are_spelled_as_json_spells_them() {
        for state in [
            RolloutState::Applied,
            RolloutState::Failed,
            RolloutState::Pending,
            RolloutState::Offline,
            RolloutState::NeverSeen,
        ] {
            let json = serde_json::to_value(state).expect("a state serialises");
            assert_eq!(json, state.as_str());
        }
    }
}

//! The kernel's connection sync daemons, as the cluster configures them: started, replaced
//! when their interface or id changes, and stopped when the cluster no longer wants them,
//! but only those the agent started (a daemon someone else runs is left alone until the
//! cluster configures sync itself).

use lvs_ipvs::{DaemonState, Ipvs, SyncDaemon};
use lvs_model::agent::DriftRepair;
use lvs_model::host::ConnectionSync;

use super::prep::{HostOutcome, HostPrep};

impl HostPrep {
    /// Brings the sync daemons to `wanted`.
    pub fn sync_daemons(
        &mut self,
        ipvs: &mut Ipvs,
        wanted: Option<&ConnectionSync>,
        outcome: &mut HostOutcome,
    ) {
        if wanted.is_none() && !self.owned().sync_daemons {
            return;
        }
        let running = match ipvs.daemons() {
            Ok(running) => running,
            Err(error) => {
                outcome.done("sync daemons".into(), "read", Err(error.to_string()));
                return;
            }
        };
        for (state, role) in [
            (DaemonState::Master, "master"),
            (DaemonState::Backup, "backup"),
        ] {
            let object = format!("sync daemon {role}");
            let want = wanted
                .filter(|sync| match state {
                    DaemonState::Master => sync.role.sends(),
                    _ => sync.role.receives(),
                })
                .map(|sync| {
                    SyncDaemon::new(state, sync.interface.as_str(), u32::from(sync.sync_id))
                });
            let have = running.iter().find(|d| d.state == state);
            let same = |have: &SyncDaemon, want: &SyncDaemon| {
                have.interface == want.interface && have.sync_id == want.sync_id
            };
            match (want, have) {
                (Some(want), Some(have)) if same(have, &want) => {}
                (Some(want), have) => {
                    if have.is_none() && self.owned().sync_daemons {
                        outcome.drift.push(DriftRepair {
                            object: object.clone(),
                            found: "missing".into(),
                        });
                    }
                    if !self.record(&object, "add", outcome, |owned| owned.sync_daemons = true) {
                        continue;
                    }
                    // The kernel runs one daemon of each role: a different one goes first.
                    if have.is_some() {
                        if let Err(error) = ipvs.stop_daemon(state) {
                            outcome.done(object, "edit", Err(error.to_string()));
                            continue;
                        }
                    }
                    let action = if have.is_some() { "edit" } else { "add" };
                    let result = ipvs.start_daemon(&want).map_err(|e| e.to_string());
                    outcome.done(object, action, result);
                }
                (None, Some(_)) if self.owned().sync_daemons => {
                    let result = ipvs.stop_daemon(state).map_err(|e| e.to_string());
                    outcome.done(object, "delete", result);
                }
                (None, _) => {}
            }
        }
        if wanted.is_none() && outcome.succeeded() {
            self.record("sync daemons", "delete", outcome, |owned| {
                owned.sync_daemons = false;
            });
        }
    }
}

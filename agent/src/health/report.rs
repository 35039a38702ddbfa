//! Health reports to the server: a moment after health changed (the changes of that moment
//! merged into one report), a pulse every interval, and the whole picture every few
//! intervals and after a report that failed, so a server that restarted or missed one
//! catches up. A director with no checks and no sorry server sends nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lvs_model::agent::{HealthReport, RealServerHealth, ServiceHealth};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::EngineStatus;
use crate::client::Client;

/// What changed since the last update, from the reconcile thread.
#[derive(Debug, Default)]
pub struct HealthUpdate {
    pub real_servers: Vec<RealServerHealth>,
    pub services: Vec<ServiceHealth>,
}

impl HealthUpdate {
    pub fn is_empty(&self) -> bool {
        self.real_servers.is_empty() && self.services.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a change waits for others to join it.
    pub delay: Duration,
    /// How often the pulse goes, changes or not.
    pub interval: Duration,
    /// Every this many intervals the report is full.
    pub full_every: u32,
}

/// The latest word per real server and per service.
#[derive(Debug, Default)]
struct Picture {
    real_servers: HashMap<(String, String), RealServerHealth>,
    services: HashMap<String, ServiceHealth>,
}

impl Picture {
    /// Takes in `update`; with `forget`, what is no longer checked is dropped (the whole
    /// picture), else kept as such (changes to send).
    fn take(&mut self, update: &HealthUpdate, forget: bool) {
        for rs in &update.real_servers {
            let key = (rs.service.clone(), rs.real_server.clone());
            if forget && rs.health.is_none() {
                self.real_servers.remove(&key);
            } else {
                self.real_servers.insert(key, rs.clone());
            }
        }
        for service in &update.services {
            if forget && service.sorry_server_in_use.is_none() {
                self.services.remove(&service.service);
            } else {
                self.services
                    .insert(service.service.clone(), service.clone());
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.real_servers.is_empty() && self.services.is_empty()
    }

    fn lists(&self) -> (Vec<RealServerHealth>, Vec<ServiceHealth>) {
        let mut real_servers: Vec<_> = self.real_servers.values().cloned().collect();
        real_servers
            .sort_by(|a, b| (&a.service, &a.real_server).cmp(&(&b.service, &b.real_server)));
        let mut services: Vec<_> = self.services.values().cloned().collect();
        services.sort_by(|a, b| a.service.cmp(&b.service));
        (real_servers, services)
    }
}

pub async fn report_loop(
    client: Client,
    mut updates: mpsc::UnboundedReceiver<HealthUpdate>,
    status: Arc<EngineStatus>,
    timing: Timing,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut whole = Picture::default();
    let mut changes = Picture::default();
    let mut full_due = true;
    let mut intervals = 0;
    // Whether the server holds anything of this director's health.
    let mut server_knows = false;
    let phase = timing.interval.mul_f64(crate::random::fraction());
    let mut ticker = tokio::time::interval_at(Instant::now() + phase, timing.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            update = updates.recv() => {
                let Some(update) = update else { return };
                whole.take(&update, true);
                changes.take(&update, false);
                // A moment for the flips of the same event to join.
                tokio::select! {
                    () = tokio::time::sleep(timing.delay) => {}
                    _ = shutdown.changed() => return,
                }
                while let Ok(more) = updates.try_recv() {
                    whole.take(&more, true);
                    changes.take(&more, false);
                }
            }
            _ = ticker.tick() => {
                intervals += 1;
                if intervals >= timing.full_every {
                    full_due = true;
                }
            }
            _ = shutdown.changed() => return,
        }
        let pulse = status.pulse();
        let idle = whole.is_empty() && pulse.targets == 0;
        if idle && !server_knows && changes.is_empty() {
            continue;
        }
        let (real_servers, services) = if full_due {
            whole.lists()
        } else {
            changes.lists()
        };
        let report = HealthReport {
            full: full_due,
            real_servers,
            services,
            checker: pulse,
        };
        match client.health(&report).await {
            Ok(()) => {
                changes = Picture::default();
                if full_due {
                    full_due = false;
                    intervals = 0;
                }
                server_knows = !idle;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot send the health report; the next one is full");
                changes = Picture::default();
                full_due = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lvs_model::Health;

    use super::*;

    fn rs(real_server: &str, health: Option<Health>) -> RealServerHealth {
        RealServerHealth {
            service: "tcp:10.0.0.1:80".into(),
            real_server: real_server.into(),
            health,
            since_ms: 0,
            reason: None,
        }
    }

    #[test]
    fn the_whole_picture_forgets_what_is_no_longer_checked_and_changes_keep_it() {
        let (mut whole, mut changes) = (Picture::default(), Picture::default());
        let first = HealthUpdate {
            real_servers: vec![
                rs("10.1.0.2:80", Some(Health::Up)),
                rs("10.1.0.1:80", Some(Health::Down)),
            ],
            services: Vec::new(),
        };
        whole.take(&first, true);
        let (listed, _) = whole.lists();
        let keys: Vec<&str> = listed.iter().map(|r| r.real_server.as_str()).collect();
        assert_eq!(keys, ["10.1.0.1:80", "10.1.0.2:80"], "sorted");

        let gone = HealthUpdate {
            real_servers: vec![rs("10.1.0.1:80", None)],
            services: vec![ServiceHealth {
                service: "tcp:10.0.0.1:80".into(),
                sorry_server_in_use: None,
            }],
        };
        whole.take(&gone, true);
        changes.take(&gone, false);
        assert_eq!(whole.lists().0.len(), 1);
        assert_eq!(
            changes.lists().0,
            vec![rs("10.1.0.1:80", None)],
            "told as gone"
        );
        assert_eq!(changes.lists().1.len(), 1);
        assert!(whole.lists().1.is_empty());
    }
}

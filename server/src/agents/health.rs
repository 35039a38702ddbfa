//! Real servers' health as each director's agent reports it (kept in memory: an agent sends
//! the whole picture every minute and after reconnecting), and what changed with a report,
//! for the event history.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use lvs_model::agent::{CheckerPulse, HealthReport, RealServerHealth};
use lvs_model::Health;

/// One director's latest word on its real servers' health.
#[derive(Debug, Clone, Default)]
pub struct DirectorHealth {
    pub cluster_id: i64,
    /// When the last report came (Unix ms).
    pub received_at: i64,
    pub checker: CheckerPulse,
    /// By (service key, real server key).
    pub real_servers: HashMap<(String, String), RealServerHealth>,
    /// Service key -> whether its sorry server stands in.
    pub sorry_server_in_use: HashMap<String, bool>,
}

/// A change of a real server's health on a director, for the event history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    pub service: String,
    pub real_server: String,
    pub health: Health,
    pub reason: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Default)]
pub struct HealthStore {
    directors: RwLock<HashMap<i64, Arc<DirectorHealth>>>,
}

impl HealthStore {
    /// Takes in a director's report; returns the changes of health it tells of (a real
    /// server whose health or time of change differs from what was known), oldest first.
    pub fn record(
        &self,
        director_id: i64,
        cluster_id: i64,
        report: HealthReport,
        now: i64,
    ) -> Vec<HealthEvent> {
        let mut directors = self
            .directors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Changed in place: the picture is copied only while a reader still holds it.
        let state = Arc::make_mut(directors.entry(director_id).or_default());
        state.cluster_id = cluster_id;
        state.received_at = now;
        state.checker = report.checker;
        // A full report replaces the picture; what it repeats is no event.
        let previous = report.full.then(|| std::mem::take(&mut state.real_servers));
        if report.full {
            state.sorry_server_in_use.clear();
        }
        let mut events = Vec::new();
        for rs in report.real_servers {
            let key = (rs.service.clone(), rs.real_server.clone());
            let Some(health) = rs.health else {
                state.real_servers.remove(&key);
                continue;
            };
            let before = previous.as_ref().unwrap_or(&state.real_servers).get(&key);
            let changed = before.is_none_or(|b| b.health != rs.health || b.since_ms != rs.since_ms);
            // 0: the initial health, which is no event.
            if changed && rs.since_ms > 0 {
                events.push(HealthEvent {
                    service: rs.service.clone(),
                    real_server: rs.real_server.clone(),
                    health,
                    reason: rs.reason.clone(),
                    at_ms: i64::try_from(rs.since_ms).unwrap_or(i64::MAX),
                });
            }
            state.real_servers.insert(key, rs);
        }
        for service in report.services {
            match service.sorry_server_in_use {
                Some(in_use) => state.sorry_server_in_use.insert(service.service, in_use),
                None => state.sorry_server_in_use.remove(&service.service),
            };
        }
        events.sort_by_key(|e| e.at_ms);
        events
    }

    /// The latest word of a director, if its agent reported since this process started.
    pub fn of_director(&self, director_id: i64) -> Option<Arc<DirectorHealth>> {
        let directors = self
            .directors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        directors.get(&director_id).cloned()
    }

    /// Per service key of the cluster, how many of its real servers some director reports
    /// down: a summary for a list of services, without reading each one's pool.
    pub fn down_by_service(&self, cluster_id: i64) -> HashMap<String, usize> {
        let directors = self
            .directors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut down: HashMap<&str, HashSet<&str>> = HashMap::new();
        for health in directors.values().filter(|h| h.cluster_id == cluster_id) {
            for ((service, real_server), seen) in &health.real_servers {
                if seen.health == Some(Health::Down) {
                    down.entry(service).or_default().insert(real_server);
                }
            }
        }
        down.into_iter()
            .map(|(service, servers)| (service.to_owned(), servers.len()))
            .collect()
    }

    pub fn forget_director(&self, director_id: i64) {
        let mut directors = self
            .directors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        directors.remove(&director_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(health: Option<Health>, since_ms: u64) -> RealServerHealth {
        RealServerHealth {
            service: "tcp:10.0.0.1:80".into(),
            real_server: "10.1.0.1:80".into(),
            health,
            since_ms,
            reason: health
                .filter(|h| *h == Health::Down)
                .map(|_| "timeout".into()),
        }
    }

    fn report(full: bool, real_servers: Vec<RealServerHealth>) -> HealthReport {
        HealthReport {
            full,
            real_servers,
            services: Vec::new(),
            checker: CheckerPulse::default(),
        }
    }

    #[test]
    fn a_change_is_an_event_once_and_a_full_report_replaces_the_picture() {
        let store = HealthStore::default();
        let initial = store.record(1, 7, report(true, vec![rs(Some(Health::Up), 0)]), 10);
        assert!(initial.is_empty(), "the initial health is no event");
        let down = store.record(1, 7, report(false, vec![rs(Some(Health::Down), 500)]), 20);
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].reason.as_deref(), Some("timeout"));
        let again = store.record(1, 7, report(true, vec![rs(Some(Health::Down), 500)]), 30);
        assert!(again.is_empty(), "a full report repeats what is known");
        let known = store.of_director(1).expect("reported");
        assert_eq!(known.real_servers.len(), 1);
        store.record(1, 7, report(true, Vec::new()), 40);
        assert!(store
            .of_director(1)
            .expect("reported")
            .real_servers
            .is_empty());
    }

    #[test]
    fn down_counts_each_real_server_once_per_service_of_its_cluster() {
        let store = HealthStore::default();
        store.record(1, 7, report(true, vec![rs(Some(Health::Down), 5)]), 10);
        store.record(2, 7, report(true, vec![rs(Some(Health::Down), 6)]), 10);
        store.record(3, 8, report(true, vec![rs(Some(Health::Down), 7)]), 10);
        let down = store.down_by_service(7);
        assert_eq!(down.get("tcp:10.0.0.1:80"), Some(&1));
        store.record(1, 7, report(true, vec![rs(Some(Health::Up), 8)]), 20);
        store.record(2, 7, report(true, Vec::new()), 20);
        assert!(store.down_by_service(7).is_empty());
    }

    #[test]
    fn a_partial_report_removes_what_is_no_longer_checked() {
        let store = HealthStore::default();
        store.record(1, 7, report(true, vec![rs(Some(Health::Up), 0)]), 10);
        store.record(1, 7, report(false, vec![rs(None, 0)]), 20);
        assert!(store
            .of_director(1)
            .expect("reported")
            .real_servers
            .is_empty());
    }
}

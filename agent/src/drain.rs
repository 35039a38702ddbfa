//! Graceful removal: what is draining since when, and whether it may go now.
//!
//! A real server (or a whole service) that left the desired state is first set to weight 0
//! and deleted only once its connections are gone or the drain timeout has passed; UDP has
//! no connections to wait for and goes at once. The start times live in memory only: an
//! agent restarted mid-drain starts the clock again, which errs on the side of connections.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs_ipvs::ServiceKey;

/// What drains: a real server of a service, or a whole service (kernel keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrainKey {
    Service(ServiceKey),
    RealServer(ServiceKey, SocketAddr),
}

impl DrainKey {
    /// The service it belongs to (or is).
    pub fn service(&self) -> &ServiceKey {
        match self {
            DrainKey::Service(key) | DrainKey::RealServer(key, _) => key,
        }
    }
}

/// The verdict for one object that should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delete it now (no connections left, UDP, or the timeout passed).
    Delete(DeleteReason),
    /// Start draining: set weight 0 now, check again later.
    Start,
    /// Still draining: leave it as it is.
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    NoConnections,
    Udp,
    TimedOut,
    /// Its health check failed with `on_failure: remove`: its connections are dead.
    Unhealthy,
}

/// Drains in progress, by object, with when each started.
#[derive(Debug, Default)]
pub struct Drains {
    started: HashMap<DrainKey, Instant>,
    seen: HashSet<DrainKey>,
    /// Objects the next pass deletes without draining.
    at_once: HashSet<DrainKey>,
}

impl Drains {
    /// Decides for an object that should go, with its active + inactive connections.
    pub fn decide(
        &mut self,
        key: DrainKey,
        connections: u32,
        udp: bool,
        now: Instant,
        timeout: Duration,
    ) -> Verdict {
        if self.at_once.remove(&key) {
            return Verdict::Delete(DeleteReason::Unhealthy);
        }
        if udp {
            return Verdict::Delete(DeleteReason::Udp);
        }
        if connections == 0 {
            return Verdict::Delete(DeleteReason::NoConnections);
        }
        self.seen.insert(key);
        match self.started.get(&key) {
            Some(start) if now.saturating_duration_since(*start) >= timeout => {
                Verdict::Delete(DeleteReason::TimedOut)
            }
            Some(_) => Verdict::Wait,
            None => {
                self.started.insert(key, now);
                Verdict::Start
            }
        }
    }

    /// Lets the next pass delete `key` at once, should it go.
    pub fn remove_at_once(&mut self, key: DrainKey) {
        self.at_once.insert(key);
    }

    /// Whether `key` was draining before this pass.
    pub fn is_draining(&self, key: &DrainKey) -> bool {
        self.started.contains_key(key)
    }

    /// Ends a pass: forgets every drain that was not decided on as still going (deleted,
    /// restored to the desired state, or gone from the kernel).
    pub fn finish_pass(&mut self) {
        self.at_once.clear();
        let seen = std::mem::take(&mut self.seen);
        self.started.retain(|key, _| seen.contains(key));
    }

    /// Ends a pass that looked only at the services `looked_at` says: forgets the drains
    /// of those services that were not decided on, and keeps every other drain.
    pub fn finish_partial_pass(&mut self, looked_at: impl Fn(&ServiceKey) -> bool) {
        self.at_once.clear();
        let seen = std::mem::take(&mut self.seen);
        self.started
            .retain(|key, _| seen.contains(key) || !looked_at(key.service()));
    }

    /// How many objects are draining.
    pub fn len(&self) -> usize {
        self.started.len()
    }

    pub fn is_empty(&self) -> bool {
        self.started.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DrainKey {
        DrainKey::Service(ServiceKey::Fwmark {
            family: lvs_ipvs::Family::Inet,
            mark: 1,
        })
    }

    #[test]
    fn starts_waits_and_times_out() {
        let mut drains = Drains::default();
        let t0 = Instant::now();
        let timeout = Duration::from_secs(10);
        assert_eq!(drains.decide(key(), 3, false, t0, timeout), Verdict::Start);
        drains.finish_pass();
        assert_eq!(drains.len(), 1);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            drains.decide(key(), 3, false, later, timeout),
            Verdict::Wait
        );
        drains.finish_pass();
        let much_later = t0 + timeout;
        assert_eq!(
            drains.decide(key(), 3, false, much_later, timeout),
            Verdict::Delete(DeleteReason::TimedOut)
        );
        // Kept until the object is gone, so a refused delete is retried, not restarted.
        drains.finish_pass();
        assert_eq!(drains.len(), 1);
        drains.finish_pass();
        assert!(drains.is_empty());
    }

    #[test]
    fn no_connections_or_udp_go_at_once() {
        let mut drains = Drains::default();
        let now = Instant::now();
        let timeout = Duration::from_secs(10);
        assert_eq!(
            drains.decide(key(), 0, false, now, timeout),
            Verdict::Delete(DeleteReason::NoConnections)
        );
        assert_eq!(
            drains.decide(key(), 9, true, now, timeout),
            Verdict::Delete(DeleteReason::Udp)
        );
        drains.finish_pass();
        assert!(drains.is_empty());
    }

    #[test]
    fn a_partial_pass_forgets_only_the_drains_it_looked_at() {
        let other = DrainKey::RealServer(
            ServiceKey::Fwmark {
                family: lvs_ipvs::Family::Inet,
                mark: 2,
            },
            "10.0.0.1:80".parse().unwrap(),
        );
        let mut drains = Drains::default();
        let now = Instant::now();
        let timeout = Duration::from_secs(10);
        drains.decide(key(), 1, false, now, timeout);
        drains.decide(other, 1, false, now, timeout);
        drains.finish_pass();
        drains.finish_partial_pass(|service| service == key().service());
        assert!(!drains.is_draining(&key()), "looked at and not decided on");
        assert!(drains.is_draining(&other), "not looked at");
    }

    #[test]
    fn an_object_not_seen_in_a_pass_is_forgotten() {
        let mut drains = Drains::default();
        let now = Instant::now();
        drains.decide(key(), 1, false, now, Duration::from_secs(1));
        drains.finish_pass();
        assert!(drains.is_draining(&key()));
        drains.finish_pass();
        assert!(!drains.is_draining(&key()));
    }
}

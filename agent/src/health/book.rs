//! Which real servers use which check, the health of each, and what that makes of the
//! desired state: the effective state the planner applies. Pure; the engine feeds it.
//!
//! A real server's weight in the kernel is the lower of what its administrators set
//! (weight, drained) and what its health allows: down means weight 0 (`quiesce`) or out of
//! the table (`remove`). A service's sorry server joins the table only while none of its
//! real servers is up with a weight above 0.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use lvs_model::{
    CheckKind, DesiredService, DesiredState, Health, HealthCheck, OnFailure, RealServer,
    RealServerKey, RealServerState, ServiceKey,
};

use lvs_model::agent::{RealServerHealth, ServiceHealth};

use super::{Failure, Target, Transition};

#[derive(Debug, Default)]
pub struct Book {
    /// Each service's checked real servers and their targets.
    services: HashMap<ServiceKey, HashMap<RealServerKey, Target>>,
    targets: HashMap<Target, Entry>,
    /// Real servers whose health, or whether they are checked, changed since the last
    /// [`Book::take_changes`]; and the services they belong to.
    changed: HashSet<(ServiceKey, RealServerKey)>,
    changed_services: HashSet<ServiceKey>,
}

/// What the book knows of one target.
#[derive(Debug)]
struct Entry {
    health: Health,
    /// The failure of the last fall, while down.
    failure: Option<Failure>,
    /// Unix milliseconds of the last flip; 0 while it has its initial health.
    since_ms: u64,
    users: HashSet<(ServiceKey, RealServerKey)>,
}

/// Targets to start and to stop after a change of the book.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub start: Vec<Target>,
    pub stop: Vec<Target>,
}

/// One real server's health as the book has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub health: Health,
    pub failure: Option<Failure>,
    pub since_ms: u64,
}

impl Book {
    /// Records the checks of `service`'s real servers (replacing what it had), returning
    /// the targets that no other real server used before or uses now.
    pub fn set_service(&mut self, service: &DesiredService) -> Delta {
        let key = *service.key();
        let wanted: HashMap<RealServerKey, Target> = service
            .real_servers()
            .filter_map(|rs| target_of(service, rs).map(|t| (rs.key(), t)))
            .collect();
        let mut delta = self.forget(&key, |rs, target| wanted.get(rs) != Some(target));
        self.changed_services.insert(key);
        for (rs, target) in &wanted {
            if self.services.get(&key).and_then(|old| old.get(rs)) != Some(target) {
                self.changed.insert((key, *rs));
            }
            let entry = self.targets.entry(target.clone()).or_insert_with(|| {
                delta.start.push(target.clone());
                Entry {
                    health: target.check.initial(),
                    failure: None,
                    since_ms: 0,
                    users: HashSet::new(),
                }
            });
            entry.users.insert((key, *rs));
        }
        if wanted.is_empty() {
            self.services.remove(&key);
        } else {
            self.services.insert(key, wanted);
        }
        delta
    }

    /// Forgets a service that is gone.
    pub fn remove_service(&mut self, key: &ServiceKey) -> Delta {
        let delta = self.forget(key, |_, _| true);
        self.services.remove(key);
        self.changed_services.insert(*key);
        delta
    }

    /// Makes the book hold exactly the checks of `desired`.
    pub fn set_state(&mut self, desired: &DesiredState) -> Delta {
        let mut delta = Delta::default();
        let gone: Vec<ServiceKey> = self
            .services
            .keys()
            .filter(|key| desired.service(key).is_none())
            .copied()
            .collect();
        for key in gone {
            delta.extend(self.remove_service(&key));
        }
        for service in desired.services() {
            delta.extend(self.set_service(service));
        }
        delta
    }

    /// Takes in a flip of a target's health; the services it changes (none when the target
    /// is no longer used: its task was stopped after the flip left).
    pub fn record(&mut self, transition: &Transition) -> Vec<ServiceKey> {
        let Some(entry) = self.targets.get_mut(&transition.target) else {
            return Vec::new();
        };
        entry.health = transition.health;
        entry.failure = transition.failure.clone();
        entry.since_ms = transition.at_ms;
        self.changed.extend(entry.users.iter().copied());
        let services: HashSet<ServiceKey> = entry.users.iter().map(|(s, _)| *s).collect();
        self.changed_services.extend(services.iter().copied());
        services.into_iter().collect()
    }

    /// The health of a checked real server; `None` when it has no check.
    pub fn seen(&self, service: &ServiceKey, real_server: &RealServerKey) -> Option<Seen> {
        let target = self.services.get(service)?.get(real_server)?;
        let entry = self.targets.get(target)?;
        Some(Seen {
            health: entry.health,
            failure: entry.failure.clone(),
            since_ms: entry.since_ms,
        })
    }

    /// How many distinct targets are checked.
    pub fn targets(&self) -> usize {
        self.targets.len()
    }

    /// `desired` as the kernel should hold it given health: borrowed when health changes
    /// nothing (no checks, no sorry server in use).
    pub fn effective_state<'a>(&self, desired: &'a DesiredState) -> Cow<'a, DesiredState> {
        let changed: Vec<DesiredService> = desired
            .services()
            .filter_map(|service| match self.effective(service) {
                Cow::Owned(service) => Some(service),
                Cow::Borrowed(_) => None,
            })
            .collect();
        if changed.is_empty() {
            return Cow::Borrowed(desired);
        }
        let mut changed: HashMap<ServiceKey, DesiredService> =
            changed.into_iter().map(|s| (*s.key(), s)).collect();
        let services = desired.services().map(|service| {
            changed
                .remove(service.key())
                .unwrap_or_else(|| service.clone())
        });
        Cow::Owned(
            DesiredState::new(desired.generation, desired.timeouts, services)
                .expect("the services of one state have distinct keys"),
        )
    }

    /// `service` as the kernel should hold it given its real servers' health.
    pub fn effective<'a>(&self, service: &'a DesiredService) -> Cow<'a, DesiredService> {
        let checked = self.services.get(service.key());
        let sorry = service.service().sorry_server();
        if checked.is_none() && sorry.is_none() {
            return Cow::Borrowed(service);
        }
        // Looked at first without copying: most passes find every real server up.
        let any_down = checked.is_some()
            && service
                .real_servers()
                .any(|rs| self.down(checked, rs).is_some());
        let sorry_in = self.sorry_server_in_use(service);
        if !any_down && !sorry_in {
            return Cow::Borrowed(service);
        }
        let mut servers = Vec::with_capacity(service.real_servers().len() + 1);
        for rs in service.real_servers() {
            match self.down(checked, rs) {
                None => servers.push(rs.clone()),
                Some((target, _)) if target.check.on_failure() == OnFailure::Quiesce => {
                    servers.push(quiesced(rs));
                }
                Some(_) => {}
            }
        }
        let settings = match sorry.filter(|_| sorry_in) {
            Some(sorry) => {
                servers.push(sorry.clone());
                service.service().without_sorry_server()
            }
            None => service.service().clone(),
        };
        Cow::Owned(
            DesiredService::new(settings, servers)
                .expect("health keeps keys distinct: the sorry server is none of the real servers"),
        )
    }

    /// Whether `service`'s sorry server stands in: it has one, and none of its real servers
    /// is up with a weight above 0.
    pub fn sorry_server_in_use(&self, service: &DesiredService) -> bool {
        let checked = self.services.get(service.key());
        service.service().sorry_server().is_some()
            && !service
                .real_servers()
                .any(|rs| self.down(checked, rs).is_none() && rs.effective_weight().get() > 0)
    }

    /// What changed since the last call, for the server: each changed real server's health
    /// (`None`: no longer checked) and each changed service's sorry server.
    pub fn take_changes(
        &mut self,
        desired: &DesiredState,
    ) -> (Vec<RealServerHealth>, Vec<ServiceHealth>) {
        let real_servers = std::mem::take(&mut self.changed)
            .into_iter()
            .map(|(service, rs)| self.report(&service, &rs))
            .collect();
        let services = std::mem::take(&mut self.changed_services)
            .into_iter()
            .map(|key| ServiceHealth {
                service: key.to_string(),
                sorry_server_in_use: desired
                    .service(&key)
                    .filter(|s| {
                        self.services.contains_key(&key) || s.service().sorry_server().is_some()
                    })
                    .map(|s| self.sorry_server_in_use(s)),
            })
            .collect();
        (real_servers, services)
    }

    fn report(&self, service: &ServiceKey, rs: &RealServerKey) -> RealServerHealth {
        let seen = self.seen(service, rs);
        RealServerHealth {
            service: service.to_string(),
            real_server: std::net::SocketAddr::from(*rs).to_string(),
            health: seen.as_ref().map(|s| s.health),
            since_ms: seen.as_ref().map_or(0, |s| s.since_ms),
            reason: seen
                .filter(|s| s.health == Health::Down)
                .and_then(|s| s.failure)
                .map(|f| f.to_string()),
        }
    }

    /// The target of `rs` and its entry, when it is checked and down.
    fn down<'a>(
        &'a self,
        checked: Option<&'a HashMap<RealServerKey, Target>>,
        rs: &RealServer,
    ) -> Option<(&'a Target, &'a Entry)> {
        checked
            .and_then(|targets| targets.get(&rs.key()))
            .and_then(|target| self.targets.get(target).map(|e| (target, e)))
            .filter(|(_, entry)| entry.health == Health::Down)
    }

    /// The real servers of `service` that health takes out of the table (`remove`): they
    /// go at once, without draining, as their connections are dead anyway.
    pub fn removed(&self, service: &ServiceKey) -> Vec<RealServerKey> {
        let Some(targets) = self.services.get(service) else {
            return Vec::new();
        };
        targets
            .iter()
            .filter(|(_, target)| {
                target.check.on_failure() == OnFailure::Remove
                    && self
                        .targets
                        .get(*target)
                        .is_some_and(|e| e.health == Health::Down)
            })
            .map(|(rs, _)| *rs)
            .collect()
    }

    /// Drops `service`'s users of the targets `drop` picks, stopping targets left unused.
    fn forget(
        &mut self,
        service: &ServiceKey,
        drop: impl Fn(&RealServerKey, &Target) -> bool,
    ) -> Delta {
        let mut delta = Delta::default();
        let Some(current) = self.services.get(service) else {
            return delta;
        };
        for (rs, target) in current.iter().filter(|(rs, t)| drop(rs, t)) {
            self.changed.insert((*service, *rs));
            if let Some(entry) = self.targets.get_mut(target) {
                entry.users.remove(&(*service, *rs));
                if entry.users.is_empty() {
                    self.targets.remove(target);
                    delta.stop.push(target.clone());
                }
            }
        }
        delta
    }
}

impl Delta {
    pub fn extend(&mut self, other: Delta) {
        self.start.extend(other.start);
        self.stop.extend(other.stop);
    }
}

/// The check of a real server (its own, else its service's) and what it reaches; `None`
/// when it is not checked.
pub fn target_of(service: &DesiredService, rs: &RealServer) -> Option<Target> {
    let check: &HealthCheck = rs.health_check().or(service.service().health_check())?;
    if check.kind() == CheckKind::None {
        return None;
    }
    Some(Target {
        address: rs.address(),
        port: check.port().map_or(rs.port(), |p| p.get()),
        check: Arc::new(check.clone()),
    })
}

/// Weight 0 in the kernel, the configured weight kept: what drained means.
fn quiesced(rs: &RealServer) -> RealServer {
    rs.with_state(RealServerState::Drained)
}

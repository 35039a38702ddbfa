//! The difference between two desired states, and applying it.
//!
//! One implementation serves the agent (what to program), the plan view and the CLI (what
//! a change will do) and the declarative API (what a `PUT` changed).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::desired::{display_key, DesiredService, DesiredState};
use crate::host::HostSettings;
use crate::real_server::{RealServer, RealServerKey};
use crate::service::{ServiceKey, VirtualService};
use crate::spec::Timeouts;

mod spec;

pub use spec::{ChangeKind, ChangeSpec, DiffSpec, RealServerChangeSpec, ServiceChangeSpec};

/// What turns one desired state into another; services ordered by key, real servers by
/// address and port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub from_generation: u64,
    pub to_generation: u64,
    pub timeouts: Option<Change<Timeouts>>,
    pub host: Option<Change<HostSettings>>,
    pub services: Vec<ServiceChange>,
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChange {
    /// A new service with all its real servers.
    Added(DesiredService),
    /// A service that goes away with all its real servers.
    Removed(DesiredService),
    /// A service that stays, with what changed in it.
    Changed(ServiceUpdate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUpdate {
    pub key: ServiceKey,
    /// Settings (scheduler, persistence, labels...) when they changed.
    pub settings: Option<Change<VirtualService>>,
    pub real_servers: Vec<RealServerChange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealServerChange {
    Added(RealServer),
    Removed(RealServer),
    Changed(Change<RealServer>),
}

/// Counts of what a diff does, for people and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffSummary {
    pub services_added: usize,
    pub services_removed: usize,
    pub services_changed: usize,
    pub real_servers_added: usize,
    pub real_servers_removed: usize,
    pub real_servers_changed: usize,
    pub timeouts_changed: bool,
    /// Whether the host settings (VIPs, sysctls) changed.
    #[serde(default)]
    pub host_changed: bool,
}

/// Applying a diff to a state it was not computed from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("the diff starts at generation {expected}, the state is at {actual}")]
    Generation { expected: u64, actual: u64 },
    #[error("service {0} differs from what the diff expects")]
    Service(ServiceKey),
    #[error("real server {server} of service {service} differs from what the diff expects")]
    RealServer { service: ServiceKey, server: String },
    #[error("the timeouts differ from what the diff expects")]
    Timeouts,
    #[error("the host settings differ from what the diff expects")]
    Host,
}

impl Diff {
    /// Everything that differs from `old` to `new`, in one merge pass over both.
    pub fn between(old: &DesiredState, new: &DesiredState) -> Diff {
        let timeouts = (old.timeouts != new.timeouts).then_some(Change {
            old: old.timeouts,
            new: new.timeouts,
        });
        let host = (old.host != new.host).then(|| Change {
            old: old.host.clone(),
            new: new.host.clone(),
        });
        let services = merge(old.service_map(), new.service_map())
            .filter_map(|(_, pair)| match pair {
                (Some(old), None) => Some(ServiceChange::Removed(old.clone())),
                (None, Some(new)) => Some(ServiceChange::Added(new.clone())),
                (Some(old), Some(new)) => service_update(old, new).map(ServiceChange::Changed),
                (None, None) => None,
            })
            .collect();
        Diff {
            from_generation: old.generation,
            to_generation: new.generation,
            timeouts,
            host,
            services,
        }
    }

    /// The diff that undoes this one: from its new state back to its old one, equal to
    /// [`Diff::between`] the two states taken the other way round. A diff holds every
    /// value before and after, so this needs nothing else.
    pub fn reversed(&self) -> Diff {
        Diff {
            from_generation: self.to_generation,
            to_generation: self.from_generation,
            timeouts: self.timeouts.as_ref().map(Change::reversed),
            host: self.host.as_ref().map(Change::reversed),
            services: self.services.iter().map(ServiceChange::reversed).collect(),
        }
    }

    /// No service, real server or timeout changes (the generations may still differ).
    pub fn is_empty(&self) -> bool {
        self.timeouts.is_none() && self.host.is_none() && self.services.is_empty()
    }

    pub fn summary(&self) -> DiffSummary {
        let mut summary = DiffSummary {
            timeouts_changed: self.timeouts.is_some(),
            host_changed: self.host.is_some(),
            ..DiffSummary::default()
        };
        for change in &self.services {
            match change {
                ServiceChange::Added(s) => {
                    summary.services_added += 1;
                    summary.real_servers_added += s.real_servers().len();
                }
                ServiceChange::Removed(s) => {
                    summary.services_removed += 1;
                    summary.real_servers_removed += s.real_servers().len();
                }
                ServiceChange::Changed(update) => {
                    summary.services_changed += usize::from(update.settings.is_some());
                    for server in &update.real_servers {
                        match server {
                            RealServerChange::Added(_) => summary.real_servers_added += 1,
                            RealServerChange::Removed(_) => summary.real_servers_removed += 1,
                            RealServerChange::Changed(_) => summary.real_servers_changed += 1,
                        }
                    }
                }
            }
        }
        summary
    }

    /// Applies this diff to a copy of `state`, which must be the state it was computed
    /// from; see [`Diff::apply_in_place`].
    pub fn apply(&self, state: &DesiredState) -> Result<DesiredState, ApplyError> {
        let mut next = state.clone();
        self.apply_in_place(&mut next)?;
        Ok(next)
    }

    /// Applies this diff to `state`, which must be the state it was computed from. Every
    /// object the diff names is checked first (a stale diff fails and leaves `state` as it
    /// was, instead of doing half its work); the cost is that of the diff, not the state.
    pub fn apply_in_place(&self, state: &mut DesiredState) -> Result<(), ApplyError> {
        self.check_applies_to(state)?;
        if let Some(change) = &self.timeouts {
            state.timeouts = change.new;
        }
        if let Some(change) = &self.host {
            state.host = change.new.clone();
        }
        let services = state.service_map_mut();
        for change in &self.services {
            match change {
                ServiceChange::Added(service) => {
                    services.insert(*service.key(), service.clone());
                }
                ServiceChange::Removed(service) => {
                    services.remove(service.key());
                }
                ServiceChange::Changed(update) => {
                    if let Some(service) = services.get_mut(&update.key) {
                        apply_update(service, update);
                    }
                }
            }
        }
        state.generation = self.to_generation;
        Ok(())
    }

    /// Whether every object the diff changes is, in `state`, as the diff expects it (and
    /// named once), so that applying it cannot fail half-way.
    fn check_applies_to(&self, state: &DesiredState) -> Result<(), ApplyError> {
        if state.generation != self.from_generation {
            return Err(ApplyError::Generation {
                expected: self.from_generation,
                actual: state.generation,
            });
        }
        if self
            .timeouts
            .as_ref()
            .is_some_and(|c| state.timeouts != c.old)
        {
            return Err(ApplyError::Timeouts);
        }
        if self.host.as_ref().is_some_and(|c| state.host != c.old) {
            return Err(ApplyError::Host);
        }
        let mut seen = HashSet::with_capacity(self.services.len());
        for change in &self.services {
            let key = *change.key();
            let found = state.service(&key);
            let expected = match change {
                ServiceChange::Added(_) => found.is_none(),
                ServiceChange::Removed(service) => found == Some(service),
                ServiceChange::Changed(update) => {
                    found.is_some_and(|service| update_applies_to(service, update))
                }
            };
            if !expected || !seen.insert(key) {
                return Err(ApplyError::Service(key));
            }
            if let ServiceChange::Changed(update) = change {
                check_real_servers(found, update)?;
            }
        }
        Ok(())
    }
}

/// Diffs of one edit, built from the values before and after it, so a writer that changes
/// one object records what changed without loading the rest of the state. Each equals what
/// [`Diff::between`] finds between two states that differ only by that edit; the
/// generations are left at 0 for the writer to fill in.
impl Diff {
    /// A new service with all its real servers.
    pub fn service_added(service: DesiredService) -> Diff {
        Diff::of_services(vec![ServiceChange::Added(service)])
    }

    /// A service that goes away with all its real servers.
    pub fn service_removed(service: DesiredService) -> Diff {
        Diff::of_services(vec![ServiceChange::Removed(service)])
    }

    /// A service edited in place. A new key is another service to the kernel, so it is
    /// the old one removed and the new one added, as [`Diff::between`] sees it.
    pub fn service_changed(old: DesiredService, new: DesiredService) -> Diff {
        if old.key() == new.key() {
            let update = service_update(&old, &new);
            return Diff::of_services(update.map(ServiceChange::Changed).into_iter().collect());
        }
        let mut services = vec![ServiceChange::Removed(old), ServiceChange::Added(new)];
        services.sort_by(|a, b| a.key().cmp(b.key()));
        Diff::of_services(services)
    }

    /// A real server added to the service with key `service`.
    pub fn real_server_added(service: ServiceKey, server: RealServer) -> Diff {
        Diff::of_real_servers(service, vec![RealServerChange::Added(server)])
    }

    /// A real server removed from the service with key `service`.
    pub fn real_server_removed(service: ServiceKey, server: RealServer) -> Diff {
        Diff::of_real_servers(service, vec![RealServerChange::Removed(server)])
    }

    /// A real server edited in place; a new address or port makes it a removal and an
    /// addition, as [`Diff::between`] sees it.
    pub fn real_server_changed(service: ServiceKey, old: RealServer, new: RealServer) -> Diff {
        let changes = if old == new {
            Vec::new()
        } else if old.key() == new.key() {
            vec![RealServerChange::Changed(Change { old, new })]
        } else {
            let mut changes = vec![RealServerChange::Removed(old), RealServerChange::Added(new)];
            changes.sort_by_key(RealServerChange::key);
            changes
        };
        Diff::of_real_servers(service, changes)
    }

    /// The cluster's connection timeouts changed.
    pub fn timeouts_changed(old: Timeouts, new: Timeouts) -> Diff {
        Diff {
            timeouts: (old != new).then_some(Change { old, new }),
            ..Diff::default()
        }
    }

    /// The cluster's host settings changed.
    pub fn host_changed(old: HostSettings, new: HostSettings) -> Diff {
        Diff {
            host: (old != new).then_some(Change { old, new }),
            ..Diff::default()
        }
    }

    fn of_services(services: Vec<ServiceChange>) -> Diff {
        Diff {
            services,
            ..Diff::default()
        }
    }

    fn of_real_servers(key: ServiceKey, real_servers: Vec<RealServerChange>) -> Diff {
        if real_servers.is_empty() {
            return Diff::default();
        }
        Diff::of_services(vec![ServiceChange::Changed(ServiceUpdate {
            key,
            settings: None,
            real_servers,
        })])
    }
}

impl<T: Clone> Change<T> {
    fn reversed(&self) -> Change<T> {
        Change {
            old: self.new.clone(),
            new: self.old.clone(),
        }
    }
}

impl ServiceChange {
    fn reversed(&self) -> ServiceChange {
        match self {
            ServiceChange::Added(service) => ServiceChange::Removed(service.clone()),
            ServiceChange::Removed(service) => ServiceChange::Added(service.clone()),
            ServiceChange::Changed(update) => ServiceChange::Changed(ServiceUpdate {
                key: update.key,
                settings: update.settings.as_ref().map(Change::reversed),
                real_servers: update
                    .real_servers
                    .iter()
                    .map(RealServerChange::reversed)
                    .collect(),
            }),
        }
    }

    /// The key of the service it changes.
    pub fn key(&self) -> &ServiceKey {
        match self {
            ServiceChange::Added(service) | ServiceChange::Removed(service) => service.key(),
            ServiceChange::Changed(update) => &update.key,
        }
    }
}

impl RealServerChange {
    fn reversed(&self) -> RealServerChange {
        match self {
            RealServerChange::Added(server) => RealServerChange::Removed(server.clone()),
            RealServerChange::Removed(server) => RealServerChange::Added(server.clone()),
            RealServerChange::Changed(change) => RealServerChange::Changed(change.reversed()),
        }
    }

    /// The address and port of the real server it changes (before the change).
    pub fn key(&self) -> RealServerKey {
        match self {
            RealServerChange::Added(server) | RealServerChange::Removed(server) => server.key(),
            RealServerChange::Changed(change) => change.old.key(),
        }
    }
}

fn service_update(old: &DesiredService, new: &DesiredService) -> Option<ServiceUpdate> {
    let settings = (old.service() != new.service()).then(|| Change {
        old: old.service().clone(),
        new: new.service().clone(),
    });
    let real_servers: Vec<_> = merge(old.real_server_map(), new.real_server_map())
        .filter_map(|(_, pair)| match pair {
            (Some(old), None) => Some(RealServerChange::Removed(old.clone())),
            (None, Some(new)) => Some(RealServerChange::Added(new.clone())),
            (Some(old), Some(new)) if old != new => Some(RealServerChange::Changed(Change {
                old: old.clone(),
                new: new.clone(),
            })),
            _ => None,
        })
        .collect();
    (settings.is_some() || !real_servers.is_empty()).then(|| ServiceUpdate {
        key: *old.key(),
        settings,
        real_servers,
    })
}

/// Whether a service's settings are as `update` expects them.
fn update_applies_to(service: &DesiredService, update: &ServiceUpdate) -> bool {
    update
        .settings
        .as_ref()
        .is_none_or(|change| service.service() == &change.old)
}

/// Whether each real server `update` changes is, in `service`, as it expects (and named
/// once).
fn check_real_servers(
    service: Option<&DesiredService>,
    update: &ServiceUpdate,
) -> Result<(), ApplyError> {
    let mut seen = HashSet::with_capacity(update.real_servers.len());
    for change in &update.real_servers {
        let found = service.and_then(|s| s.real_server(&change.key()));
        let expected = match change {
            RealServerChange::Added(_) => found.is_none(),
            RealServerChange::Removed(server) => found == Some(server),
            RealServerChange::Changed(Change { old, new }) => {
                found == Some(old) && old.key() == new.key()
            }
        };
        if !expected || !seen.insert(change.key()) {
            return Err(ApplyError::RealServer {
                service: update.key,
                server: display_key(change.key()),
            });
        }
    }
    Ok(())
}

/// Applies a checked update (see [`Diff::check_applies_to`]).
fn apply_update(service: &mut DesiredService, update: &ServiceUpdate) {
    if let Some(change) = &update.settings {
        service.set_service(change.new.clone());
    }
    let servers = service.real_server_map_mut();
    for change in &update.real_servers {
        match change {
            RealServerChange::Added(server) => {
                servers.insert(server.key(), server.clone());
            }
            RealServerChange::Removed(server) => {
                servers.remove(&server.key());
            }
            RealServerChange::Changed(Change { new, .. }) => {
                servers.insert(new.key(), new.clone());
            }
        }
    }
}

/// Walks two sorted maps together, yielding each key with its value on either side.
fn merge<'a, K: Ord + Copy, V>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (K, (Option<&'a V>, Option<&'a V>))> + 'a {
    let mut old = old.iter().peekable();
    let mut new = new.iter().peekable();
    std::iter::from_fn(move || {
        let order = match (old.peek(), new.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            Ordering::Less => old.next().map(|(k, v)| (*k, (Some(v), None))),
            Ordering::Greater => new.next().map(|(k, v)| (*k, (None, Some(v)))),
            Ordering::Equal => {
                let (k, a) = old.next()?;
                let (_, b) = new.next()?;
                Some((*k, (Some(a), Some(b))))
            }
        }
    })
}

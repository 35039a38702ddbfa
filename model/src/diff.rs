//! The difference between two desired states, and applying it.
//!
//! One implementation serves the agent (what to program), the plan view and the CLI (what
//! a change will do) and the declarative API (what a `PUT` changed).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::desired::{display_key, DesiredService, DesiredState};
use crate::real_server::{RealServer, RealServerKey};
use crate::service::{ServiceKey, VirtualService};
use crate::spec::{RealServerSpec, ServiceSpec, Timeouts, TimeoutsSpec};

/// What turns one desired state into another; services ordered by key, real servers by
/// address and port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub from_generation: u64,
    pub to_generation: u64,
    pub timeouts: Option<Change<Timeouts>>,
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
}

impl Diff {
    /// Everything that differs from `old` to `new`, in one merge pass over both.
    pub fn between(old: &DesiredState, new: &DesiredState) -> Diff {
        let timeouts = (old.timeouts != new.timeouts).then_some(Change {
            old: old.timeouts,
            new: new.timeouts,
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
            services,
        }
    }

    /// No service, real server or timeout changes (the generations may still differ).
    pub fn is_empty(&self) -> bool {
        self.timeouts.is_none() && self.services.is_empty()
    }

    pub fn summary(&self) -> DiffSummary {
        let mut summary = DiffSummary {
            timeouts_changed: self.timeouts.is_some(),
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

    /// Applies this diff to `state`, which must be the state it was computed from (checked
    /// object by object, so a stale diff fails instead of doing half its work).
    pub fn apply(&self, state: &DesiredState) -> Result<DesiredState, ApplyError> {
        if state.generation != self.from_generation {
            return Err(ApplyError::Generation {
                expected: self.from_generation,
                actual: state.generation,
            });
        }
        let mut next = state.clone();
        if let Some(change) = &self.timeouts {
            if next.timeouts != change.old {
                return Err(ApplyError::Timeouts);
            }
            next.timeouts = change.new;
        }
        let services = next.service_map_mut();
        for change in &self.services {
            match change {
                ServiceChange::Added(service) => {
                    if services.insert(*service.key(), service.clone()).is_some() {
                        return Err(ApplyError::Service(*service.key()));
                    }
                }
                ServiceChange::Removed(service) => {
                    if services.remove(service.key()).as_ref() != Some(service) {
                        return Err(ApplyError::Service(*service.key()));
                    }
                }
                ServiceChange::Changed(update) => {
                    let service = services
                        .get_mut(&update.key)
                        .ok_or(ApplyError::Service(update.key))?;
                    apply_update(service, update)?;
                }
            }
        }
        next.generation = self.to_generation;
        Ok(next)
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

impl ServiceChange {
    /// The key of the service it changes.
    pub fn key(&self) -> &ServiceKey {
        match self {
            ServiceChange::Added(service) | ServiceChange::Removed(service) => service.key(),
            ServiceChange::Changed(update) => &update.key,
        }
    }
}

impl RealServerChange {
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

fn apply_update(service: &mut DesiredService, update: &ServiceUpdate) -> Result<(), ApplyError> {
    if let Some(change) = &update.settings {
        if service.service() != &change.old {
            return Err(ApplyError::Service(update.key));
        }
        service.set_service(change.new.clone());
    }
    let mismatch = |server: &RealServer| ApplyError::RealServer {
        service: update.key,
        server: display_key(server.key()),
    };
    let servers = service.real_server_map_mut();
    for change in &update.real_servers {
        match change {
            RealServerChange::Added(server) => {
                if servers.insert(server.key(), server.clone()).is_some() {
                    return Err(mismatch(server));
                }
            }
            RealServerChange::Removed(server) => {
                if servers.remove(&server.key()).as_ref() != Some(server) {
                    return Err(mismatch(server));
                }
            }
            RealServerChange::Changed(Change { old, new }) => match servers.get_mut(&old.key()) {
                Some(current) if current == old && old.key() == new.key() => {
                    *current = new.clone();
                }
                _ => return Err(mismatch(old)),
            },
        }
    }
    Ok(())
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

/// The JSON form of a diff.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Diff))]
pub struct DiffSpec {
    pub from_generation: u64,
    pub to_generation: u64,
    pub summary: DiffSummary,
    /// Present when the timeouts change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<ChangeSpec<TimeoutsSpec>>,
    pub services: Vec<ServiceChangeSpec>,
}

/// A value before and after, as JSON.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeSpec<T> {
    pub old: T,
    pub new: T,
}

/// One service's change, as JSON; `change` says which fields are present.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceChangeSpec {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The service key, such as `tcp:10.0.0.1:80` or `fwmark:42:ipv4`.
    pub key: String,
    /// The whole service with its real servers, when `added` or `removed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// Settings before and after, when `changed` and they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<ChangeSpec<ServiceSpec>>,
    /// Real servers that changed, when `changed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub real_servers: Vec<RealServerChangeSpec>,
}

/// One real server's change, as JSON.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerChangeSpec {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// `10.0.0.2:80` or `[2001:db8::2]:80`.
    pub key: String,
    /// The server before the change (`removed`, `changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<RealServerSpec>,
    /// The server after the change (`added`, `changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<RealServerSpec>,
}

impl DiffSpec {
    /// The JSON form of at most `max_entries` of the diff's entries (the timeouts, each
    /// service and each real server, in order, count one each), with the whole diff's
    /// summary; and whether some were left out. A service whose real servers do not all fit
    /// is kept with those that do.
    pub fn bounded(diff: &Diff, max_entries: usize) -> (DiffSpec, bool) {
        let mut left = max_entries;
        let mut truncated = false;
        let timeouts = diff.timeouts.as_ref().and_then(|c| {
            if take_one(&mut left) {
                Some(ChangeSpec {
                    old: c.old.into(),
                    new: c.new.into(),
                })
            } else {
                truncated = true;
                None
            }
        });
        let mut services = Vec::new();
        for change in &diff.services {
            if !take_one(&mut left) {
                truncated = true;
                break;
            }
            let (spec, cut) = ServiceChangeSpec::bounded(change, &mut left);
            truncated |= cut;
            services.push(spec);
        }
        let spec = DiffSpec {
            from_generation: diff.from_generation,
            to_generation: diff.to_generation,
            summary: diff.summary(),
            timeouts,
            services,
        };
        (spec, truncated)
    }
}

impl ServiceChangeSpec {
    /// The change with at most `left` of its real servers (taken from `left`); whether
    /// some were left out.
    fn bounded(change: &ServiceChange, left: &mut usize) -> (ServiceChangeSpec, bool) {
        let whole = |change, service: &DesiredService, left: &mut usize| {
            let (servers, cut) = first(service.real_servers(), left, RealServerSpec::from);
            let spec = ServiceChangeSpec {
                change,
                key: service.key().to_string(),
                service: Some(ServiceSpec {
                    real_servers: Some(servers),
                    ..ServiceSpec::from(service.service())
                }),
                settings: None,
                real_servers: Vec::new(),
            };
            (spec, cut)
        };
        match change {
            ServiceChange::Added(service) => whole("added", service, left),
            ServiceChange::Removed(service) => whole("removed", service, left),
            ServiceChange::Changed(update) => {
                let (real_servers, cut) =
                    first(update.real_servers.iter(), left, RealServerChangeSpec::from);
                let spec = ServiceChangeSpec {
                    change: "changed",
                    key: update.key.to_string(),
                    service: None,
                    settings: update.settings.as_ref().map(|c| ChangeSpec {
                        old: ServiceSpec::from(&c.old),
                        new: ServiceSpec::from(&c.new),
                    }),
                    real_servers,
                };
                (spec, cut)
            }
        }
    }
}

/// Takes one entry from the budget, if any is left.
fn take_one(left: &mut usize) -> bool {
    let some = *left > 0;
    *left = left.saturating_sub(1);
    some
}

/// The first `left` items converted (taken from `left`), and whether some were left out.
fn first<'a, T: 'a, S>(
    items: impl ExactSizeIterator<Item = &'a T>,
    left: &mut usize,
    convert: impl Fn(&'a T) -> S,
) -> (Vec<S>, bool) {
    let total = items.len();
    let taken = total.min(*left);
    *left -= taken;
    (items.take(taken).map(convert).collect(), taken < total)
}

impl From<&Diff> for DiffSpec {
    fn from(diff: &Diff) -> Self {
        DiffSpec::bounded(diff, usize::MAX).0
    }
}

impl From<&ServiceChange> for ServiceChangeSpec {
    fn from(change: &ServiceChange) -> Self {
        let mut unbounded = usize::MAX;
        ServiceChangeSpec::bounded(change, &mut unbounded).0
    }
}

impl From<&RealServerChange> for RealServerChangeSpec {
    fn from(change: &RealServerChange) -> Self {
        let (change, old, new) = match change {
            RealServerChange::Added(new) => ("added", None, Some(new)),
            RealServerChange::Removed(old) => ("removed", Some(old), None),
            RealServerChange::Changed(c) => ("changed", Some(&c.old), Some(&c.new)),
        };
        let key = old
            .or(new)
            .map(|s| display_key(s.key()))
            .unwrap_or_default();
        RealServerChangeSpec {
            change,
            key,
            old: old.map(RealServerSpec::from),
            new: new.map(RealServerSpec::from),
        }
    }
}

impl Serialize for Diff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DiffSpec::from(self).serialize(serializer)
    }
}

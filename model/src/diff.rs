//! The difference between two desired states, and applying it.
//!
//! One implementation serves the agent (what to program), the plan view and the CLI (what
//! a change will do) and the declarative API (what a `PUT` changed).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::desired::{display_key, DesiredService, DesiredState};
use crate::real_server::RealServer;
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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

impl From<&Diff> for DiffSpec {
    fn from(diff: &Diff) -> Self {
        DiffSpec {
            from_generation: diff.from_generation,
            to_generation: diff.to_generation,
            summary: diff.summary(),
            timeouts: diff.timeouts.as_ref().map(|c| ChangeSpec {
                old: c.old.into(),
                new: c.new.into(),
            }),
            services: diff.services.iter().map(ServiceChangeSpec::from).collect(),
        }
    }
}

impl From<&ServiceChange> for ServiceChangeSpec {
    fn from(change: &ServiceChange) -> Self {
        let whole = |change, service: &DesiredService| ServiceChangeSpec {
            change,
            key: service.key().to_string(),
            service: Some(service.to_spec()),
            settings: None,
            real_servers: Vec::new(),
        };
        match change {
            ServiceChange::Added(service) => whole("added", service),
            ServiceChange::Removed(service) => whole("removed", service),
            ServiceChange::Changed(update) => ServiceChangeSpec {
                change: "changed",
                key: update.key.to_string(),
                service: None,
                settings: update.settings.as_ref().map(|c| ChangeSpec {
                    old: ServiceSpec::from(&c.old),
                    new: ServiceSpec::from(&c.new),
                }),
                real_servers: update
                    .real_servers
                    .iter()
                    .map(RealServerChangeSpec::from)
                    .collect(),
            },
        }
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

//! The JSON form of a diff: written with at most so many entries for people and the
//! change history, and read back (complete ones only) by agents that receive changes
//! instead of whole documents.

use serde::{Deserialize, Serialize};

use super::{Change, Diff, DiffSummary, RealServerChange, ServiceChange, ServiceUpdate};
use crate::desired::{display_key, DesiredService};
use crate::real_server::RealServer;
use crate::service::{ServiceKey, VirtualService};
use crate::spec::{HostSpec, RealServerSpec, ServiceSpec, TimeoutsSpec};
use crate::validation::ValidationErrors;

/// The JSON form of a diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Diff))]
pub struct DiffSpec {
    pub from_generation: u64,
    pub to_generation: u64,
    pub summary: DiffSummary,
    /// Present when the timeouts change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<ChangeSpec<TimeoutsSpec>>,
    /// Present when the host settings change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<ChangeSpec<HostSpec>>,
    pub services: Vec<ServiceChangeSpec>,
}

/// A value before and after, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeSpec<T> {
    pub old: T,
    pub new: T,
}

/// Which way an object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One service's change, as JSON; `change` says which fields are present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceChangeSpec {
    pub change: ChangeKind,
    /// The service key, such as `tcp:10.0.0.1:80` or `fwmark:42:ipv4`.
    pub key: String,
    /// The whole service with its real servers, when `added` or `removed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// Settings before and after, when `changed` and they changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ChangeSpec<ServiceSpec>>,
    /// Real servers that changed, when `changed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub real_servers: Vec<RealServerChangeSpec>,
}

/// One real server's change, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerChangeSpec {
    pub change: ChangeKind,
    /// `10.0.0.2:80` or `[2001:db8::2]:80`.
    pub key: String,
    /// The server before the change (`removed`, `changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<RealServerSpec>,
    /// The server after the change (`added`, `changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<RealServerSpec>,
}

impl DiffSpec {
    /// The JSON form of at most `max_entries` of the diff's entries (the timeouts, the
    /// host settings, each
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
        let host = diff.host.as_ref().and_then(|c| {
            if take_one(&mut left) {
                Some(ChangeSpec {
                    old: HostSpec::from(&c.old),
                    new: HostSpec::from(&c.new),
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
            host,
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
            ServiceChange::Added(service) => whole(ChangeKind::Added, service, left),
            ServiceChange::Removed(service) => whole(ChangeKind::Removed, service, left),
            ServiceChange::Changed(update) => {
                let (real_servers, cut) =
                    first(update.real_servers.iter(), left, RealServerChangeSpec::from);
                let spec = ServiceChangeSpec {
                    change: ChangeKind::Changed,
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
            RealServerChange::Added(new) => (ChangeKind::Added, None, Some(new)),
            RealServerChange::Removed(old) => (ChangeKind::Removed, Some(old), None),
            RealServerChange::Changed(c) => (ChangeKind::Changed, Some(&c.old), Some(&c.new)),
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

impl DiffSpec {
    /// The diff this JSON form describes, with every bad field reported with its path. The
    /// form must be complete: its `summary` must count exactly its entries, so a diff the
    /// server stored truncated is refused. Whether it fits a state is checked when it is
    /// applied.
    pub fn parse(&self) -> Result<Diff, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.to_generation <= self.from_generation {
            errors.add(
                "to_generation",
                format!(
                    "must be greater than from_generation ({})",
                    self.from_generation
                ),
            );
        }
        let timeouts = self.timeouts.as_ref().and_then(|change| {
            let old = errors.check_nested("timeouts.old", change.old.parse());
            let new = errors.check_nested("timeouts.new", change.new.parse());
            Some(Change {
                old: old?,
                new: new?,
            })
        });
        let host = self.host.as_ref().and_then(|change| {
            let old = errors.check_nested("host.old", change.old.parse());
            let new = errors.check_nested("host.new", change.new.parse());
            Some(Change {
                old: old?,
                new: new?,
            })
        });
        let mut services: Vec<ServiceChange> = Vec::with_capacity(self.services.len());
        for (i, spec) in self.services.iter().enumerate() {
            let field = format!("services[{i}]");
            let Some(change) = errors.check_nested(&field, spec.parse()) else {
                continue;
            };
            if services
                .last()
                .is_some_and(|last| last.key() >= change.key())
            {
                errors.add(
                    format!("{field}.key"),
                    "services must be listed once each, in key order",
                );
            }
            services.push(change);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let diff = Diff {
            from_generation: self.from_generation,
            to_generation: self.to_generation,
            timeouts,
            host,
            services,
        };
        if diff.summary() != self.summary {
            return Err(ValidationErrors::one(
                "summary",
                "does not count the entries listed (a truncated diff cannot be applied)",
            ));
        }
        Ok(diff)
    }
}

impl ServiceChangeSpec {
    fn parse(&self) -> Result<ServiceChange, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let key = errors.check("key", ServiceKey::parse(&self.key));
        let change = match self.change {
            ChangeKind::Added | ChangeKind::Removed => self.parse_whole(key, &mut errors),
            ChangeKind::Changed => self.parse_update(key, &mut errors),
        };
        match change {
            Some(change) if errors.is_empty() => Ok(change),
            _ => Err(errors),
        }
    }

    /// An added or removed service: the whole service, under its key.
    fn parse_whole(
        &self,
        key: Option<ServiceKey>,
        errors: &mut ValidationErrors,
    ) -> Option<ServiceChange> {
        if self.settings.is_some() {
            errors.add("settings", "only a changed service has settings");
        }
        if !self.real_servers.is_empty() {
            errors.add(
                "real_servers",
                "an added or removed service lists its real servers in service.real_servers",
            );
        }
        let Some(spec) = &self.service else {
            errors.add("service", "required when the service is added or removed");
            return None;
        };
        let service = errors.check_nested("service", DesiredService::parse(spec))?;
        check_key(errors, "service", key, *service.key());
        Some(match self.change {
            ChangeKind::Removed => ServiceChange::Removed(service),
            _ => ServiceChange::Added(service),
        })
    }

    /// A changed service: its settings before and after, and its real servers' changes.
    fn parse_update(
        &self,
        key: Option<ServiceKey>,
        errors: &mut ValidationErrors,
    ) -> Option<ServiceChange> {
        if self.service.is_some() {
            errors.add(
                "service",
                "only an added or removed service has it; a changed one has settings and real_servers",
            );
        }
        if self.settings.is_none() && self.real_servers.is_empty() {
            errors.add(
                "",
                "a changed service changes its settings or its real servers",
            );
        }
        let settings = self.settings.as_ref().and_then(|change| {
            let old = settings(errors, "settings.old", &change.old, key);
            let new = settings(errors, "settings.new", &change.new, key);
            Some(Change {
                old: old?,
                new: new?,
            })
        });
        let key = key?;
        let mut real_servers: Vec<RealServerChange> = Vec::with_capacity(self.real_servers.len());
        for (i, spec) in self.real_servers.iter().enumerate() {
            let field = format!("real_servers[{i}]");
            let Some(change) = errors.check_nested(&field, spec.parse(&key)) else {
                continue;
            };
            if real_servers
                .last()
                .is_some_and(|last| last.key() >= change.key())
            {
                errors.add(
                    format!("{field}.key"),
                    "real servers must be listed once each, in address and port order",
                );
            }
            real_servers.push(change);
        }
        let settings = match &self.settings {
            Some(_) => Some(settings?),
            None => None,
        };
        Some(ServiceChange::Changed(ServiceUpdate {
            key,
            settings,
            real_servers,
        }))
    }
}

/// A changed service's settings (old or new), which must keep the change's key.
fn settings(
    errors: &mut ValidationErrors,
    field: &str,
    spec: &ServiceSpec,
    key: Option<ServiceKey>,
) -> Option<VirtualService> {
    let service = errors.check_nested(field, spec.parse())?;
    check_key(errors, field, key, *service.key());
    Some(service)
}

/// Records an error when an object's own key is not the change's `key`.
fn check_key(errors: &mut ValidationErrors, field: &str, key: Option<ServiceKey>, own: ServiceKey) {
    if key.is_some_and(|key| key != own) {
        errors.add(field, format!("is service {own}, not the change's key"));
    }
}

impl RealServerChangeSpec {
    fn parse(&self, service: &ServiceKey) -> Result<RealServerChange, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let (want_old, want_new) = match self.change {
            ChangeKind::Added => (false, true),
            ChangeKind::Removed => (true, false),
            ChangeKind::Changed => (true, true),
        };
        let mut side =
            |field: &str, spec: &Option<RealServerSpec>, wanted: bool| match (spec, wanted) {
                (Some(spec), true) => {
                    let server: Option<RealServer> =
                        errors.check_nested(field, spec.parse(service));
                    if let Some(server) = &server {
                        if display_key(server.key()) != self.key {
                            errors.add(
                                field,
                                format!(
                                    "is real server {}, not the change's key",
                                    display_key(server.key())
                                ),
                            );
                        }
                    }
                    server
                }
                (None, true) => {
                    errors.add(
                        field,
                        format!("required when the real server is {}", self.change.as_str()),
                    );
                    None
                }
                (Some(_), false) => {
                    errors.add(
                        field,
                        format!(
                            "not expected when the real server is {}",
                            self.change.as_str()
                        ),
                    );
                    None
                }
                (None, false) => None,
            };
        let old = side("old", &self.old, want_old);
        let new = side("new", &self.new, want_new);
        if !errors.is_empty() {
            return Err(errors);
        }
        match (old, new) {
            (None, Some(new)) => Ok(RealServerChange::Added(new)),
            (Some(old), None) => Ok(RealServerChange::Removed(old)),
            (Some(old), Some(new)) => Ok(RealServerChange::Changed(Change { old, new })),
            (None, None) => Err(ValidationErrors::one("change", "names no real server")),
        }
    }
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

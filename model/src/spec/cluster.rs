//! Clusters and directors as JSON, and the connection timeouts a cluster sets.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::HostSpec;
use crate::host::HostSettings;
use crate::text::{Name, Text};
use crate::validation::ValidationErrors;

/// IPVS connection timeouts for every director of a cluster; each unset one is left as the
/// kernel has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    pub tcp: Option<NonZeroU32>,
    pub tcpfin: Option<NonZeroU32>,
    pub udp: Option<NonZeroU32>,
}

impl Timeouts {
    /// `ip_vs_set_timeout` rejects more than `INT_MAX / HZ` seconds; this is that limit for
    /// kernels built with HZ=1000, the highest HZ.
    pub const MAX_SECONDS: u32 = (i32::MAX / 1000) as u32;

    pub fn is_empty(&self) -> bool {
        *self == Timeouts::default()
    }
}

/// Timeouts as JSON, in seconds; absent or null = leave the kernel's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeoutsSpec {
    /// Established TCP connections (`ipvsadm --set` first value).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2147483))]
    pub tcp: Option<i64>,
    /// TCP connections after a FIN.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2147483))]
    pub tcpfin: Option<i64>,
    /// UDP flows.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2147483))]
    pub udp: Option<i64>,
}

impl TimeoutsSpec {
    pub fn parse(&self) -> Result<Timeouts, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut seconds = |field: &str, raw: Option<i64>| -> Option<NonZeroU32> {
            let raw = raw?;
            let max = Timeouts::MAX_SECONDS;
            errors.check(
                field,
                u32::try_from(raw)
                    .ok()
                    .filter(|s| *s <= max)
                    .and_then(NonZeroU32::new)
                    .ok_or_else(|| format!("must be between 1 and {max} seconds, not {raw}")),
            )
        };
        let timeouts = Timeouts {
            tcp: seconds("tcp", self.tcp),
            tcpfin: seconds("tcpfin", self.tcpfin),
            udp: seconds("udp", self.udp),
        };
        errors.into_result().map(|()| timeouts)
    }
}

impl From<Timeouts> for TimeoutsSpec {
    fn from(t: Timeouts) -> Self {
        let seconds = |s: Option<NonZeroU32>| s.map(|s| i64::from(s.get()));
        TimeoutsSpec {
            tcp: seconds(t.tcp),
            tcpfin: seconds(t.tcpfin),
            udp: seconds(t.udp),
        }
    }
}

/// A cluster's own settings as JSON, for creating and replacing one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterSpec {
    /// Lowercase letters, digits and '-', at most 63 characters; required to create one,
    /// and cannot be changed (when given to replace one, it must be the cluster's).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "prod-web",
            pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
            max_length = 63
        )
    )]
    pub name: Option<String>,
    /// At most 2,000 characters, without control characters other than newline and tab.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$", max_length = 2000)
    )]
    pub description: String,
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
    /// How the agents prepare each director host. Absent: a new cluster manages no VIPs
    /// and sets no sysctl; a replaced one keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostSpec>,
}

/// Validated cluster settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    pub name: Name,
    pub description: Text,
    pub timeouts: Timeouts,
    /// `None` when the spec left it out.
    pub host: Option<HostSettings>,
}

impl ClusterSpec {
    pub fn parse(&self) -> Result<ClusterSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = parse_name(&mut errors, self.name.as_deref());
        let description = errors.check("description", Text::description(&self.description));
        let timeouts = errors.check_nested("timeouts", self.timeouts.parse());
        let host = match &self.host {
            None => Some(None),
            Some(host) => errors.check_nested("host", host.parse()).map(Some),
        };
        match (name, description, timeouts, host) {
            (Some(name), Some(description), Some(timeouts), Some(host)) => Ok(ClusterSettings {
                name,
                description,
                timeouts,
                host,
            }),
            _ => Err(errors),
        }
    }
}

/// A director as JSON: the host that runs an agent for its cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectorSpec {
    /// Lowercase letters, digits and '-', at most 63 characters, unique in its cluster;
    /// required to create one, and cannot be changed (when given to replace one, it must be
    /// the director's).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "lb1",
            pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
            max_length = 63
        )
    )]
    pub name: Option<String>,
    /// At most 2,000 characters, without control characters other than newline and tab.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$", max_length = 2000)
    )]
    pub description: String,
}

/// Validated director settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorSettings {
    pub name: Name,
    pub description: Text,
}

impl DirectorSpec {
    pub fn parse(&self) -> Result<DirectorSettings, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = parse_name(&mut errors, self.name.as_deref());
        let description = errors.check("description", Text::description(&self.description));
        match (name, description) {
            (Some(name), Some(description)) => Ok(DirectorSettings { name, description }),
            _ => Err(errors),
        }
    }
}

fn parse_name(errors: &mut ValidationErrors, name: Option<&str>) -> Option<Name> {
    match name {
        None => errors.check("name", Err("required".into())),
        Some(name) => errors.check("name", Name::parse(name)),
    }
}

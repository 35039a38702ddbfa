//! `ServiceSpec`: a virtual service as written in JSON, and its validation.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::{HealthCheckSpec, MarkRuleSpec, RealServerSpec};
use crate::address::parse_virtual_address;
use crate::mark_rules::MarkRule;
use crate::real_server::RealServer;
use crate::service::{
    Family, Fwmark, Persistence, PersistenceEngine, Port, Protocol, Scheduler, SchedulerFlag,
    SchedulerName, ServiceKey, VirtualService,
};
use crate::text::Text;
use crate::validation::ValidationErrors;

/// A virtual service as JSON: `protocol` + `address` + `port`, or `fwmark` + `family`.
///
/// Everything optional has a default; unknown fields are rejected so a typo never passes
/// silently. Output always carries every field that applies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceSpec {
    /// `tcp`, `udp` or `sctp`; with `address` and `port`, for an address-based service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Protocol>))]
    pub protocol: Option<String>,
    /// Virtual IPv4 or IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "192.0.2.10"))]
    pub address: Option<String>,
    /// 1-65535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: Option<i64>,
    /// Firewall mark 1-4294967295, for a fwmark service (with `family`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4294967295_i64))]
    pub fwmark: Option<i64>,
    /// `ipv4` or `ipv6`: required for fwmark services, implied by the address otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Family>))]
    pub family: Option<String>,
    /// Kernel scheduler; default `wlc`, as in the kernel and ipvsadm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<SchedulerName>))]
    pub scheduler: Option<String>,
    /// `sh-fallback`, `sh-port` (only with `sh`); `mh-fallback`, `mh-port` (only with `mh`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<SchedulerFlag>))]
    pub scheduler_flags: Vec<String>,
    /// Seconds a client sticks to its real server after its last connection; 0 = off.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 4294967))]
    pub persistence_timeout: i64,
    /// Clients in one network count as one client: an IPv4 netmask (`"255.255.255.0"`)
    /// or an IPv6 prefix length (`64`). Default: a single address. Needs persistence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence_netmask: Option<Netmask>,
    /// Schedule every UDP datagram on its own; UDP and fwmark services only.
    #[serde(default)]
    pub one_packet: bool,
    /// `sip`: persistence by SIP Call-ID; UDP and fwmark services with persistence only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<PersistenceEngine>))]
    pub persistence_engine: Option<String>,
    /// A short label for people.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The health check of the real servers that have none of their own; absent: none
    /// is checked, each keeps its configured weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
    /// A real server that takes the traffic only while no other is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<RealServerSpec>,
    /// Below this many healthy real servers the service is reported as degraded; default 1.
    /// Written out only with a health check, a sorry server or another value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65535))]
    pub min_healthy: Option<i64>,
    /// For a fwmark service: the packets the directors mark with its mark (an nftables
    /// table of the agent's own). None: the marks are set by someone else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mark_rules: Vec<MarkRuleSpec>,
    /// The real servers, in a desired-state document or when creating a service with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_servers: Option<Vec<RealServerSpec>>,
}

/// An IPv4 netmask in dotted form (`"255.255.255.0"`) or a prefix length (`64`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Netmask {
    Prefix(i64),
    Text(String),
}

impl ServiceSpec {
    /// The spec with `min_healthy` as the canonical form writes it: left out where it says
    /// nothing (no check, no sorry server, the default), so that a document without
    /// health checks stays readable by agents that predate them.
    pub fn with_min_healthy(self, min_healthy: i64) -> Self {
        let shown = self.health_check.is_some() || self.sorry_server.is_some() || min_healthy != 1;
        ServiceSpec {
            min_healthy: shown.then_some(min_healthy),
            ..self
        }
    }

    /// Validates the service itself (not `real_servers`), reporting every bad field.
    pub fn parse(&self) -> Result<VirtualService, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let key = errors.check_nested("", self.parse_key());
        let scheduler = self.parse_scheduler(&mut errors);
        let engine = match &self.persistence_engine {
            None => Some(None),
            Some(word) => errors.check(
                "persistence_engine",
                word.parse::<PersistenceEngine>().map(Some),
            ),
        };
        let name = errors.check("name", Text::label(&self.name));
        let description = errors.check("description", Text::description(&self.description));
        let persistence = key.and_then(|key| self.parse_persistence(key.family(), &mut errors));
        let health_check = match &self.health_check {
            None => Some(None),
            Some(spec) => errors
                .check_nested("health_check", spec.parse())
                .map(|c| Some(Box::new(c))),
        };
        let min_healthy = errors.check("min_healthy", min_healthy(self.min_healthy));
        let sorry_server = key.and_then(|key| self.parse_sorry_server(&key, &mut errors));
        let mark_rules = key.and_then(|key| self.parse_mark_rules(&key, &mut errors));

        let (
            Some(key),
            Some(scheduler),
            Some(engine),
            Some(persistence),
            Some(name),
            Some(description),
            Some(health_check),
            Some(min_healthy),
            Some(sorry_server),
            Some(mark_rules),
        ) = (
            key,
            scheduler,
            engine,
            persistence,
            name,
            description,
            health_check,
            min_healthy,
            sorry_server,
            mark_rules,
        )
        else {
            return Err(errors);
        };
        if key.is_fwmark() {
            if let Some(check) = health_check.as_ref().filter(|c| c.needs_port()) {
                if check.port().is_none() {
                    errors.add(
                        "health_check.port",
                        format!(
                            "required for a {} check of a fwmark service, whose real servers \
                             may have no port",
                            check.kind()
                        ),
                    );
                }
            }
        }
        let udp_or_fwmark = matches!(key.protocol(), None | Some(Protocol::Udp));
        if self.one_packet && !udp_or_fwmark {
            errors.add("one_packet", "applies only to udp and fwmark services");
        }
        if engine.is_some() {
            if !udp_or_fwmark {
                errors.add(
                    "persistence_engine",
                    "sip works on udp packets only: use a udp or fwmark service",
                );
            } else if persistence.is_none() {
                errors.add("persistence_engine", "needs a persistence_timeout above 0");
            }
        }
        errors.into_result()?;
        Ok(VirtualService {
            key,
            scheduler,
            persistence,
            one_packet: self.one_packet,
            persistence_engine: engine,
            name,
            description,
            health_check,
            sorry_server,
            min_healthy,
            mark_rules,
        })
    }

    /// The rules (none is fine); `None` when an error was recorded.
    fn parse_mark_rules(
        &self,
        key: &ServiceKey,
        errors: &mut ValidationErrors,
    ) -> Option<Vec<MarkRule>> {
        if self.mark_rules.is_empty() {
            return Some(Vec::new());
        }
        if !key.is_fwmark() {
            errors.add(
                "mark_rules",
                "only a fwmark service has marking rules: this service takes the packets to \
                 its own address and port",
            );
            return None;
        }
        if self.mark_rules.len() > MarkRule::MAX_RULES {
            errors.add(
                "mark_rules",
                format!("at most {} rules", MarkRule::MAX_RULES),
            );
            return None;
        }
        let rules: Vec<Option<MarkRule>> = self
            .mark_rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                errors.check_nested(&format!("mark_rules[{i}]"), rule.parse(key.family()))
            })
            .collect();
        rules.into_iter().collect()
    }

    /// `Some(None)` without a sorry server; `None` when an error was recorded.
    fn parse_sorry_server(
        &self,
        key: &ServiceKey,
        errors: &mut ValidationErrors,
    ) -> Option<Option<Box<RealServer>>> {
        let Some(spec) = &self.sorry_server else {
            return Some(None);
        };
        if spec.health_check.is_some() {
            errors.add(
                "sorry_server.health_check",
                "a sorry server is not checked: it stands in only while no real server is healthy",
            );
            return None;
        }
        errors
            .check_nested("sorry_server", spec.parse(key))
            .map(|s| Some(Box::new(s)))
    }

    /// The service's key alone (protocol, address and port, or fwmark and family),
    /// validated: what names it in the API (`tcp:192.0.2.10:80`, `fwmark:1:ipv4`).
    pub fn parse_key(&self) -> Result<ServiceKey, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let family = match &self.family {
            None => None,
            Some(word) => errors.check("family", word.parse::<Family>()),
        };
        if let Some(fwmark) = self.fwmark {
            for (field, set) in [
                ("protocol", self.protocol.is_some()),
                ("address", self.address.is_some()),
                ("port", self.port.is_some()),
            ] {
                if set {
                    errors.add(field, "must not be set for a fwmark service");
                }
            }
            let fwmark = errors.check("fwmark", Fwmark::parse(fwmark));
            if self.family.is_none() {
                errors.add("family", "required for a fwmark service: ipv4 or ipv6");
            }
            return match (fwmark, family) {
                (Some(fwmark), Some(family)) if errors.is_empty() => {
                    Ok(ServiceKey::Fwmark { fwmark, family })
                }
                _ => Err(errors),
            };
        }

        let required = "required for an address service (or set fwmark and family)";
        let protocol = match &self.protocol {
            None => errors.check("protocol", Err(required.into())),
            Some(word) => errors.check("protocol", word.parse::<Protocol>()),
        };
        let address = match &self.address {
            None => errors.check("address", Err(required.into())),
            Some(text) => errors.check("address", parse_virtual_address(text)),
        };
        let port = match self.port {
            None => errors.check("port", Err(required.into())),
            Some(port) => errors.check("port", Port::parse(port)),
        };
        if let (Some(address), Some(family)) = (address, family) {
            if Family::of(address) != family {
                errors.add(
                    "family",
                    format!("is {family} but the address is {}", Family::of(address)),
                );
            }
        }
        match (protocol, address, port) {
            (Some(protocol), Some(address), Some(port)) if errors.is_empty() => {
                Ok(ServiceKey::Address {
                    protocol,
                    address,
                    port,
                })
            }
            _ => Err(errors),
        }
    }

    /// The scheduler, with a bad name reported against `scheduler` and a bad flag against
    /// its own entry in `scheduler_flags`.
    fn parse_scheduler(&self, errors: &mut ValidationErrors) -> Option<Scheduler> {
        let name = match &self.scheduler {
            None => Some(SchedulerName::Wlc),
            Some(word) => errors.check("scheduler", word.parse()),
        };
        let mut flags = Vec::with_capacity(self.scheduler_flags.len());
        let mut flags_valid = true;
        for (i, word) in self.scheduler_flags.iter().enumerate() {
            let field = format!("scheduler_flags[{i}]");
            let flag = match word.parse::<SchedulerFlag>() {
                Ok(flag) if flags.contains(&flag) => Err(format!("flag {flag} is given twice")),
                Ok(flag) => match name {
                    Some(name) => Scheduler::new(name, &[flag]).map(|_| flag),
                    None => Ok(flag),
                },
                Err(message) => Err(message),
            };
            match errors.check(&field, flag) {
                Some(flag) => flags.push(flag),
                None => flags_valid = false,
            }
        }
        let name = name.filter(|_| flags_valid)?;
        errors.check("scheduler_flags", Scheduler::new(name, &flags))
    }

    /// `Some(None)` when persistence is off; `None` when an error was recorded.
    fn parse_persistence(
        &self,
        family: Family,
        errors: &mut ValidationErrors,
    ) -> Option<Option<Persistence>> {
        let prefix_len = match &self.persistence_netmask {
            None => None,
            Some(mask) => Some(errors.check("persistence_netmask", mask.prefix_len(family))?),
        };
        Persistence::new(self.persistence_timeout, prefix_len, family)
            .map_err(|(field, message)| errors.add(field, message))
            .ok()
    }
}

fn min_healthy(raw: Option<i64>) -> Result<u32, String> {
    let raw = raw.unwrap_or(1);
    u16::try_from(raw)
        .map(u32::from)
        .map_err(|_| format!("must be between 0 and 65535 real servers, not {raw}"))
}

impl Netmask {
    fn prefix_len(&self, family: Family) -> Result<u8, String> {
        let max = family.max_prefix_len();
        // ip_vs_ctl.c takes any IPv4 netmask but only IPv6 prefix lengths from 1.
        let (name, min) = match family {
            Family::Ipv4 => ("IPv4", 0),
            Family::Ipv6 => ("IPv6", 1),
        };
        let prefix = match (self, family) {
            (Netmask::Text(text), Family::Ipv4) => {
                let mask: Ipv4Addr = text.parse().map_err(|_| {
                    format!("{text:?} is not an IPv4 netmask such as 255.255.255.0")
                })?;
                let bits = u32::from(mask);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(format!("{text} is not a contiguous netmask"));
                }
                return Ok(bits.leading_ones() as u8);
            }
            (Netmask::Text(text), Family::Ipv6) => {
                let digits = text.strip_prefix('/').unwrap_or(text);
                digits
                    .parse::<i64>()
                    .map_err(|_| format!("{text:?} is not an IPv6 prefix length such as 64"))?
            }
            (Netmask::Prefix(prefix), _) => *prefix,
        };
        u8::try_from(prefix)
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| {
                format!("an {name} prefix length must be between {min} and {max}, not {prefix}")
            })
    }

    /// The canonical form: dotted for IPv4, a number for IPv6.
    pub fn from_prefix_len(prefix_len: u8, family: Family) -> Self {
        match family {
            Family::Ipv4 => {
                let bits = u32::MAX
                    .checked_shl(32 - u32::from(prefix_len))
                    .unwrap_or(0);
                Netmask::Text(Ipv4Addr::from(bits).to_string())
            }
            Family::Ipv6 => Netmask::Prefix(i64::from(prefix_len)),
        }
    }
}

/// The key fields of `key`, in canonical form; every setting left at its default.
impl From<&ServiceKey> for ServiceSpec {
    fn from(key: &ServiceKey) -> Self {
        let mut spec = ServiceSpec::default();
        match *key {
            ServiceKey::Address {
                protocol,
                address,
                port,
            } => {
                spec.protocol = Some(protocol.to_string());
                spec.address = Some(address.to_string());
                spec.port = Some(i64::from(port.get()));
            }
            ServiceKey::Fwmark { fwmark, family } => {
                spec.fwmark = Some(i64::from(fwmark.get()));
                spec.family = Some(family.to_string());
            }
        }
        spec
    }
}

impl From<&VirtualService> for ServiceSpec {
    fn from(service: &VirtualService) -> Self {
        let spec = ServiceSpec::from(service.key());
        let family = service.key().family();
        ServiceSpec {
            scheduler: Some(service.scheduler().name().to_string()),
            scheduler_flags: service
                .scheduler()
                .flags()
                .iter()
                .map(ToString::to_string)
                .collect(),
            persistence_timeout: service.persistence().map_or(0, |p| i64::from(p.timeout())),
            persistence_netmask: service
                .persistence()
                .map(|p| Netmask::from_prefix_len(p.prefix_len(), family)),
            one_packet: service.one_packet(),
            persistence_engine: service.persistence_engine().map(|e| e.to_string()),
            name: service.name().to_string(),
            description: service.description().to_string(),
            health_check: service.health_check().map(HealthCheckSpec::from),
            sorry_server: service.sorry_server().map(RealServerSpec::from),
            min_healthy: None,
            mark_rules: service
                .mark_rules()
                .iter()
                .map(MarkRuleSpec::from)
                .collect(),
            ..spec
        }
        .with_min_healthy(i64::from(service.min_healthy()))
    }
}

//! A fwmark service's marking rules as JSON.

use serde::{Deserialize, Serialize};

use crate::address::parse_virtual_address;
use crate::mark_rules::{MarkRule, PortRange};
use crate::service::{Family, Protocol};
use crate::validation::ValidationErrors;

/// Packets that carry the service's mark: of `protocol`, to `address`, on any of `ports`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarkRuleSpec {
    /// `tcp`, `udp` or `sctp`.
    #[cfg_attr(feature = "openapi", schema(example = "tcp"))]
    pub protocol: Option<String>,
    /// The VIP, of the service's family.
    #[cfg_attr(feature = "openapi", schema(example = "192.0.2.10"))]
    pub address: Option<String>,
    /// Ports (`80`) and ranges (`"8000-8100"`), at least one.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!([80, 443, "8000-8100"])))]
    pub ports: Vec<PortSpec>,
}

/// A port or a range of ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PortSpec {
    Port(i64),
    /// `first-last`, both included.
    Range(String),
}

impl MarkRuleSpec {
    pub fn parse(&self, family: Family) -> Result<MarkRule, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let protocol = match &self.protocol {
            None => errors.check("protocol", Err("required".into())),
            Some(word) => errors.check("protocol", word.parse::<Protocol>()),
        };
        let address = match &self.address {
            None => errors.check("address", Err("required".into())),
            Some(text) => errors.check(
                "address",
                parse_virtual_address(text).and_then(|address| {
                    if Family::of(address) == family {
                        Ok(address)
                    } else {
                        Err(format!(
                            "{address} is not an {family} address, as the service's family is"
                        ))
                    }
                }),
            ),
        };
        if self.ports.is_empty() {
            errors.add("ports", "at least one port or range is required");
        } else if self.ports.len() > MarkRule::MAX_PORTS {
            errors.add(
                "ports",
                format!("at most {} ports and ranges", MarkRule::MAX_PORTS),
            );
        }
        let mut ports = Vec::with_capacity(self.ports.len());
        for (i, port) in self.ports.iter().enumerate() {
            let parsed = match port {
                PortSpec::Port(n) => u16::try_from(*n)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(|p| PortRange { first: p, last: p })
                    .ok_or_else(|| format!("must be between 1 and 65535, not {n}")),
                PortSpec::Range(text) => PortRange::parse(text),
            };
            if let Some(range) = errors.check(&format!("ports[{i}]"), parsed) {
                ports.push(range);
            }
        }
        match (protocol, address) {
            (Some(protocol), Some(address)) if errors.is_empty() => Ok(MarkRule {
                protocol,
                address,
                ports: PortRange::normalise(ports),
            }),
            _ => Err(errors),
        }
    }
}

impl From<&MarkRule> for MarkRuleSpec {
    fn from(rule: &MarkRule) -> Self {
        MarkRuleSpec {
            protocol: Some(rule.protocol.to_string()),
            address: Some(rule.address.to_string()),
            ports: rule
                .ports
                .iter()
                .map(|r| {
                    if r.first == r.last {
                        PortSpec::Port(i64::from(r.first))
                    } else {
                        PortSpec::Range(r.to_string())
                    }
                })
                .collect(),
        }
    }
}

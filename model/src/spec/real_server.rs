//! `RealServerSpec`: a real server as written in JSON, validated against its service.

use std::num::NonZeroU16;

use serde::{Deserialize, Serialize};

use super::HealthCheckSpec;
use crate::address::parse_real_server_address;
use crate::real_server::{
    Forwarding, ForwardingMethod, RealServer, RealServerState, Thresholds, Tunnel, TunnelChecksum,
    TunnelType, Weight,
};
use crate::service::{Family, ServiceKey};
use crate::text::Text;
use crate::validation::ValidationErrors;

/// A real server as JSON. `address` and `forwarding` are required; the rest have defaults
/// (port: the service's port, or 0 for fwmark services; weight 1; state `active`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerSpec {
    #[cfg_attr(feature = "openapi", schema(example = "10.1.0.11"))]
    pub address: Option<String>,
    /// 0-65535; must equal the service's port unless forwarding is `masq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65535))]
    pub port: Option<i64>,
    /// `masq` (NAT), `route` (direct routing), `tunnel` or `local`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ForwardingMethod>))]
    pub forwarding: Option<String>,
    /// `ipip` (default), `gue` or `gre`; tunnel forwarding only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TunnelType>))]
    pub tunnel_type: Option<String>,
    /// UDP port of the GUE receiver; required with `gue`, not allowed otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub tunnel_port: Option<i64>,
    /// `nocsum` (default), `csum`, or `remcsum` (GUE only); GUE and GRE only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<TunnelChecksum>))]
    pub tunnel_checksum: Option<String>,
    /// 0-65535, default 1; 0 takes no new connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 65535))]
    pub weight: Option<i64>,
    /// No new connections above this many; 0 (default) = no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2147483647))]
    pub upper_threshold: Option<i64>,
    /// New connections again below this many; at most `upper_threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 2147483647))]
    pub lower_threshold: Option<i64>,
    /// `active` (default) or `drained` (weight 0 in the kernel, weight remembered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<RealServerState>))]
    pub state: Option<String>,
    #[serde(default)]
    pub description: String,
    /// This real server's own health check, in place of its service's (`{"kind": "none"}`
    /// exempts it from checking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSpec>,
}

impl RealServerSpec {
    /// Validates a real server for `service`, reporting every bad field.
    pub fn parse(&self, service: &ServiceKey) -> Result<RealServer, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let address = match &self.address {
            None => errors.check("address", Err("required".into())),
            Some(text) => errors.check("address", parse_real_server_address(text)),
        };
        let forwarding = errors.check_nested("", self.parse_forwarding());
        let weight = errors.check("weight", Weight::parse(self.weight.unwrap_or(1)));
        let upper = errors.check("upper_threshold", threshold(self.upper_threshold));
        let lower = errors.check("lower_threshold", threshold(self.lower_threshold));
        let thresholds = match (upper, lower) {
            (Some(upper), Some(lower)) => {
                errors.check("lower_threshold", Thresholds::new(upper, lower))
            }
            _ => None,
        };
        let state = match &self.state {
            None => Some(RealServerState::Active),
            Some(word) => errors.check("state", word.parse()),
        };
        let description = errors.check("description", Text::description(&self.description));
        let port = forwarding.and_then(|f| errors.check("port", self.parse_port(service, f)));
        let health_check = match &self.health_check {
            None => Some(None),
            Some(spec) => errors
                .check_nested("health_check", spec.parse())
                .map(|c| Some(Box::new(c))),
        };
        if let (Some(0), Some(Some(check))) = (port, &health_check) {
            if check.needs_port() && check.port().is_none() {
                errors.add(
                    "health_check.port",
                    format!(
                        "required for a {} check of a real server with port 0",
                        check.kind()
                    ),
                );
            }
        }
        if let (Some(address), Some(forwarding)) = (address, forwarding) {
            let family = Family::of(address);
            if family != service.family() && forwarding.method() != ForwardingMethod::Tunnel {
                errors.add(
                    "address",
                    format!(
                        "an {family} real server in an {} service needs tunnel forwarding; \
                         only tunnels cross address families",
                        service.family()
                    ),
                );
            }
        }
        let (
            Some(address),
            Some(port),
            Some(forwarding),
            Some(weight),
            Some(thresholds),
            Some(state),
            Some(description),
            Some(health_check),
        ) = (
            address,
            port,
            forwarding,
            weight,
            thresholds,
            state,
            description,
            health_check,
        )
        else {
            return Err(errors);
        };
        errors.into_result()?;
        Ok(RealServer {
            address,
            port,
            forwarding,
            weight,
            thresholds,
            state,
            description,
            health_check,
        })
    }

    fn parse_port(&self, service: &ServiceKey, forwarding: Forwarding) -> Result<u16, String> {
        let default = service.port().map_or(0, |p| p.get());
        let port = self.port.unwrap_or(i64::from(default));
        let port =
            u16::try_from(port).map_err(|_| format!("must be between 0 and 65535, not {port}"))?;
        let method = forwarding.method();
        match service.port() {
            None if port != 0 && !forwarding.maps_ports() => Err(format!(
                "{method} forwarding keeps the packet's destination port; \
                 use port 0 in a fwmark service"
            )),
            Some(_) if port == 0 => Err("port 0 is allowed only in fwmark services".into()),
            Some(vport) if port != vport.get() && !forwarding.maps_ports() => Err(format!(
                "{method} forwarding cannot map ports (only masq can): \
                 must equal the service port {}",
                vport.get()
            )),
            _ => Ok(port),
        }
    }

    fn parse_forwarding(&self) -> Result<Forwarding, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let method = match &self.forwarding {
            None => errors.check(
                "forwarding",
                Err("required: one of masq, route, tunnel, local".into()),
            ),
            Some(word) => errors.check("forwarding", word.parse::<ForwardingMethod>()),
        };
        let Some(method) = method else {
            return Err(errors);
        };
        let forwarding = match method {
            ForwardingMethod::Masq => Forwarding::Masq,
            ForwardingMethod::Route => Forwarding::Route,
            ForwardingMethod::Local => Forwarding::Local,
            ForwardingMethod::Tunnel => return self.parse_tunnel().map(Forwarding::Tunnel),
        };
        for (field, set) in [
            ("tunnel_type", self.tunnel_type.is_some()),
            ("tunnel_port", self.tunnel_port.is_some()),
            ("tunnel_checksum", self.tunnel_checksum.is_some()),
        ] {
            if set {
                errors.add(
                    field,
                    format!("applies only to tunnel forwarding, not {method}"),
                );
            }
        }
        errors.into_result().map(|()| forwarding)
    }

    fn parse_tunnel(&self) -> Result<Tunnel, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let kind = match &self.tunnel_type {
            None => Some(TunnelType::Ipip),
            Some(word) => errors.check("tunnel_type", word.parse::<TunnelType>()),
        };
        let checksum = match &self.tunnel_checksum {
            None => None,
            Some(word) => errors.check("tunnel_checksum", word.parse::<TunnelChecksum>()),
        };
        let tunnel = match kind {
            None => None,
            Some(TunnelType::Ipip) => {
                if self.tunnel_port.is_some() {
                    errors.add("tunnel_port", "applies only to gue tunnels");
                }
                if self.tunnel_checksum.is_some() {
                    errors.add("tunnel_checksum", "applies only to gue and gre tunnels");
                }
                Some(Tunnel::Ipip)
            }
            Some(TunnelType::Gue) => {
                let port = match self.tunnel_port {
                    None => errors.check("tunnel_port", Err("required for gue tunnels".into())),
                    Some(port) => errors.check("tunnel_port", gue_port(port)),
                };
                port.map(|port| Tunnel::Gue {
                    port,
                    checksum: checksum.unwrap_or(TunnelChecksum::Nocsum),
                })
            }
            Some(TunnelType::Gre) => {
                if self.tunnel_port.is_some() {
                    errors.add("tunnel_port", "applies only to gue tunnels");
                }
                if checksum == Some(TunnelChecksum::Remcsum) {
                    errors.add("tunnel_checksum", "remcsum applies only to gue tunnels");
                }
                Some(Tunnel::Gre {
                    checksum: checksum.unwrap_or(TunnelChecksum::Nocsum),
                })
            }
        };
        match tunnel {
            Some(tunnel) if errors.is_empty() => Ok(tunnel),
            _ => Err(errors),
        }
    }
}

fn threshold(raw: Option<i64>) -> Result<u32, String> {
    let raw = raw.unwrap_or(0);
    u32::try_from(raw)
        .ok()
        .filter(|t| *t <= Thresholds::MAX)
        .ok_or_else(|| format!("must be between 0 and {}, not {raw}", Thresholds::MAX))
}

fn gue_port(raw: i64) -> Result<NonZeroU16, String> {
    u16::try_from(raw)
        .ok()
        .and_then(NonZeroU16::new)
        .ok_or_else(|| format!("must be between 1 and 65535, not {raw}"))
}

impl From<&RealServer> for RealServerSpec {
    fn from(server: &RealServer) -> Self {
        let tunnel = server.forwarding().tunnel();
        RealServerSpec {
            address: Some(server.address().to_string()),
            port: Some(i64::from(server.port())),
            forwarding: Some(server.forwarding().method().to_string()),
            tunnel_type: tunnel.map(|t| t.kind().to_string()),
            tunnel_port: tunnel.and_then(|t| t.port()).map(i64::from),
            tunnel_checksum: tunnel.and_then(|t| t.checksum()).map(|c| c.to_string()),
            weight: Some(i64::from(server.weight().get())),
            upper_threshold: Some(i64::from(server.thresholds().upper())),
            lower_threshold: Some(i64::from(server.thresholds().lower())),
            state: Some(server.state().to_string()),
            description: server.description().to_string(),
            health_check: server.health_check().map(HealthCheckSpec::from),
        }
    }
}

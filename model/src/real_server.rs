//! Real servers: where a virtual service sends its connections, and how.

use std::net::IpAddr;
use std::num::NonZeroU16;

use crate::health::HealthCheck;
use crate::keyword::keyword_enum;
use crate::text::Text;

keyword_enum! {
    /// How the director hands packets to a real server.
    pub enum ForwardingMethod ("forwarding method") {
        /// NAT: the director rewrites the destination (`IP_VS_CONN_F_MASQ`).
        Masq = "masq",
        /// Direct routing: MAC rewrite, the real server holds the VIP (`IP_VS_CONN_F_DROUTE`).
        Route = "route",
        /// Encapsulation to the real server (`IP_VS_CONN_F_TUNNEL`).
        Tunnel = "tunnel",
        /// Delivered to a local socket (`IP_VS_CONN_F_LOCALNODE`).
        Local = "local",
    }
}

keyword_enum! {
    /// Encapsulation of tunnel forwarding (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
    pub enum TunnelType ("tunnel type") {
        Ipip = "ipip",
        Gue = "gue",
        Gre = "gre",
    }
}

keyword_enum! {
    /// Checksum mode of GUE and GRE tunnels (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
    pub enum TunnelChecksum ("tunnel checksum mode") {
        Nocsum = "nocsum",
        Csum = "csum",
        /// Remote checksum offload; GUE only.
        Remcsum = "remcsum",
    }
}

keyword_enum! {
    /// Whether a real server takes new connections.
    pub enum RealServerState ("state") {
        Active = "active",
        /// Weight 0 in the kernel: no new connections, existing ones finish. The configured
        /// weight is kept for when it is restored.
        Drained = "drained",
    }
}

/// Forwarding with its tunnel settings, which exist only for tunnels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forwarding {
    Masq,
    Route,
    Local,
    Tunnel(Tunnel),
}

/// Tunnel encapsulation; each type carries only the settings it understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tunnel {
    Ipip,
    /// GUE needs the receiver's UDP port (the kernel rejects port 0).
    Gue {
        port: NonZeroU16,
        checksum: TunnelChecksum,
    },
    /// GRE checksums are on or off; remote checksum offload is a GUE feature.
    Gre {
        checksum: TunnelChecksum,
    },
}

impl Forwarding {
    pub fn method(&self) -> ForwardingMethod {
        match self {
            Forwarding::Masq => ForwardingMethod::Masq,
            Forwarding::Route => ForwardingMethod::Route,
            Forwarding::Local => ForwardingMethod::Local,
            Forwarding::Tunnel(_) => ForwardingMethod::Tunnel,
        }
    }

    pub fn tunnel(&self) -> Option<Tunnel> {
        match self {
            Forwarding::Tunnel(tunnel) => Some(*tunnel),
            _ => None,
        }
    }

    /// Whether the director rewrites the destination port: only NAT maps ports.
    pub fn maps_ports(&self) -> bool {
        matches!(self, Forwarding::Masq)
    }
}

impl Tunnel {
    pub fn kind(&self) -> TunnelType {
        match self {
            Tunnel::Ipip => TunnelType::Ipip,
            Tunnel::Gue { .. } => TunnelType::Gue,
            Tunnel::Gre { .. } => TunnelType::Gre,
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            Tunnel::Gue { port, .. } => Some(port.get()),
            _ => None,
        }
    }

    pub fn checksum(&self) -> Option<TunnelChecksum> {
        match self {
            Tunnel::Ipip => None,
            Tunnel::Gue { checksum, .. } | Tunnel::Gre { checksum } => Some(*checksum),
        }
    }
}

/// A weight: 0 (quiescent) to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(u16);

impl Weight {
    pub const DEFAULT: Weight = Weight(1);
    pub const ZERO: Weight = Weight(0);

    pub fn parse(raw: i64) -> Result<Self, String> {
        u16::try_from(raw)
            .map(Weight)
            .map_err(|_| format!("must be between 0 and 65535, not {raw}"))
    }

    pub const fn get(self) -> u16 {
        self.0
    }
}

/// Connection thresholds: above `upper` active+inactive connections the server takes no
/// new ones until it is below `lower`. 0 means no limit. Both are at most [`Thresholds::MAX`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Thresholds {
    upper: u32,
    lower: u32,
}

impl Thresholds {
    /// The largest threshold: the kernel's netlink policy takes `IPVS_DEST_ATTR_U_THRESH`
    /// and `_L_THRESH` as u32 but refuses values above `INT_MAX` with `EINVAL`.
    pub const MAX: u32 = i32::MAX as u32;

    /// `ip_vs_add_dest` rejects a lower threshold above the upper one with `ERANGE`.
    pub fn new(upper: u32, lower: u32) -> Result<Self, String> {
        if upper > Self::MAX {
            return Err(format!(
                "upper_threshold must be at most {}, not {upper}",
                Self::MAX
            ));
        }
        if lower > upper {
            return Err(format!("must not exceed upper_threshold ({upper})"));
        }
        Ok(Self { upper, lower })
    }

    pub fn upper(&self) -> u32 {
        self.upper
    }

    pub fn lower(&self) -> u32 {
        self.lower
    }
}

/// A real server within a virtual service. Built only by `RealServerSpec::parse`, which
/// knows the service and so can apply the rules that depend on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RealServer {
    pub(crate) address: IpAddr,
    pub(crate) port: u16,
    pub(crate) forwarding: Forwarding,
    pub(crate) weight: Weight,
    pub(crate) thresholds: Thresholds,
    pub(crate) state: RealServerState,
    pub(crate) description: Text,
    pub(crate) health_check: Option<Box<HealthCheck>>,
}

/// Identity of a real server within its service: address and port, as in the kernel.
pub type RealServerKey = (IpAddr, u16);

impl RealServer {
    pub fn key(&self) -> RealServerKey {
        (self.address, self.port)
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// 0 only for fwmark services: the packet's own destination port is kept.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn forwarding(&self) -> Forwarding {
        self.forwarding
    }

    /// The configured weight, remembered while drained.
    pub fn weight(&self) -> Weight {
        self.weight
    }

    /// The weight the kernel should have: 0 while drained.
    pub fn effective_weight(&self) -> Weight {
        match self.state {
            RealServerState::Active => self.weight,
            RealServerState::Drained => Weight::ZERO,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    pub fn state(&self) -> RealServerState {
        self.state
    }

    pub fn description(&self) -> &Text {
        &self.description
    }

    /// This server's own check, in place of its service's.
    pub fn health_check(&self) -> Option<&HealthCheck> {
        self.health_check.as_deref()
    }

    /// The same server drained or restored, its configured weight untouched.
    pub fn with_state(&self, state: RealServerState) -> RealServer {
        RealServer {
            state,
            ..self.clone()
        }
    }

    /// The same server with another configured weight.
    pub fn with_weight(&self, weight: Weight) -> RealServer {
        RealServer {
            weight,
            ..self.clone()
        }
    }

    /// Whether the kernel's view differs: descriptions don't reach the kernel, and a
    /// drained server looks like weight 0.
    pub fn kernel_settings_differ(&self, other: &RealServer) -> bool {
        (
            self.key(),
            self.forwarding,
            self.effective_weight(),
            self.thresholds,
        ) != (
            other.key(),
            other.forwarding,
            other.effective_weight(),
            other.thresholds,
        )
    }
}

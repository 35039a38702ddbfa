//! What identifies the objects commands act on: a service's key (with its protocol and
//! address family) and a sync daemon's role. Plain data at the bottom of the crate, so that
//! the error type and the object modules can both name them.

use std::fmt;
use std::net::IpAddr;

/// `AF_INET`.
pub(crate) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: u16 = 10;

/// An address family (`IPVS_SVC_ATTR_AF`, `IPVS_DEST_ATTR_ADDR_FAMILY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `AF_INET`.
    Inet,
    /// `AF_INET6`.
    Inet6,
    /// A family this crate does not know.
    Other(u16),
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    pub(crate) fn from_raw(raw: u16) -> Self {
        match raw {
            AF_INET => Family::Inet,
            AF_INET6 => Family::Inet6,
            other => Family::Other(other),
        }
    }

    pub(crate) fn raw(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
            Family::Other(raw) => raw,
        }
    }
}

/// A transport protocol (`IPVS_SVC_ATTR_PROTOCOL`, an `IPPROTO_*` number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `IPPROTO_TCP`.
    Tcp,
    /// `IPPROTO_UDP`.
    Udp,
    /// `IPPROTO_SCTP`.
    Sctp,
    /// A protocol this crate does not know.
    Other(u16),
}

impl Protocol {
    pub(crate) fn from_raw(raw: u16) -> Self {
        match raw {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            132 => Protocol::Sctp,
            other => Protocol::Other(other),
        }
    }

    pub(crate) fn raw(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
            Protocol::Other(raw) => raw,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Sctp => f.write_str("sctp"),
            Protocol::Other(raw) => write!(f, "protocol {raw}"),
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// A protocol, virtual address and port (`IPVS_SVC_ATTR_PROTOCOL`, `_ADDR`, `_PORT`).
    Inet {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall mark within one address family (`IPVS_SVC_ATTR_FWMARK`, `_AF`).
    Fwmark { family: Family, mark: u32 },
}

impl ServiceKey {
    /// The service's address family.
    pub fn family(&self) -> Family {
        match *self {
            ServiceKey::Inet { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => family,
        }
    }
}

/// Formats as ipvsadm names services: `tcp 10.0.0.1:80`, `udp [2001:db8::1]:53`, `fwmark 7`.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet {
                protocol,
                addr: IpAddr::V4(a),
                port,
            } => {
                write!(f, "{protocol} {a}:{port}")
            }
            ServiceKey::Inet {
                protocol,
                addr: IpAddr::V6(a),
                port,
            } => {
                write!(f, "{protocol} [{a}]:{port}")
            }
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "fwmark {mark} (ipv6)"),
            ServiceKey::Fwmark { mark, .. } => write!(f, "fwmark {mark}"),
        }
    }
}

/// The role a sync daemon runs in (`IPVS_DAEMON_ATTR_STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaemonState {
    /// `IP_VS_STATE_MASTER`: sends connection state.
    Master,
    /// `IP_VS_STATE_BACKUP`: receives connection state.
    Backup,
    /// A value this crate does not know.
    Other(u32),
}

impl DaemonState {
    pub(crate) fn from_raw(raw: u32) -> Self {
        match raw {
            1 => DaemonState::Master,
            2 => DaemonState::Backup,
            other => DaemonState::Other(other),
        }
    }

    pub(crate) fn raw(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
            DaemonState::Other(raw) => raw,
        }
    }
}

//! Virtual services: the key the kernel knows them by and how they schedule.

use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU32};

use crate::health::HealthCheck;
use crate::keyword::keyword_enum;
use crate::mark_rules::MarkRule;
use crate::real_server::RealServer;
use crate::text::Text;

keyword_enum! {
    /// Transport protocol of an address-based service.
    pub enum Protocol ("protocol") {
        Tcp = "tcp",
        Udp = "udp",
        Sctp = "sctp",
    }
}

keyword_enum! {
    /// Address family; explicit for fwmark services, implied by the address otherwise.
    pub enum Family ("family") {
        Ipv4 = "ipv4",
        Ipv6 = "ipv6",
    }
}

impl Family {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The longest persistence netmask: a single client address.
    pub const fn max_prefix_len(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

keyword_enum! {
    /// Kernel scheduler modules (`ip_vs_<name>`).
    pub enum SchedulerName ("scheduler") {
        /// Round robin.
        Rr = "rr",
        /// Weighted round robin.
        Wrr = "wrr",
        /// Least connections.
        Lc = "lc",
        /// Weighted least connections (the kernel's default).
        Wlc = "wlc",
        /// Locality-based least connections.
        Lblc = "lblc",
        /// Locality-based least connections with replication.
        Lblcr = "lblcr",
        /// Destination hashing.
        Dh = "dh",
        /// Source hashing.
        Sh = "sh",
        /// Shortest expected delay.
        Sed = "sed",
        /// Never queue.
        Nq = "nq",
        /// Weighted failover.
        Fo = "fo",
        /// Weighted overflow.
        Ovf = "ovf",
        /// Maglev hashing.
        Mh = "mh",
        /// Weighted random twos choice.
        Twos = "twos",
    }
}

keyword_enum! {
    /// Scheduler flags; each is valid only with its own scheduler.
    pub enum SchedulerFlag ("scheduler flag") {
        /// `IP_VS_SVC_F_SCHED_SH_FALLBACK`: skip unavailable servers.
        ShFallback = "sh-fallback",
        /// `IP_VS_SVC_F_SCHED_SH_PORT`: hash the source port too.
        ShPort = "sh-port",
        /// `IP_VS_SVC_F_SCHED_MH_FALLBACK`: skip unavailable servers.
        MhFallback = "mh-fallback",
        /// `IP_VS_SVC_F_SCHED_MH_PORT`: hash the source port too.
        MhPort = "mh-port",
    }
}

keyword_enum! {
    /// Persistence engines (`ip_vs_pe_<name>`).
    pub enum PersistenceEngine ("persistence engine") {
        /// SIP Call-ID persistence (`ip_vs_pe_sip`); works on UDP packets only.
        Sip = "sip",
    }
}

/// A port of an address-based service: 1-65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(NonZeroU16);

impl Port {
    pub fn parse(raw: i64) -> Result<Self, String> {
        u16::try_from(raw)
            .ok()
            .and_then(NonZeroU16::new)
            .map(Port)
            .ok_or_else(|| format!("must be between 1 and 65535, not {raw}"))
    }

    pub const fn get(self) -> u16 {
        self.0.get()
    }
}

/// A firewall mark: 1 to 4294967295 (0 means "no mark" to the kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fwmark(NonZeroU32);

impl Fwmark {
    pub fn parse(raw: i64) -> Result<Self, String> {
        u32::try_from(raw)
            .ok()
            .and_then(NonZeroU32::new)
            .map(Fwmark)
            .ok_or_else(|| format!("must be between 1 and {}, not {raw}", u32::MAX))
    }

    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

/// How the kernel identifies a virtual service; unique within a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    Address {
        protocol: Protocol,
        address: IpAddr,
        port: Port,
    },
    Fwmark {
        fwmark: Fwmark,
        family: Family,
    },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match *self {
            ServiceKey::Address { address, .. } => Family::of(address),
            ServiceKey::Fwmark { family, .. } => family,
        }
    }

    pub fn is_fwmark(&self) -> bool {
        matches!(self, ServiceKey::Fwmark { .. })
    }

    pub fn protocol(&self) -> Option<Protocol> {
        match *self {
            ServiceKey::Address { protocol, .. } => Some(protocol),
            ServiceKey::Fwmark { .. } => None,
        }
    }

    pub fn port(&self) -> Option<Port> {
        match *self {
            ServiceKey::Address { port, .. } => Some(port),
            ServiceKey::Fwmark { .. } => None,
        }
    }

    /// Parses the `Display` form: `tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`, `fwmark:42:ipv4`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "invalid service key {s:?}; expected protocol:address:port \
                 (tcp:10.0.0.1:80, udp:[2001:db8::1]:53) or fwmark:mark:family (fwmark:42:ipv4)"
            )
        };
        let (kind, rest) = s.split_once(':').ok_or_else(invalid)?;
        // Only plain decimal digits: `str::parse` would also take `+80`.
        let number = |digits: &str| -> Result<i64, String> {
            if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid());
            }
            digits.parse().map_err(|_| invalid())
        };
        if kind == "fwmark" {
            let (mark, family) = rest.split_once(':').ok_or_else(invalid)?;
            return Ok(ServiceKey::Fwmark {
                fwmark: Fwmark::parse(number(mark)?)?,
                family: family.parse()?,
            });
        }
        let protocol: Protocol = kind.parse()?;
        let (address, port) = rest.rsplit_once(':').ok_or_else(invalid)?;
        // IPv6 addresses are bracketed, IPv4 ones are not, so the port is unambiguous.
        let address = match address.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
            Some(v6) if v6.contains(':') => v6,
            None if !address.contains(':') => address,
            _ => return Err(invalid()),
        };
        let address = crate::address::parse_virtual_address(address)?;
        let port = number(port)?;
        Ok(ServiceKey::Address {
            protocol,
            address,
            port: Port::parse(port)?,
        })
    }
}

/// The compact form used in logs, messages and the store: `tcp:10.0.0.1:80`,
/// `udp:[2001:db8::1]:53`, `fwmark:42:ipv4`.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Address {
                protocol,
                address: IpAddr::V4(a),
                port,
            } => {
                write!(f, "{protocol}:{a}:{}", port.get())
            }
            ServiceKey::Address {
                protocol,
                address: IpAddr::V6(a),
                port,
            } => {
                write!(f, "{protocol}:[{a}]:{}", port.get())
            }
            ServiceKey::Fwmark { fwmark, family } => write!(f, "fwmark:{}:{family}", fwmark.get()),
        }
    }
}

/// A scheduler with the flags that only it understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// Source hashing, with its fallback and port flags.
    Sh(HashFlags),
    /// Maglev hashing, with its fallback and port flags.
    Mh(HashFlags),
    /// Every other scheduler, which takes no flags.
    Plain(SchedulerName),
}

/// Flags of the hashing schedulers: `IP_VS_SVC_F_SCHED1` (fallback) and `_SCHED2` (port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HashFlags {
    pub fallback: bool,
    pub port: bool,
}

impl Scheduler {
    /// Combines a scheduler with its flags, rejecting flags that belong to another scheduler.
    pub fn new(name: SchedulerName, flags: &[SchedulerFlag]) -> Result<Self, String> {
        let (fallback, port) = match name {
            SchedulerName::Sh => (SchedulerFlag::ShFallback, SchedulerFlag::ShPort),
            SchedulerName::Mh => (SchedulerFlag::MhFallback, SchedulerFlag::MhPort),
            _ => match flags.first() {
                Some(flag) => {
                    return Err(format!("flag {flag} does not apply to scheduler {name}"))
                }
                None => return Ok(Scheduler::Plain(name)),
            },
        };
        if let Some(flag) = flags.iter().find(|f| **f != fallback && **f != port) {
            return Err(format!("flag {flag} does not apply to scheduler {name}"));
        }
        let hash = HashFlags {
            fallback: flags.contains(&fallback),
            port: flags.contains(&port),
        };
        Ok(if name == SchedulerName::Sh {
            Scheduler::Sh(hash)
        } else {
            Scheduler::Mh(hash)
        })
    }

    pub fn name(&self) -> SchedulerName {
        match self {
            Scheduler::Sh(_) => SchedulerName::Sh,
            Scheduler::Mh(_) => SchedulerName::Mh,
            Scheduler::Plain(name) => *name,
        }
    }

    /// The flags, in canonical order.
    pub fn flags(&self) -> Vec<SchedulerFlag> {
        let (hash, fallback, port) = match self {
            Scheduler::Sh(h) => (h, SchedulerFlag::ShFallback, SchedulerFlag::ShPort),
            Scheduler::Mh(h) => (h, SchedulerFlag::MhFallback, SchedulerFlag::MhPort),
            Scheduler::Plain(_) => return Vec::new(),
        };
        [(hash.fallback, fallback), (hash.port, port)]
            .into_iter()
            .filter_map(|(set, flag)| set.then_some(flag))
            .collect()
    }
}

/// Client affinity: connections from one client (network) go to the same real server
/// for `timeout` seconds after its last connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Persistence {
    timeout: NonZeroU32,
    prefix_len: u8,
}

impl Persistence {
    /// The kernel multiplies the timeout by HZ in 32 bits; this keeps it from wrapping
    /// on kernels built with HZ up to 1000.
    pub const MAX_TIMEOUT: u32 = u32::MAX / 1000;

    /// Validates a timeout in seconds (0 = persistence off) and an optional netmask as a
    /// prefix length for the service's family.
    pub fn new(
        timeout: i64,
        prefix_len: Option<u8>,
        family: Family,
    ) -> Result<Option<Self>, (&'static str, String)> {
        let max = Self::MAX_TIMEOUT;
        let timeout = u32::try_from(timeout)
            .ok()
            .filter(|t| *t <= max)
            .ok_or_else(|| {
                (
                    "persistence_timeout",
                    format!("must be between 0 and {max} seconds, not {timeout}"),
                )
            })?;
        let Some(timeout) = NonZeroU32::new(timeout) else {
            return match prefix_len {
                Some(_) => Err((
                    "persistence_netmask",
                    "needs a persistence_timeout above 0".into(),
                )),
                None => Ok(None),
            };
        };
        let prefix_len = prefix_len.unwrap_or(family.max_prefix_len());
        if family == Family::Ipv6 && prefix_len == 0 {
            // ip_vs_ctl.c rejects an IPv6 netmask outside 1..=128.
            return Err((
                "persistence_netmask",
                "an IPv6 prefix length must be between 1 and 128".into(),
            ));
        }
        Ok(Some(Self {
            timeout,
            prefix_len,
        }))
    }

    pub fn timeout(&self) -> u32 {
        self.timeout.get()
    }

    /// Clients sharing this many leading address bits count as one client.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

/// A virtual service: key, scheduling and labels. Only `ServiceSpec::parse` builds one,
/// so every value obeys the kernel's and the data plane's rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualService {
    pub(crate) key: ServiceKey,
    pub(crate) scheduler: Scheduler,
    pub(crate) persistence: Option<Persistence>,
    pub(crate) one_packet: bool,
    pub(crate) persistence_engine: Option<PersistenceEngine>,
    pub(crate) name: Text,
    pub(crate) description: Text,
    pub(crate) health_check: Option<Box<HealthCheck>>,
    pub(crate) sorry_server: Option<Box<RealServer>>,
    pub(crate) min_healthy: u32,
    pub(crate) mark_rules: Vec<MarkRule>,
}

impl VirtualService {
    pub fn key(&self) -> &ServiceKey {
        &self.key
    }

    pub fn scheduler(&self) -> Scheduler {
        self.scheduler
    }

    pub fn persistence(&self) -> Option<Persistence> {
        self.persistence
    }

    /// One-packet scheduling (`IP_VS_SVC_F_ONEPACKET`): every UDP datagram is scheduled
    /// on its own.
    pub fn one_packet(&self) -> bool {
        self.one_packet
    }

    pub fn persistence_engine(&self) -> Option<PersistenceEngine> {
        self.persistence_engine
    }

    pub fn name(&self) -> &Text {
        &self.name
    }

    pub fn description(&self) -> &Text {
        &self.description
    }

    /// The check of every real server that has none of its own; `None`: no checking.
    pub fn health_check(&self) -> Option<&HealthCheck> {
        self.health_check.as_deref()
    }

    /// A fwmark service's marking rules (none for other services).
    pub fn mark_rules(&self) -> &[MarkRule] {
        &self.mark_rules
    }

    /// The real server that takes the traffic while none of the others is healthy.
    pub fn sorry_server(&self) -> Option<&RealServer> {
        self.sorry_server.as_deref()
    }

    /// The same service without its sorry server: how a director's table holds it while
    /// the sorry server stands in as one of its real servers.
    pub fn without_sorry_server(&self) -> VirtualService {
        VirtualService {
            sorry_server: None,
            ..self.clone()
        }
    }

    /// Below this many healthy real servers the service counts as degraded.
    pub fn min_healthy(&self) -> u32 {
        self.min_healthy
    }

    /// Whether the kernel's view differs: labels don't reach the kernel.
    pub fn kernel_settings_differ(&self, other: &VirtualService) -> bool {
        (
            self.key,
            self.scheduler,
            self.persistence,
            self.one_packet,
            self.persistence_engine,
        ) != (
            other.key,
            other.scheduler,
            other.persistence,
            other.one_packet,
            other.persistence_engine,
        )
    }
}

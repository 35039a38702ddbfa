//! Virtual services: their identity, settings and kernel statistics, and how they travel in
//! `IPVS_CMD_ATTR_SERVICE`.

use std::fmt;
use std::net::Ipv4Addr;

use crate::codec::{AttrWriter, Attrs};
use crate::consts::{SvcAttr, PE_NAME_MAX, SCHED_NAME_MAX};
use crate::error::Error;
use crate::key::{Family, Protocol, ServiceKey};
use crate::stats::Stats;

/// A scheduler module (`IPVS_SVC_ATTR_SCHED_NAME`; the kernel module is `ip_vs_<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// `rr`: round robin.
    RoundRobin,
    /// `wrr`: weighted round robin.
    WeightedRoundRobin,
    /// `lc`: least connection.
    LeastConnection,
    /// `wlc`: weighted least connection.
    WeightedLeastConnection,
    /// `lblc`: locality-based least connection.
    LocalityLeastConnection,
    /// `lblcr`: locality-based least connection with replication.
    LocalityLeastConnectionReplicated,
    /// `dh`: destination hashing.
    DestinationHashing,
    /// `sh`: source hashing (flags `SCHED1` = fallback, `SCHED2` = port).
    SourceHashing,
    /// `sed`: shortest expected delay.
    ShortestExpectedDelay,
    /// `nq`: never queue.
    NeverQueue,
    /// `fo`: weighted failover.
    WeightedFailover,
    /// `ovf`: weighted overflow.
    WeightedOverflow,
    /// `mh`: Maglev hashing (flags `SCHED1` = fallback, `SCHED2` = port).
    MaglevHashing,
    /// `twos`: weighted random twos choice (Linux 5.11+).
    TwoChoice,
    /// Any other name, including `none` for a service whose scheduler was unloaded.
    Other(String),
}

impl Scheduler {
    const NAMES: [(&'static str, Scheduler); 14] = [
        ("rr", Scheduler::RoundRobin),
        ("wrr", Scheduler::WeightedRoundRobin),
        ("lc", Scheduler::LeastConnection),
        ("wlc", Scheduler::WeightedLeastConnection),
        ("lblc", Scheduler::LocalityLeastConnection),
        ("lblcr", Scheduler::LocalityLeastConnectionReplicated),
        ("dh", Scheduler::DestinationHashing),
        ("sh", Scheduler::SourceHashing),
        ("sed", Scheduler::ShortestExpectedDelay),
        ("nq", Scheduler::NeverQueue),
        ("fo", Scheduler::WeightedFailover),
        ("ovf", Scheduler::WeightedOverflow),
        ("mh", Scheduler::MaglevHashing),
        ("twos", Scheduler::TwoChoice),
    ];

    /// The scheduler called `name` in the kernel.
    pub fn from_name(name: &str) -> Self {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| Scheduler::Other(name.to_owned()))
    }

    /// The kernel's name for this scheduler.
    pub fn name(&self) -> &str {
        match self {
            Scheduler::Other(name) => name,
            known => Self::NAMES
                .iter()
                .find(|(_, s)| s == known)
                .map_or("", |(n, _)| n),
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Service flags (`IPVS_SVC_ATTR_FLAGS`, `IP_VS_SVC_F_*`), unknown bits kept as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(u32);

impl ServiceFlags {
    /// `IP_VS_SVC_F_PERSISTENT`: persistent connections (see [`Service::timeout`]).
    pub const PERSISTENT: Self = Self(0x0001);
    /// `IP_VS_SVC_F_HASHED`: set by the kernel on every live service; never sent.
    pub const HASHED: Self = Self(0x0002);
    /// `IP_VS_SVC_F_ONEPACKET`: one-packet scheduling (UDP).
    pub const ONE_PACKET: Self = Self(0x0004);
    /// `IP_VS_SVC_F_SCHED1`: `sh`/`mh` fallback (`IP_VS_SVC_F_SCHED_SH_FALLBACK`).
    pub const SCHED1: Self = Self(0x0008);
    /// `IP_VS_SVC_F_SCHED2`: `sh`/`mh` hash the port too (`IP_VS_SVC_F_SCHED_SH_PORT`).
    pub const SCHED2: Self = Self(0x0010);
    /// `IP_VS_SVC_F_SCHED3`: scheduler flag 3.
    pub const SCHED3: Self = Self(0x0020);

    /// No flags.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Flags from their kernel bits, unknown bits included.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The kernel bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with `other`'s set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, other: Self, on: bool) -> Self {
        if on {
            Self(self.0 | other.0)
        } else {
            Self(self.0 & !other.0)
        }
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The persistence granularity (`IPVS_SVC_ATTR_NETMASK`): clients within one netmask stick to
/// one destination. IPv4 travels as a mask, IPv6 as a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Netmask {
    /// A prefix length: 0–32 for IPv4, 1–128 for IPv6.
    Prefix(u8),
    /// An IPv4 mask that is not a prefix (ipvsadm accepts any dotted mask).
    NonContiguous(Ipv4Addr),
}

impl Netmask {
    /// A host-sized netmask for `family`: /32 or /128, as ipvsadm defaults to.
    pub fn host(family: Family) -> Self {
        Netmask::Prefix(if family == Family::Inet6 { 128 } else { 32 })
    }

    fn encode(self, family: Family) -> Result<[u8; 4], Error> {
        match (self, family) {
            (Netmask::Prefix(len), Family::Inet6) => Ok(u32::from(len).to_ne_bytes()),
            (Netmask::Prefix(len), _) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                Ok(mask.to_be_bytes())
            }
            (Netmask::NonContiguous(mask), Family::Inet) => Ok(mask.octets()),
            (mask, family) => Err(Error::InvalidArgument(format!(
                "persistence netmask {mask:?} does not fit address family {family:?}"
            ))),
        }
    }

    fn decode(raw: [u8; 4], family: Family) -> Self {
        if family == Family::Inet6 {
            return Netmask::Prefix(u8::try_from(u32::from_ne_bytes(raw)).unwrap_or(u8::MAX));
        }
        let mask = u32::from_be_bytes(raw);
        let len = mask.leading_ones();
        if mask.checked_shl(len).unwrap_or(0) == 0 {
            Netmask::Prefix(len as u8)
        } else {
            Netmask::NonContiguous(Ipv4Addr::from(raw))
        }
    }
}

/// A virtual service's settings: what `ipvsadm -A` / `-E` set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    /// Flags; [`ServiceFlags::HASHED`] is ignored on writes.
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (`IPVS_SVC_ATTR_TIMEOUT`), used with `PERSISTENT`.
    pub timeout: u32,
    pub netmask: Netmask,
    /// Persistence engine (`IPVS_SVC_ATTR_PE_NAME`), e.g. `sip`.
    pub persistence_engine: Option<String>,
}

impl Service {
    /// A service with no flags, no persistence and a host netmask.
    pub fn new(key: ServiceKey, scheduler: Scheduler) -> Self {
        Service {
            key,
            scheduler,
            flags: ServiceFlags::empty(),
            timeout: 0,
            netmask: Netmask::host(key.family()),
            persistence_engine: None,
        }
    }
}

/// A service as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    /// Counters and rates (from `IPVS_SVC_ATTR_STATS64`, else the 32-bit `_STATS`).
    pub stats: Stats,
}

/// The identifying attributes of `key` (all that delete, get and zero need).
pub(crate) fn write_key(
    attrs: &mut AttrWriter<'_, SvcAttr>,
    key: &ServiceKey,
) -> Result<(), Error> {
    attrs.u16(SvcAttr::Af, key.family().raw())?;
    match *key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            attrs
                .u16(SvcAttr::Protocol, protocol.raw())?
                .addr(SvcAttr::Addr, addr)?
                .be16(SvcAttr::Port, port)?;
        }
        ServiceKey::Fwmark { mark, .. } => {
            attrs.u32(SvcAttr::Fwmark, mark)?;
        }
    }
    Ok(())
}

/// Every attribute add and edit need; flags go with an all-ones mask so the kernel takes
/// them as given.
pub(crate) fn write_service(
    attrs: &mut AttrWriter<'_, SvcAttr>,
    svc: &Service,
) -> Result<(), Error> {
    let name = svc.scheduler.name();
    if name.is_empty() || name.len() > SCHED_NAME_MAX {
        return Err(Error::InvalidArgument(format!(
            "scheduler name {name:?} must be 1 to {SCHED_NAME_MAX} bytes"
        )));
    }
    write_key(attrs, &svc.key)?;
    attrs.string(SvcAttr::SchedName, name)?;
    if let Some(pe) = &svc.persistence_engine {
        if pe.is_empty() || pe.len() > PE_NAME_MAX {
            return Err(Error::InvalidArgument(format!(
                "persistence engine name {pe:?} must be 1 to {PE_NAME_MAX} bytes"
            )));
        }
        attrs.string(SvcAttr::PeName, pe)?;
    }
    let flags = svc.flags.with(ServiceFlags::HASHED, false).bits();
    // `struct ip_vs_flags`: the flags, then the mask of those to change.
    let mut flags_and_mask = [0; 8];
    flags_and_mask[..4].copy_from_slice(&flags.to_ne_bytes());
    flags_and_mask[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    attrs
        .bytes(SvcAttr::Flags, &flags_and_mask)?
        .u32(SvcAttr::Timeout, svc.timeout)?
        .bytes(SvcAttr::Netmask, &svc.netmask.encode(svc.key.family())?)?;
    Ok(())
}

/// Reads the nested attributes of one `IPVS_CMD_ATTR_SERVICE`.
pub(crate) fn decode_service(attrs: &Attrs<'_, SvcAttr>) -> Result<ServiceEntry, Error> {
    let family = Family::from_raw(attrs.u16(SvcAttr::Af)?);
    let key = match attrs.opt_u32(SvcAttr::Fwmark)? {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { family, mark },
        _ => ServiceKey::Inet {
            protocol: Protocol::from_raw(attrs.u16(SvcAttr::Protocol)?),
            addr: attrs
                .opt_addr(SvcAttr::Addr, family == Family::Inet6)?
                .ok_or_else(|| attrs.missing(SvcAttr::Addr))?,
            port: attrs
                .opt_be16(SvcAttr::Port)?
                .ok_or_else(|| attrs.missing(SvcAttr::Port))?,
        },
    };
    let flags = match attrs.get(SvcAttr::Flags) {
        Some(raw) if raw.len() >= 4 => {
            ServiceFlags::from_bits(u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]))
        }
        _ => return Err(attrs.missing(SvcAttr::Flags)),
    };
    let netmask = attrs
        .opt_u32(SvcAttr::Netmask)?
        .map(|raw| Netmask::decode(raw.to_ne_bytes(), family))
        .unwrap_or(Netmask::host(family));
    let service = Service {
        key,
        scheduler: Scheduler::from_name(&attrs.opt_string(SvcAttr::SchedName)?.unwrap_or_default()),
        flags,
        timeout: attrs.opt_u32(SvcAttr::Timeout)?.unwrap_or(0),
        netmask,
        persistence_engine: attrs.opt_string(SvcAttr::PeName)?,
    };
    let stats = Stats::decode_either(attrs, SvcAttr::Stats64, SvcAttr::Stats)?;
    Ok(ServiceEntry { service, stats })
}

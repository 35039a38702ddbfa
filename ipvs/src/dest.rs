//! Destinations (real servers) of a virtual service, and how they travel in
//! `IPVS_CMD_ATTR_DEST`.

use std::net::{IpAddr, SocketAddr};

use crate::codec::{AttrWriter, Attrs};
use crate::consts::DestAttr;
use crate::error::Error;
use crate::key::Family;
use crate::stats::Stats;

/// How packets reach a destination (`IPVS_DEST_ATTR_FWD_METHOD`, `IP_VS_CONN_F_FWD_MASK` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardMethod {
    /// `IP_VS_CONN_F_MASQ`: NAT.
    Masq,
    /// `IP_VS_CONN_F_LOCALNODE`: deliver locally.
    Local,
    /// `IP_VS_CONN_F_TUNNEL`: encapsulate (see [`TunnelType`]).
    Tunnel,
    /// `IP_VS_CONN_F_DROUTE`: direct routing.
    Route,
    /// A value this crate does not know (e.g. `IP_VS_CONN_F_BYPASS`).
    Other(u32),
}

impl ForwardMethod {
    pub(crate) fn from_raw(raw: u32) -> Self {
        match raw {
            0 => ForwardMethod::Masq,
            1 => ForwardMethod::Local,
            2 => ForwardMethod::Tunnel,
            3 => ForwardMethod::Route,
            other => ForwardMethod::Other(other),
        }
    }

    pub(crate) fn raw(self) -> u32 {
        match self {
            ForwardMethod::Masq => 0,
            ForwardMethod::Local => 1,
            ForwardMethod::Tunnel => 2,
            ForwardMethod::Route => 3,
            ForwardMethod::Other(raw) => raw,
        }
    }
}

/// Tunnel encapsulation (`IPVS_DEST_ATTR_TUN_TYPE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// `IP_VS_CONN_F_TUNNEL_TYPE_IPIP`.
    #[default]
    Ipip,
    /// `IP_VS_CONN_F_TUNNEL_TYPE_GUE`: needs a [`Destination::tunnel_port`].
    Gue,
    /// `IP_VS_CONN_F_TUNNEL_TYPE_GRE`.
    Gre,
    /// A value this crate does not know.
    Other(u8),
}

impl TunnelType {
    pub(crate) fn from_raw(raw: u8) -> Self {
        match raw {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            other => TunnelType::Other(other),
        }
    }

    pub(crate) fn raw(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Other(raw) => raw,
        }
    }
}

/// Tunnel checksum flags (`IPVS_DEST_ATTR_TUN_FLAGS`, `IP_VS_TUNNEL_ENCAP_FLAG_*`); unknown
/// bits are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TunnelFlags(u16);

impl TunnelFlags {
    /// `IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM`: no checksum.
    pub const NOCSUM: Self = Self(0);
    /// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM`: checksum the outer header.
    pub const CSUM: Self = Self(1 << 0);
    /// `IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM`: remote checksum offload.
    pub const REMCSUM: Self = Self(1 << 1);

    /// Flags from their kernel bits.
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// The kernel bits.
    pub const fn bits(self) -> u16 {
        self.0
    }
}

/// A destination's settings: what `ipvsadm -a` / `-e` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Address and port (`IPVS_DEST_ATTR_ADDR`, `_PORT`); the family may differ from the
    /// service's for tunnelled destinations (`IPVS_DEST_ATTR_ADDR_FAMILY`).
    pub addr: SocketAddr,
    pub forward: ForwardMethod,
    /// `IPVS_DEST_ATTR_WEIGHT`: 0 (quiesced) to 65535 in practice; at most `i32::MAX`.
    pub weight: u32,
    /// `IPVS_DEST_ATTR_U_THRESH`: connection limit, 0 for none.
    pub upper_threshold: u32,
    /// `IPVS_DEST_ATTR_L_THRESH`: connections below which an overloaded server returns.
    pub lower_threshold: u32,
    pub tunnel_type: TunnelType,
    /// `IPVS_DEST_ATTR_TUN_PORT`: the GUE destination port.
    pub tunnel_port: u16,
    pub tunnel_flags: TunnelFlags,
}

impl Destination {
    /// A destination with weight 1, no thresholds and no tunnel settings.
    pub fn new(addr: SocketAddr, forward: ForwardMethod) -> Self {
        Destination {
            addr,
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: TunnelFlags::NOCSUM,
        }
    }
}

/// A destination as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationEntry {
    pub destination: Destination,
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS`.
    pub active_conns: u32,
    /// `IPVS_DEST_ATTR_INACT_CONNS`.
    pub inactive_conns: u32,
    /// `IPVS_DEST_ATTR_PERSIST_CONNS`: persistence templates.
    pub persistent_conns: u32,
    /// Counters and rates (from `IPVS_DEST_ATTR_STATS64`, else `_STATS`).
    pub stats: Stats,
}

/// The identifying attributes of a destination (all that delete needs).
pub(crate) fn write_key(
    attrs: &mut AttrWriter<'_, DestAttr>,
    addr: SocketAddr,
) -> Result<(), Error> {
    attrs
        .addr(DestAttr::Addr, addr.ip())?
        .be16(DestAttr::Port, addr.port())?
        .u16(DestAttr::AddrFamily, Family::of(addr.ip()).raw())?;
    Ok(())
}

/// Every attribute add and edit need.
pub(crate) fn write_dest(
    attrs: &mut AttrWriter<'_, DestAttr>,
    dest: &Destination,
) -> Result<(), Error> {
    if dest.weight > i32::MAX as u32 {
        return Err(Error::InvalidArgument(format!(
            "weight {} of destination {} is above {}",
            dest.weight,
            dest.addr,
            i32::MAX
        )));
    }
    write_key(attrs, dest.addr)?;
    attrs
        .u32(DestAttr::FwdMethod, dest.forward.raw())?
        .u32(DestAttr::Weight, dest.weight)?
        .u32(DestAttr::UThresh, dest.upper_threshold)?
        .u32(DestAttr::LThresh, dest.lower_threshold)?
        .u8(DestAttr::TunType, dest.tunnel_type.raw())?
        .be16(DestAttr::TunPort, dest.tunnel_port)?
        .u16(DestAttr::TunFlags, dest.tunnel_flags.bits())?;
    Ok(())
}

/// Reads the nested attributes of one `IPVS_CMD_ATTR_DEST`; `service_family` stands in for
/// kernels that do not send `IPVS_DEST_ATTR_ADDR_FAMILY`.
pub(crate) fn decode_dest(
    attrs: &Attrs<'_, DestAttr>,
    service_family: Family,
) -> Result<DestinationEntry, Error> {
    let family = attrs
        .opt_u16(DestAttr::AddrFamily)?
        .map_or(service_family, Family::from_raw);
    let ip: IpAddr = attrs
        .opt_addr(DestAttr::Addr, family == Family::Inet6)?
        .ok_or_else(|| attrs.missing(DestAttr::Addr))?;
    let port = attrs
        .opt_be16(DestAttr::Port)?
        .ok_or_else(|| attrs.missing(DestAttr::Port))?;
    let destination = Destination {
        addr: SocketAddr::new(ip, port),
        forward: ForwardMethod::from_raw(attrs.u32(DestAttr::FwdMethod)?),
        weight: attrs.u32(DestAttr::Weight)?,
        upper_threshold: attrs.opt_u32(DestAttr::UThresh)?.unwrap_or(0),
        lower_threshold: attrs.opt_u32(DestAttr::LThresh)?.unwrap_or(0),
        tunnel_type: TunnelType::from_raw(attrs.opt_u8(DestAttr::TunType)?.unwrap_or(0)),
        tunnel_port: attrs.opt_be16(DestAttr::TunPort)?.unwrap_or(0),
        tunnel_flags: TunnelFlags::from_bits(attrs.opt_u16(DestAttr::TunFlags)?.unwrap_or(0)),
    };
    Ok(DestinationEntry {
        destination,
        active_conns: attrs.opt_u32(DestAttr::ActiveConns)?.unwrap_or(0),
        inactive_conns: attrs.opt_u32(DestAttr::InactConns)?.unwrap_or(0),
        persistent_conns: attrs.opt_u32(DestAttr::PersistConns)?.unwrap_or(0),
        stats: Stats::decode_either(attrs, DestAttr::Stats64, DestAttr::Stats)?,
    })
}

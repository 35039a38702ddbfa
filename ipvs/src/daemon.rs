//! Director-wide settings: the connection-sync daemon, connection timeouts and IPVS info.

use std::net::IpAddr;

use crate::codec::{AttrWriter, Attrs};
use crate::consts::{CmdAttr, DaemonAttr, InfoAttr, IFNAME_MAX};
use crate::error::Error;
use crate::key::DaemonState;

/// A connection-sync daemon (`ipvsadm --start-daemon`). Zero in `max_len`, `port` and
/// `ttl` asks for the kernel's default; the kernel reports the values in force.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncDaemon {
    pub state: DaemonState,
    /// `IPVS_DAEMON_ATTR_MCAST_IFN`: the interface to send or receive on.
    pub interface: String,
    /// `IPVS_DAEMON_ATTR_SYNC_ID`.
    pub sync_id: u32,
    /// `IPVS_DAEMON_ATTR_SYNC_MAXLEN`: largest sync message payload.
    pub max_len: u16,
    /// `IPVS_DAEMON_ATTR_MCAST_GROUP` / `_GROUP6`; the kernel default is 224.0.0.81.
    pub group: Option<IpAddr>,
    /// `IPVS_DAEMON_ATTR_MCAST_PORT`; the kernel default is 8848.
    pub port: u16,
    /// `IPVS_DAEMON_ATTR_MCAST_TTL`; the kernel default is 1.
    pub ttl: u8,
}

impl SyncDaemon {
    /// A daemon with the kernel's defaults for everything but role, interface and id.
    pub fn new(state: DaemonState, interface: impl Into<String>, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            interface: interface.into(),
            sync_id,
            max_len: 0,
            group: None,
            port: 0,
            ttl: 0,
        }
    }
}

/// Connection timeouts in seconds (`IPVS_CMD_ATTR_TIMEOUT_*`, `ipvsadm --set`). When
/// setting, 0 leaves a value unchanged, as in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`: established TCP sessions.
    pub tcp: u32,
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`: TCP sessions after FIN.
    pub tcp_fin: u32,
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`.
    pub udp: u32,
}

/// General IPVS information (`IPVS_CMD_GET_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Info {
    /// `IPVS_INFO_ATTR_VERSION`: `IP_VS_VERSION_CODE`, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE`: buckets in the connection hash table.
    pub conn_table_size: u32,
}

impl Info {
    /// The version as (major, minor, patch).
    pub fn version_triple(&self) -> (u8, u8, u8) {
        let [_, major, minor, patch] = self.version.to_be_bytes();
        (major, minor, patch)
    }
}

pub(crate) fn write_daemon(
    attrs: &mut AttrWriter<'_, DaemonAttr>,
    daemon: &SyncDaemon,
) -> Result<(), Error> {
    if daemon.interface.is_empty() || daemon.interface.len() > IFNAME_MAX {
        return Err(Error::InvalidArgument(format!(
            "sync daemon interface name {:?} must be 1 to {IFNAME_MAX} bytes",
            daemon.interface
        )));
    }
    attrs
        .u32(DaemonAttr::State, daemon.state.raw())?
        .string(DaemonAttr::McastIfn, &daemon.interface)?
        .u32(DaemonAttr::SyncId, daemon.sync_id)?;
    if daemon.max_len != 0 {
        attrs.u16(DaemonAttr::SyncMaxlen, daemon.max_len)?;
    }
    match daemon.group {
        Some(group @ IpAddr::V4(_)) => attrs.addr(DaemonAttr::McastGroup, group)?,
        Some(group @ IpAddr::V6(_)) => attrs.addr(DaemonAttr::McastGroup6, group)?,
        None => attrs,
    };
    if daemon.port != 0 {
        attrs.u16(DaemonAttr::McastPort, daemon.port)?;
    }
    if daemon.ttl != 0 {
        attrs.u8(DaemonAttr::McastTtl, daemon.ttl)?;
    }
    Ok(())
}

pub(crate) fn write_stop(
    attrs: &mut AttrWriter<'_, DaemonAttr>,
    state: DaemonState,
) -> Result<(), Error> {
    attrs.u32(DaemonAttr::State, state.raw())?;
    Ok(())
}

pub(crate) fn decode_daemon(attrs: &Attrs<'_, DaemonAttr>) -> Result<SyncDaemon, Error> {
    let group = match attrs.opt_addr(DaemonAttr::McastGroup6, true)? {
        Some(group) => Some(group),
        None => attrs.opt_addr(DaemonAttr::McastGroup, false)?,
    };
    Ok(SyncDaemon {
        state: DaemonState::from_raw(attrs.u32(DaemonAttr::State)?),
        interface: attrs.opt_string(DaemonAttr::McastIfn)?.unwrap_or_default(),
        sync_id: attrs.u32(DaemonAttr::SyncId)?,
        max_len: attrs.opt_u16(DaemonAttr::SyncMaxlen)?.unwrap_or(0),
        group,
        port: attrs.opt_u16(DaemonAttr::McastPort)?.unwrap_or(0),
        ttl: attrs.opt_u8(DaemonAttr::McastTtl)?.unwrap_or(0),
    })
}

/// The top-level attributes of `IPVS_CMD_SET_CONFIG`; zero values are left out.
pub(crate) fn write_timeouts(
    attrs: &mut AttrWriter<'_, CmdAttr>,
    timeouts: &Timeouts,
) -> Result<(), Error> {
    for (ty, value) in [
        (CmdAttr::TimeoutTcp, timeouts.tcp),
        (CmdAttr::TimeoutTcpFin, timeouts.tcp_fin),
        (CmdAttr::TimeoutUdp, timeouts.udp),
    ] {
        if value > i32::MAX as u32 {
            return Err(Error::InvalidArgument(format!(
                "timeout {value}s is above {}",
                i32::MAX
            )));
        }
        if value != 0 {
            attrs.u32(ty, value)?;
        }
    }
    Ok(())
}

pub(crate) fn decode_timeouts(attrs: &Attrs<'_, CmdAttr>) -> Result<Timeouts, Error> {
    Ok(Timeouts {
        tcp: attrs.opt_u32(CmdAttr::TimeoutTcp)?.unwrap_or(0),
        tcp_fin: attrs.opt_u32(CmdAttr::TimeoutTcpFin)?.unwrap_or(0),
        udp: attrs.opt_u32(CmdAttr::TimeoutUdp)?.unwrap_or(0),
    })
}

pub(crate) fn decode_info(attrs: &Attrs<'_, InfoAttr>) -> Result<Info, Error> {
    Ok(Info {
        version: attrs.u32(InfoAttr::Version)?,
        conn_table_size: attrs.u32(InfoAttr::ConnTabSize)?,
    })
}

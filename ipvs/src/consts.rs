//! Numbers from `include/uapi/linux/ip_vs.h`: the IPVS generic netlink commands and attribute
//! types, as neli enums. Crate-private: the public API speaks in typed structs instead.

use neli::neli_enum;

/// `IPVS_GENL_NAME`: the generic netlink family name the controller resolves.
pub(crate) const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub(crate) const FAMILY_VERSION: u8 = 1;

/// `IP_VS_SCHEDNAME_MAXLEN`: scheduler names are at most 15 bytes plus the NUL.
pub(crate) const SCHED_NAME_MAX: usize = 15;
/// `IP_VS_PENAME_MAXLEN`.
pub(crate) const PE_NAME_MAX: usize = 15;
/// `IP_VS_IFNAME_MAXLEN`.
pub(crate) const IFNAME_MAX: usize = 15;

/// `IPVS_CMD_*`.
#[neli_enum(serialized_type = "u8")]
pub(crate) enum Cmd {
    NewService = 1,
    SetService = 2,
    DelService = 3,
    GetService = 4,
    NewDest = 5,
    SetDest = 6,
    DelDest = 7,
    GetDest = 8,
    NewDaemon = 9,
    DelDaemon = 10,
    GetDaemon = 11,
    SetConfig = 12,
    GetConfig = 13,
    SetInfo = 14,
    GetInfo = 15,
    Zero = 16,
    Flush = 17,
}
impl neli::consts::genl::Cmd for Cmd {}

/// `IPVS_CMD_ATTR_*`: the top level of every message.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum CmdAttr {
    Service = 1,
    Dest = 2,
    Daemon = 3,
    TimeoutTcp = 4,
    TimeoutTcpFin = 5,
    TimeoutUdp = 6,
}
impl neli::consts::genl::NlAttrType for CmdAttr {}

/// `IPVS_SVC_ATTR_*`, nested in `IPVS_CMD_ATTR_SERVICE`.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum SvcAttr {
    Af = 1,
    Protocol = 2,
    Addr = 3,
    Port = 4,
    Fwmark = 5,
    SchedName = 6,
    Flags = 7,
    Timeout = 8,
    Netmask = 9,
    Stats = 10,
    PeName = 11,
    Stats64 = 12,
}
impl neli::consts::genl::NlAttrType for SvcAttr {}

/// `IPVS_DEST_ATTR_*`, nested in `IPVS_CMD_ATTR_DEST`.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum DestAttr {
    Addr = 1,
    Port = 2,
    FwdMethod = 3,
    Weight = 4,
    UThresh = 5,
    LThresh = 6,
    ActiveConns = 7,
    InactConns = 8,
    PersistConns = 9,
    Stats = 10,
    AddrFamily = 11,
    Stats64 = 12,
    TunType = 13,
    TunPort = 14,
    TunFlags = 15,
}
impl neli::consts::genl::NlAttrType for DestAttr {}

/// `IPVS_DAEMON_ATTR_*`, nested in `IPVS_CMD_ATTR_DAEMON`.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum DaemonAttr {
    State = 1,
    McastIfn = 2,
    SyncId = 3,
    SyncMaxlen = 4,
    McastGroup = 5,
    McastGroup6 = 6,
    McastPort = 7,
    McastTtl = 8,
}
impl neli::consts::genl::NlAttrType for DaemonAttr {}

/// `IPVS_STATS_ATTR_*`, nested in the `*_ATTR_STATS` and `*_ATTR_STATS64` attributes.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum StatsAttr {
    Conns = 1,
    Inpkts = 2,
    Outpkts = 3,
    Inbytes = 4,
    Outbytes = 5,
    Cps = 6,
    Inpps = 7,
    Outpps = 8,
    Inbps = 9,
    Outbps = 10,
    Pad = 11,
}
impl neli::consts::genl::NlAttrType for StatsAttr {}

/// `IPVS_INFO_ATTR_*`, at the top level of the `IPVS_CMD_GET_INFO` reply.
#[neli_enum(serialized_type = "u16")]
pub(crate) enum InfoAttr {
    Version = 1,
    ConnTabSize = 2,
}
impl neli::consts::genl::NlAttrType for InfoAttr {}

/// `AF_INET`.
pub(crate) const AF_INET: u16 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: u16 = 10;

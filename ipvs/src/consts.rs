//! Numbers from `include/uapi/linux/ip_vs.h` (and the generic netlink controller's, from
//! `genetlink.h`): commands and attribute ids, one enum per attribute level. Crate-private:
//! the public API speaks in typed structs instead.

use crate::codec::AttrId;

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

/// `GENL_ID_CTRL`: the generic netlink controller's family id.
pub(crate) const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`, and the controller's version.
pub(crate) const CTRL_CMD_GETFAMILY: u8 = 3;
pub(crate) const CTRL_VERSION: u8 = 1;

/// `IPVS_CMD_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
// The whole list, used or not, as the header has it.
#[allow(dead_code)]
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

impl Cmd {
    pub(crate) fn id(self) -> u8 {
        self as u8
    }
}

/// One enum per attribute level, each an [`AttrId`].
macro_rules! attr_ids {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident = $value:literal,)* })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u16)]
        // The whole list, used or not, as the header has it.
        #[allow(dead_code)]
        pub(crate) enum $name {
            $($variant = $value,)*
        }

        impl AttrId for $name {
            fn id(self) -> u16 {
                self as u16
            }
        }
    )*};
}

attr_ids! {
    /// `CTRL_ATTR_*`: the controller's top level.
    CtrlAttr {
        FamilyId = 1,
        FamilyName = 2,
    }

    /// `IPVS_CMD_ATTR_*`: the top level of every message.
    CmdAttr {
        Service = 1,
        Dest = 2,
        Daemon = 3,
        TimeoutTcp = 4,
        TimeoutTcpFin = 5,
        TimeoutUdp = 6,
    }

    /// `IPVS_SVC_ATTR_*`, nested in `IPVS_CMD_ATTR_SERVICE`.
    SvcAttr {
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

    /// `IPVS_DEST_ATTR_*`, nested in `IPVS_CMD_ATTR_DEST`.
    DestAttr {
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

    /// `IPVS_DAEMON_ATTR_*`, nested in `IPVS_CMD_ATTR_DAEMON`.
    DaemonAttr {
        State = 1,
        McastIfn = 2,
        SyncId = 3,
        SyncMaxlen = 4,
        McastGroup = 5,
        McastGroup6 = 6,
        McastPort = 7,
        McastTtl = 8,
    }

    /// `IPVS_STATS_ATTR_*`, nested in the `*_ATTR_STATS` and `*_ATTR_STATS64` attributes.
    StatsAttr {
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

    /// `IPVS_INFO_ATTR_*`, at the top level of the `IPVS_CMD_GET_INFO` reply.
    InfoAttr {
        Version = 1,
        ConnTabSize = 2,
    }
}

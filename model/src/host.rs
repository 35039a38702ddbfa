//! How a cluster's agents prepare each director host beyond its IPVS table: where the
//! services' VIPs live, and the IPVS sysctls. Every value unset leaves the host as it is.

use std::fmt;

use crate::keyword::keyword_enum;

/// A cluster's host settings for its directors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HostSettings {
    /// Where the agents add the services' VIPs; `None`: they do not manage VIPs (something
    /// else holds them, such as keepalived's VRRP or a routing daemon).
    pub vips: Option<VipInterface>,
    pub sysctls: IpvsSysctls,
    /// The kernel's connection synchronisation between the directors, so established
    /// connections survive a failover; `None`: the agents run no sync daemon.
    pub sync: Option<ConnectionSync>,
}

/// Sync daemons on every director of a cluster: on one interface, with one sync id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionSync {
    pub interface: InterfaceName,
    /// Tells this cluster's sync messages from another's on the same network.
    pub sync_id: u8,
    pub role: SyncRole,
}

keyword_enum! {
    /// Which sync daemons each director runs.
    pub enum SyncRole ("sync role") {
        /// Master and backup: every director sends its connections and takes the others'
        /// (any of them may be the active one).
        Both = "both",
        /// Only sends its connections.
        Master = "master",
        /// Only takes the others' connections.
        Backup = "backup",
    }
}

impl SyncRole {
    pub fn sends(self) -> bool {
        matches!(self, SyncRole::Both | SyncRole::Master)
    }

    pub fn receives(self) -> bool {
        matches!(self, SyncRole::Both | SyncRole::Backup)
    }
}

/// The interface that holds a cluster's VIPs on each director.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VipInterface {
    pub name: InterfaceName,
    /// Whether the agent creates it (a dummy interface, deleted again when no VIP needs
    /// it); otherwise it must exist, and a missing one is reported as an error.
    pub create: bool,
}

impl VipInterface {
    /// The interface a cluster gets when it manages VIPs without naming one.
    pub fn default_dummy() -> Self {
        VipInterface {
            name: InterfaceName(DEFAULT_INTERFACE.to_owned()),
            create: true,
        }
    }
}

/// The name of the dummy interface the agents create when none is named.
pub const DEFAULT_INTERFACE: &str = "lvs0";

/// A network interface name the kernel accepts (`dev_valid_name`): 1 to 15 printable ASCII
/// characters, not `.` or `..`, without `/` or `:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InterfaceName(String);

impl InterfaceName {
    /// `IFNAMSIZ` less the terminating NUL.
    pub const MAX_LEN: usize = 15;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err(format!(
                "must be at most {} bytes (the kernel's IFNAMSIZ), not {}",
                Self::MAX_LEN,
                raw.len()
            ));
        }
        if raw == "." || raw == ".." {
            return Err(format!("{raw:?} is not a valid interface name"));
        }
        // The kernel takes other bytes too, but no tool shows them well.
        if let Some(c) = raw
            .chars()
            .find(|c| matches!(c, '/' | ':') || !c.is_ascii_graphic())
        {
            return Err(format!(
                "must not contain {c:?} (printable ASCII only, without '/', ':' or spaces)"
            ));
        }
        Ok(InterfaceName(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The IPVS sysctls operators tune (`net.ipv4.vs.*`, per network namespace); `None` keeps
/// what the host has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IpvsSysctls {
    /// 0 to 3: bit 0 reschedules a new connection that reuses a port, bit 1 only when
    /// that is safe (kernel default 1).
    pub conn_reuse_mode: Option<u8>,
    pub expire_nodest_conn: Option<bool>,
    pub expire_quiescent_template: Option<bool>,
    pub sloppy_tcp: Option<bool>,
    pub sloppy_sctp: Option<bool>,
    pub conntrack: Option<bool>,
    pub schedule_icmp: Option<bool>,
    pub ignore_tunneled: Option<bool>,
    pub snat_reroute: Option<bool>,
}

impl IpvsSysctls {
    /// Highest `conn_reuse_mode`: both bits.
    pub const MAX_CONN_REUSE_MODE: u8 = 3;

    /// Each sysctl by its name under `net.ipv4.vs`, with the value to write (booleans as
    /// 0 or 1), set or not; one list, so no sysctl is forgotten by a reader.
    pub fn entries(&self) -> [(&'static str, Option<u8>); 9] {
        let flag = |b: Option<bool>| b.map(u8::from);
        [
            ("conn_reuse_mode", self.conn_reuse_mode),
            ("expire_nodest_conn", flag(self.expire_nodest_conn)),
            (
                "expire_quiescent_template",
                flag(self.expire_quiescent_template),
            ),
            ("sloppy_tcp", flag(self.sloppy_tcp)),
            ("sloppy_sctp", flag(self.sloppy_sctp)),
            ("conntrack", flag(self.conntrack)),
            ("schedule_icmp", flag(self.schedule_icmp)),
            ("ignore_tunneled", flag(self.ignore_tunneled)),
            ("snat_reroute", flag(self.snat_reroute)),
        ]
    }
}

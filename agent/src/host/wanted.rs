//! What a host should hold, whichever role asks: the interfaces with their VIPs, the
//! sysctls, the marking rules and the sync daemons.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use lvs_model::host::ConnectionSync;
use lvs_model::mark_rules::MarkRule;

/// What the host should hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Each interface that must be there and up, by name, with the VIPs it holds. An
    /// interface not listed holds no VIP of the agent's.
    pub interfaces: BTreeMap<String, WantedInterface>,
    /// Each sysctl (dotted name) to its value; one not listed is left as the host has it
    /// (or given back its value from before the agent set it). A sysctl of an interface
    /// the agent brings about is set once the interface is there.
    pub sysctls: BTreeMap<String, String>,
    /// GUE receive ports to open: (port, IPv6).
    pub gue_ports: BTreeSet<(u16, bool)>,
    /// Each firewall-mark service's mark with each of its marking rules, in service order.
    pub marks: Vec<(u32, MarkRule)>,
    /// The sync daemons to run; `None`: none of the agent's.
    pub sync: Option<ConnectionSync>,
}

/// An interface the host should have, and its VIPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedInterface {
    pub placement: Placement,
    pub vips: BTreeSet<IpAddr>,
}

/// How an interface comes to be there, and so what the agent may do to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A dummy interface the agent creates when it is missing, and deletes once unneeded.
    Dummy,
    /// An interface someone else set up (`lo`, `eth1`): it must be there and up.
    Existing,
    /// A tunnel driver's fallback device (`tunl0` of `ipip`): there once the driver is
    /// loaded, which asking for a link of `kind` does. The agent brings it up, and down
    /// again once unneeded, but never deletes it (the kernel does not let anyone).
    Fallback { kind: &'static str },
}

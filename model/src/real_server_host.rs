//! Real-server hosts: the machines behind direct-routing and tunnel services, which need
//! the VIP themselves. `lvs-agent --role real-server` on such a host long-polls what it
//! must hold ([`RealServerNeeds`]), prepares the host and reports ([`RealServerReport`]).
//! The server finds the needs from the services that list one of the host's addresses as
//! a real server with `route` or `tunnel` forwarding.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::agent::{DriftRepair, ObjectOutcome};
use crate::{Forwarding, Tunnel, VirtualService};

/// How packets for a VIP reach a real server, and so where its host must put the VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Direct routing: the frame arrives addressed to the host's MAC; the VIP goes on `lo`,
    /// and the host must not answer ARP for it.
    Route,
    /// IP-in-IP (IPv4) or IPv6-in-IPv6: the VIP goes on the fallback tunnel device.
    Ipip,
    /// GRE: the VIP goes on the fallback GRE device.
    Gre,
    /// IP-in-IP inside UDP (Generic UDP Encapsulation) to `port`: a FOU receiver on that
    /// port hands the inner packet to the fallback tunnel device.
    Gue { port: u16 },
}

impl Arrival {
    /// How a real server with `forwarding` receives; `None` for NAT and local real
    /// servers, whose hosts need nothing.
    pub fn of(forwarding: &Forwarding) -> Option<Self> {
        match forwarding {
            Forwarding::Route => Some(Arrival::Route),
            Forwarding::Tunnel(Tunnel::Ipip) => Some(Arrival::Ipip),
            Forwarding::Tunnel(Tunnel::Gre { .. }) => Some(Arrival::Gre),
            Forwarding::Tunnel(Tunnel::Gue { port, .. }) => Some(Arrival::Gue { port: port.get() }),
            Forwarding::Masq | Forwarding::Local => None,
        }
    }
}

impl std::fmt::Display for Arrival {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arrival::Route => f.write_str("direct routing"),
            Arrival::Ipip => f.write_str("ipip tunnel"),
            Arrival::Gre => f.write_str("gre tunnel"),
            Arrival::Gue { port } => write!(f, "gue tunnel to port {port}"),
        }
    }
}

/// A VIP a real-server host must hold, and how its packets arrive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NeededVip {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "192.0.2.10"))]
    pub address: IpAddr,
    pub arrival: Arrival,
    /// The services that need it, as `cluster/service` (`prod/tcp:192.0.2.10:80`).
    pub services: Vec<String>,
}

/// What a real-server host must hold: every VIP of the services that list one of its
/// addresses with `route` or `tunnel` forwarding, once per way of arriving.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerNeeds {
    /// Changes whenever the VIPs do; the agent's long-poll sends it back as `after`.
    pub version: String,
    /// Sorted by address, then arrival.
    pub vips: Vec<NeededVip>,
}

impl RealServerNeeds {
    /// The needs of a host from each (cluster, service, forwarding of the host's real
    /// server in it), in any order and with repeats.
    pub fn collect<'a>(
        uses: impl IntoIterator<Item = (&'a str, &'a VirtualService, Forwarding)>,
    ) -> Self {
        let mut vips: BTreeMap<(IpAddr, Arrival), Vec<String>> = BTreeMap::new();
        for (cluster, service, forwarding) in uses {
            let Some(arrival) = Arrival::of(&forwarding) else {
                continue;
            };
            let name = format!("{cluster}/{}", service.key());
            for address in vips_of(service) {
                let services = vips.entry((address, arrival)).or_default();
                if !services.contains(&name) {
                    services.push(name.clone());
                }
            }
        }
        let vips: Vec<NeededVip> = vips
            .into_iter()
            .map(|((address, arrival), mut services)| {
                services.sort();
                NeededVip {
                    address,
                    arrival,
                    services,
                }
            })
            .collect();
        RealServerNeeds {
            version: version_of(&vips),
            vips,
        }
    }
}

/// The addresses a service's packets are sent to: its VIP, or a firewall-mark service's
/// marking-rule addresses (a fwmark service without rules names none).
pub fn vips_of(service: &VirtualService) -> Vec<IpAddr> {
    match service.key() {
        crate::ServiceKey::Address { address, .. } => vec![*address],
        crate::ServiceKey::Fwmark { .. } => {
            let mut addresses: Vec<IpAddr> =
                service.mark_rules().iter().map(|r| r.address).collect();
            addresses.sort();
            addresses.dedup();
            addresses
        }
    }
}

/// A short fingerprint of the VIPs (FNV-1a of their serialisation): equal needs have equal
/// versions on every server, with no state kept.
fn version_of(vips: &[NeededVip]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for vip in vips {
        let line = format!(
            "{}|{:?}|{}\n",
            vip.address,
            vip.arrival,
            vip.services.join(",")
        );
        for byte in line.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// What a real-server agent's pass did (`POST /api/v1/agent/real-server/report`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealServerReport {
    /// The [`RealServerNeeds::version`] the pass prepared the host for.
    pub version: String,
    /// Every change the pass made or tried; only failures are kept by the server.
    #[serde(default)]
    pub outcomes: Vec<ObjectOutcome>,
    /// Changes made behind the agent's back that the pass undid.
    #[serde(default)]
    pub drift_repaired: Vec<DriftRepair>,
    /// `lvs-agent` version.
    pub agent_version: String,
    /// The host's kernel release (`uname -r`).
    pub kernel_version: String,
}

impl RealServerReport {
    /// Whether every change of the pass was made.
    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.error.is_none())
    }
}

//! What a real-server host should hold for its needs: each VIP on the device its packets
//! arrive on (`lo` for direct routing, the tunnel driver's fallback device for tunnels),
//! no ARP answers for direct-routing VIPs, and reverse-path filtering that lets
//! decapsulated packets in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use lvs_model::real_server_host::{Arrival, RealServerNeeds};

use crate::host::{Placement, Wanted, WantedInterface};

/// The loopback device, where direct-routing VIPs go.
pub const LOOPBACK: &str = "lo";

/// The fallback device of the tunnel driver that receives `arrival` for `ip`'s family,
/// with the driver's link kind; `None` for direct routing.
pub fn tunnel_device(arrival: Arrival, ip: IpAddr) -> Option<(&'static str, &'static str)> {
    match (arrival, ip.is_ipv4()) {
        (Arrival::Route, _) => None,
        // GUE hands the inner packet to the IP-in-IP driver once the FOU receiver took it.
        (Arrival::Ipip | Arrival::Gue { .. }, true) => Some(("tunl0", "ipip")),
        (Arrival::Ipip | Arrival::Gue { .. }, false) => Some(("ip6tnl0", "ip6tnl")),
        (Arrival::Gre, true) => Some(("gre0", "gre")),
        (Arrival::Gre, false) => Some(("ip6gre0", "ip6gre")),
    }
}

/// See the module documentation. `all_rp_filter` is the host's
/// `net.ipv4.conf.all.rp_filter` as found before the agent set it (its original value when
/// the agent set it).
pub fn wanted(needs: &RealServerNeeds, all_rp_filter: Option<&str>) -> Wanted {
    let mut interfaces: BTreeMap<String, WantedInterface> = BTreeMap::new();
    // An address lives on one device: `lo` when any service routes to it directly (it
    // takes decapsulated packets too), else the first tunnel's. Every tunnel device a VIP
    // arrives on is up.
    let routed: BTreeSet<IpAddr> = needs
        .vips
        .iter()
        .filter(|v| v.arrival == Arrival::Route)
        .map(|v| v.address)
        .collect();
    let mut placed = routed.clone();
    for vip in &needs.vips {
        match tunnel_device(vip.arrival, vip.address) {
            None => {
                device(&mut interfaces, LOOPBACK, Placement::Existing).insert(vip.address);
            }
            Some((name, kind)) => {
                let vips = device(&mut interfaces, name, Placement::Fallback { kind });
                if placed.insert(vip.address) {
                    vips.insert(vip.address);
                }
            }
        }
    }
    let gue_ports = needs
        .vips
        .iter()
        .filter_map(|vip| match vip.arrival {
            Arrival::Gue { port } => Some((port, vip.address.is_ipv6())),
            _ => None,
        })
        .collect();
    let mut sysctls = BTreeMap::new();
    if routed.iter().any(IpAddr::is_ipv4) {
        // Answer ARP only for addresses of the interface asked on, and never announce a
        // VIP as a source: the director alone answers for it on the segment.
        for scope in ["all", LOOPBACK] {
            sysctls.insert(format!("net.ipv4.conf.{scope}.arp_ignore"), "1".to_owned());
            sysctls.insert(
                format!("net.ipv4.conf.{scope}.arp_announce"),
                "2".to_owned(),
            );
        }
    }
    let ipv4_tunnels: Vec<&String> = interfaces
        .iter()
        .filter(|(_, i)| {
            matches!(
                i.placement,
                Placement::Fallback {
                    kind: "ipip" | "gre"
                }
            )
        })
        .map(|(name, _)| name)
        .collect();
    if !ipv4_tunnels.is_empty() {
        // A decapsulated packet comes from the client, which the host reaches through
        // another interface: strict reverse-path filtering would drop it. The kernel uses
        // the higher of `all` and the device's value, so a strict `all` becomes loose.
        for name in ipv4_tunnels {
            sysctls.insert(format!("net.ipv4.conf.{name}.rp_filter"), "0".to_owned());
        }
        if all_rp_filter == Some("1") {
            sysctls.insert("net.ipv4.conf.all.rp_filter".to_owned(), "2".to_owned());
        }
    }
    Wanted {
        interfaces,
        sysctls,
        gue_ports,
        marks: Vec::new(),
        sync: None,
    }
}

/// The VIPs of interface `name`, wanted from now on.
fn device<'a>(
    interfaces: &'a mut BTreeMap<String, WantedInterface>,
    name: &str,
    placement: Placement,
) -> &'a mut BTreeSet<IpAddr> {
    &mut interfaces
        .entry(name.to_owned())
        .or_insert(WantedInterface {
            placement,
            vips: BTreeSet::new(),
        })
        .vips
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::real_server_host::NeededVip;

    fn needs(vips: &[(&str, Arrival)]) -> RealServerNeeds {
        RealServerNeeds {
            version: "v".into(),
            vips: vips
                .iter()
                .map(|(address, arrival)| NeededVip {
                    address: address.parse().expect("an address"),
                    arrival: *arrival,
                    services: vec!["prod/tcp:192.0.2.1:80".into()],
                })
                .collect(),
        }
    }

    fn addresses(wanted: &Wanted, name: &str) -> Vec<String> {
        wanted.interfaces[name]
            .vips
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn direct_routing_puts_the_vip_on_lo_and_silences_arp() {
        let wanted = wanted(&needs(&[("192.0.2.1", Arrival::Route)]), Some("1"));
        assert_eq!(addresses(&wanted, "lo"), ["192.0.2.1"]);
        assert_eq!(wanted.interfaces["lo"].placement, Placement::Existing);
        let sysctls: Vec<(&str, &str)> = wanted
            .sysctls
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sysctls,
            [
                ("net.ipv4.conf.all.arp_announce", "2"),
                ("net.ipv4.conf.all.arp_ignore", "1"),
                ("net.ipv4.conf.lo.arp_announce", "2"),
                ("net.ipv4.conf.lo.arp_ignore", "1"),
            ],
            "rp_filter stays as it is without tunnels"
        );
    }

    #[test]
    fn tunnels_use_their_fallback_device_and_loosen_a_strict_rp_filter() {
        let wanted = wanted(
            &needs(&[
                ("192.0.2.1", Arrival::Ipip),
                ("192.0.2.2", Arrival::Gre),
                ("192.0.2.3", Arrival::Gue { port: 6080 }),
                ("2001:db8::1", Arrival::Ipip),
            ]),
            Some("1"),
        );
        assert_eq!(addresses(&wanted, "tunl0"), ["192.0.2.1", "192.0.2.3"]);
        assert_eq!(addresses(&wanted, "gre0"), ["192.0.2.2"]);
        assert_eq!(addresses(&wanted, "ip6tnl0"), ["2001:db8::1"]);
        assert_eq!(wanted.gue_ports, BTreeSet::from([(6080, false)]));
        assert_eq!(
            wanted.interfaces["gre0"].placement,
            Placement::Fallback { kind: "gre" }
        );
        assert_eq!(
            wanted
                .sysctls
                .get("net.ipv4.conf.all.rp_filter")
                .map(String::as_str),
            Some("2")
        );
        assert_eq!(
            wanted
                .sysctls
                .get("net.ipv4.conf.tunl0.rp_filter")
                .map(String::as_str),
            Some("0")
        );
        assert!(!wanted.sysctls.contains_key("net.ipv4.conf.all.arp_ignore"));
        let loose = super::wanted(&needs(&[("192.0.2.1", Arrival::Ipip)]), Some("2"));
        assert!(!loose.sysctls.contains_key("net.ipv4.conf.all.rp_filter"));
    }

    #[test]
    fn a_vip_arriving_two_ways_lives_on_one_device_and_both_are_up() {
        let wanted = wanted(
            &needs(&[("192.0.2.1", Arrival::Route), ("192.0.2.1", Arrival::Ipip)]),
            None,
        );
        assert_eq!(addresses(&wanted, "lo"), ["192.0.2.1"]);
        assert!(
            addresses(&wanted, "tunl0").is_empty(),
            "but tunl0 is wanted up"
        );
    }
}

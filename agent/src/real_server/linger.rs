//! VIPs kept for a while after the server stops needing them: a director drains the
//! connections of a removed real server for up to its drain timeout, and their packets
//! still arrive here, for the VIP.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use lvs_model::real_server_host::{Arrival, NeededVip, RealServerNeeds};

#[derive(Debug)]
pub struct Linger {
    keep: Duration,
    /// Each VIP no longer needed, with when it goes and the services that needed it.
    leaving: BTreeMap<(IpAddr, Arrival), (Instant, Vec<String>)>,
}

impl Linger {
    pub fn new(keep: Duration) -> Self {
        Linger {
            keep,
            leaving: BTreeMap::new(),
        }
    }

    /// Takes in the server's new needs after `before`: what `before` had and `after` has
    /// not starts to leave; what `after` has again stays.
    pub fn needs_changed(
        &mut self,
        before: Option<&RealServerNeeds>,
        after: &RealServerNeeds,
        now: Instant,
    ) {
        let key = |vip: &NeededVip| (vip.address, vip.arrival);
        for vip in &after.vips {
            self.leaving.remove(&key(vip));
        }
        for vip in before.map(|b| b.vips.as_slice()).unwrap_or_default() {
            if !after.vips.iter().any(|v| key(v) == key(vip)) {
                self.leaving
                    .entry(key(vip))
                    .or_insert((now + self.keep, vip.services.clone()));
            }
        }
    }

    /// `needs` with the VIPs still leaving at `now`; forgets those whose time is up.
    pub fn with_leaving(&mut self, needs: &RealServerNeeds, now: Instant) -> RealServerNeeds {
        self.leaving.retain(|_, (until, _)| *until > now);
        let mut merged = needs.clone();
        for ((address, arrival), (_, services)) in &self.leaving {
            merged.vips.push(NeededVip {
                address: *address,
                arrival: *arrival,
                services: services.clone(),
            });
        }
        merged.vips.sort();
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(vips: &[&str]) -> RealServerNeeds {
        RealServerNeeds {
            version: vips.join(","),
            vips: vips
                .iter()
                .map(|address| NeededVip {
                    address: address.parse().expect("an address"),
                    arrival: Arrival::Route,
                    services: vec![format!("prod/tcp:{address}:80")],
                })
                .collect(),
        }
    }

    fn addresses(needs: &RealServerNeeds) -> Vec<String> {
        needs.vips.iter().map(|v| v.address.to_string()).collect()
    }

    #[test]
    fn a_vip_no_longer_needed_stays_for_the_drain_timeout_unless_needed_again() {
        let start = Instant::now();
        let mut linger = Linger::new(Duration::from_secs(300));
        let both = needs(&["192.0.2.1", "192.0.2.2"]);
        let one = needs(&["192.0.2.1"]);
        linger.needs_changed(None, &both, start);
        linger.needs_changed(Some(&both), &one, start);
        let soon = start + Duration::from_secs(299);
        assert_eq!(
            addresses(&linger.with_leaving(&one, soon)),
            ["192.0.2.1", "192.0.2.2"]
        );
        let later = start + Duration::from_secs(300);
        assert_eq!(addresses(&linger.with_leaving(&one, later)), ["192.0.2.1"]);

        linger.needs_changed(Some(&both), &one, start);
        linger.needs_changed(Some(&one), &both, start);
        assert!(linger.leaving.is_empty(), "needed again");
    }
}

//! What the desired state asks of the host: the VIPs (each service's address and each
//! address of a marking rule, on the cluster's VIP interface when it has one), whether NAT
//! forwarding is needed per address family, the sysctls, and the marking rules. [`HostIndex`] counts which services need each VIP and
//! forwarding, so an update of a few services costs only those services.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use lvs_model::mark_rules::MarkRule;
use lvs_model::{DesiredService, DesiredState, Forwarding, HostSettings, ServiceKey};

use super::wanted::{Placement, Wanted, WantedInterface};

/// Which services need what of the host.
#[derive(Debug, Default)]
pub struct HostIndex {
    settings: HostSettings,
    /// Services keyed by address, by their address.
    vips: BTreeMap<IpAddr, BTreeSet<ServiceKey>>,
    /// Services with NAT real servers, per family of those real servers (v4, v6).
    nat: [BTreeSet<ServiceKey>; 2],
    /// Firewall-mark services with marking rules.
    marks: BTreeMap<ServiceKey, (u32, Vec<MarkRule>)>,
}

impl HostIndex {
    /// The index of a whole state.
    pub fn of(state: &DesiredState) -> Self {
        let mut index = HostIndex {
            settings: state.host.clone(),
            ..HostIndex::default()
        };
        for service in state.services() {
            index.add(service);
        }
        index
    }

    /// Takes in a new `state` that differs from the indexed one only in `services` (and
    /// perhaps the host settings): the cost of those services.
    ///
    /// Returns whether what is wanted may have changed: the settings, the set of VIPs,
    /// whether a family needs forwarding, or some marking rules. Only then need the host be
    /// looked at, so an edit of weights costs nothing here.
    pub fn update<'a>(
        &mut self,
        state: &DesiredState,
        services: impl IntoIterator<Item = &'a ServiceKey>,
    ) -> bool {
        let mut changed = self.settings != state.host;
        self.settings.clone_from(&state.host);
        let forwarding = self.nat.each_ref().map(BTreeSet::is_empty);
        for key in services {
            let rules = self.marks.get(key).cloned();
            // The VIPs this service held or holds: whether each is wanted may change.
            let mut addresses = self.addresses_of(key);
            addresses.extend(state.service(key).map(vips_of).unwrap_or_default());
            let before: Vec<bool> = addresses
                .iter()
                .map(|a| self.vips.contains_key(a))
                .collect();
            self.remove(key);
            if let Some(service) = state.service(key) {
                self.add(service);
            }
            changed |= self.marks.get(key) != rules.as_ref()
                || addresses
                    .iter()
                    .zip(before)
                    .any(|(a, was)| self.vips.contains_key(a) != was);
        }
        changed | (self.nat.each_ref().map(BTreeSet::is_empty) != forwarding)
    }

    pub fn wanted(&self) -> Wanted {
        let interfaces = match &self.settings.vips {
            Some(interface) if !self.vips.is_empty() => {
                let placement = if interface.create {
                    Placement::Dummy
                } else {
                    Placement::Existing
                };
                let vips = self.vips.keys().copied().collect();
                BTreeMap::from([(
                    interface.name.as_str().to_owned(),
                    WantedInterface { placement, vips },
                )])
            }
            _ => BTreeMap::new(),
        };
        let mut sysctls: BTreeMap<String, String> = self
            .settings
            .sysctls
            .entries()
            .into_iter()
            .filter_map(|(name, value)| Some((format!("net.ipv4.vs.{name}"), value?.to_string())))
            .collect();
        if !self.nat[0].is_empty() {
            sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
        }
        if !self.nat[1].is_empty() {
            sysctls.insert("net.ipv6.conf.all.forwarding".into(), "1".into());
        }
        let marks = self
            .marks
            .values()
            .flat_map(|(mark, rules)| rules.iter().map(|rule| (*mark, rule.clone())))
            .collect();
        Wanted {
            interfaces,
            sysctls,
            gue_ports: BTreeSet::new(),
            marks,
            sync: self.settings.sync.clone(),
        }
    }

    fn add(&mut self, service: &DesiredService) {
        let key = *service.key();
        match key {
            ServiceKey::Address { address, .. } => {
                self.add_vip(address, key);
            }
            ServiceKey::Fwmark { fwmark, .. } => {
                let rules = service.service().mark_rules();
                // Marked packets still reach IPVS only when their address is local.
                for rule in rules {
                    self.add_vip(rule.address, key);
                }
                if !rules.is_empty() {
                    self.marks.insert(key, (fwmark.get(), rules.to_vec()));
                }
            }
        }
        for family in [false, true] {
            let nat = service
                .real_servers()
                .any(|r| r.forwarding() == Forwarding::Masq && r.address().is_ipv6() == family);
            if nat {
                self.nat[usize::from(family)].insert(key);
            }
        }
    }

    fn add_vip(&mut self, address: IpAddr, key: ServiceKey) {
        self.vips.entry(address).or_default().insert(key);
    }

    /// The VIPs the indexed service with `key` holds.
    fn addresses_of(&self, key: &ServiceKey) -> Vec<IpAddr> {
        match key {
            ServiceKey::Address { address, .. } => vec![*address],
            ServiceKey::Fwmark { .. } => self
                .marks
                .get(key)
                .map(|(_, rules)| rules.iter().map(|r| r.address).collect())
                .unwrap_or_default(),
        }
    }

    fn remove(&mut self, key: &ServiceKey) {
        for address in self.addresses_of(key) {
            if let Some(users) = self.vips.get_mut(&address) {
                users.remove(key);
                if users.is_empty() {
                    self.vips.remove(&address);
                }
            }
        }
        for nat in &mut self.nat {
            nat.remove(key);
        }
        self.marks.remove(key);
    }
}

/// The VIPs a service needs: its address, or its marking rules' addresses.
fn vips_of(service: &DesiredService) -> Vec<IpAddr> {
    match service.key() {
        ServiceKey::Address { address, .. } => vec![*address],
        ServiceKey::Fwmark { .. } => service
            .service()
            .mark_rules()
            .iter()
            .map(|r| r.address)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::spec::DesiredStateSpec;
    use serde_json::json;

    fn state(value: serde_json::Value) -> DesiredState {
        serde_json::from_value::<DesiredStateSpec>(value)
            .expect("a document")
            .parse()
            .expect("valid")
    }

    fn two_services(host: &serde_json::Value) -> DesiredState {
        state(json!({
            "timeouts": {},
            "host": host,
            "services": [
                {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "real_servers": [
                    {"address": "10.1.0.1", "port": 80, "forwarding": "masq"}]},
                {"protocol": "tcp", "address": "10.0.0.1", "port": 443, "real_servers": [
                    {"address": "10.1.0.1", "port": 443, "forwarding": "route"}]},
                {"protocol": "udp", "address": "2001:db8::1", "port": 53, "real_servers": []},
                {"fwmark": 7, "family": "ipv4", "real_servers": []},
                {"fwmark": 8, "family": "ipv4", "real_servers": [], "mark_rules": [
                    {"protocol": "tcp", "address": "192.0.2.10", "ports": [80, 443]}]}
            ]
        }))
    }

    #[test]
    fn vips_are_each_address_once_and_fwmarks_have_none() {
        let wanted = HostIndex::of(&two_services(&json!({"vips": {}}))).wanted();
        let interface = &wanted.interfaces["lvs0"];
        assert_eq!(interface.placement, Placement::Dummy);
        let vips: Vec<String> = interface.vips.iter().map(ToString::to_string).collect();
        assert_eq!(vips, ["10.0.0.1", "192.0.2.10", "2001:db8::1"]);
        let marks: Vec<(u32, String)> = wanted
            .marks
            .iter()
            .map(|(mark, rule)| (*mark, rule.address.to_string()))
            .collect();
        assert_eq!(
            marks,
            [(8, "192.0.2.10".to_owned())],
            "fwmark 7 has no rules"
        );
        assert_eq!(
            wanted.sysctls,
            BTreeMap::from([("net.ipv4.ip_forward".into(), "1".into())]),
            "NAT to an IPv4 real server forwards IPv4 only"
        );
    }

    #[test]
    fn unmanaged_vips_and_unset_sysctls_want_nothing() {
        let mut state =
            two_services(&json!({"sysctls": {"conntrack": true, "conn_reuse_mode": 0}}));
        let wanted = HostIndex::of(&state).wanted();
        assert!(wanted.interfaces.is_empty());
        assert_eq!(
            wanted
                .sysctls
                .get("net.ipv4.vs.conntrack")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            wanted
                .sysctls
                .get("net.ipv4.vs.conn_reuse_mode")
                .map(String::as_str),
            Some("0")
        );
        state.host = HostSettings::default();
        let wanted = HostIndex::of(&state).wanted();
        assert_eq!(wanted.sysctls.len(), 1, "only forwarding: {wanted:?}");
    }

    #[test]
    fn an_update_of_some_services_matches_a_rebuild() {
        let before = two_services(&json!({"vips": {}}));
        let mut index = HostIndex::of(&before);
        // The NAT service goes; the VIP stays for the other service on it.
        let after = state(json!({
            "timeouts": {},
            "host": {"vips": {"interface": "eth1", "create": false}},
            "services": [
                {"protocol": "tcp", "address": "10.0.0.1", "port": 443, "real_servers": [
                    {"address": "10.1.0.1", "port": 443, "forwarding": "route"}]},
                {"protocol": "udp", "address": "2001:db8::1", "port": 53, "real_servers": [
                    {"address": "2001:db8:1::1", "port": 53, "forwarding": "masq"}]},
                {"fwmark": 7, "family": "ipv4", "real_servers": []}
            ]
        }));
        let touched: Vec<ServiceKey> = before
            .services()
            .map(|s| *s.key())
            .filter(|k| after.service(k) != before.service(k))
            .collect();
        assert!(
            index.update(&after, &touched),
            "VIPs and forwarding changed"
        );
        assert_eq!(index.wanted(), HostIndex::of(&after).wanted());
        // A weight changes nothing the host holds.
        let mut heavier = after.clone();
        let key = *after.services().next().expect("a service").key();
        let spec = after.service(&key).expect("there").to_spec();
        let mut value = serde_json::to_value(&spec).expect("json");
        value["real_servers"][0]["weight"] = json!(9);
        let changed: lvs_model::spec::ServiceSpec = serde_json::from_value(value).expect("spec");
        let changed = DesiredService::parse(&changed).expect("valid");
        let mut diff =
            lvs_model::Diff::service_changed(after.service(&key).expect("there").clone(), changed);
        diff.from_generation = heavier.generation;
        diff.to_generation = heavier.generation + 1;
        diff.apply_in_place(&mut heavier).expect("applies");
        assert!(!index.update(&heavier, &[key]), "nothing for the host");
        let wanted = index.wanted();
        assert_eq!(wanted.interfaces["eth1"].placement, Placement::Existing);
        assert_eq!(wanted.interfaces["eth1"].vips.len(), 2);
        assert!(wanted.marks.is_empty(), "fwmark 8 went");
        assert_eq!(
            wanted.sysctls.keys().collect::<Vec<_>>(),
            ["net.ipv6.conf.all.forwarding"]
        );
    }
}

//! Brings the host to what the desired state wants ([`Wanted`]), changing only what the
//! agent added itself. Every change is an outcome in the pass's report, each failure an
//! error on its own object (`interface lvs0`, `address 10.0.0.1 on lvs0`, `sysctl
//! net.ipv4.ip_forward`); a failure stops nothing else, and nothing is rolled back for it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

use lvs_host::{Address, Link, Rtnl, Sysctl};
use lvs_model::agent::{DriftRepair, ObjectOutcome};
use lvs_model::mark_rules::MarkRule;

use super::marks;
use super::owned::{Owned, OwnedFile, SetSysctl};
use super::{Placement, Wanted, WantedInterface};

/// What one reconcile of the host did.
#[derive(Debug, Default)]
pub struct HostOutcome {
    pub outcomes: Vec<ObjectOutcome>,
    pub drift: Vec<DriftRepair>,
}

impl HostOutcome {
    pub(super) fn done(&mut self, object: String, action: &str, result: Result<(), String>) {
        self.outcomes.push(ObjectOutcome {
            object,
            action: action.to_owned(),
            error: result.err(),
        });
    }

    /// [`HostOutcome::done`], and whether the change was made.
    pub(super) fn made(&mut self, object: &str, action: &str, result: Result<(), String>) -> bool {
        let made = result.is_ok();
        self.done(object.to_owned(), action, result);
        made
    }

    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.error.is_none())
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct HostPrep {
    rtnl: Option<Rtnl>,
    file: OwnedFile,
    owned: Owned,
    /// The content the agent's nftables table was last given.
    marks_applied: Option<String>,
}

impl HostPrep {
    /// Host preparation recording what it owns in `state_dir`. An unreadable record is
    /// logged and left on disk; the agent then owns nothing, so it removes nothing.
    pub fn new(state_dir: &Path) -> Self {
        Self::recording_in(OwnedFile::in_dir(state_dir))
    }

    /// Host preparation recording what it owns in `file`.
    pub fn recording_in(file: OwnedFile) -> Self {
        let owned = file.load().unwrap_or_else(|error| {
            tracing::error!(path = %file.path().display(), %error,
                "cannot read what the agent added to the host; it will remove none of it");
            Owned::default()
        });
        HostPrep {
            rtnl: None,
            file,
            owned,
            marks_applied: None,
        }
    }

    /// What the agent holds as its own.
    pub fn owned(&self) -> &Owned {
        &self.owned
    }

    /// Brings the host to `wanted`: sysctls first (so a real server answers no ARP for a
    /// VIP it is about to hold), then marking rules, then interfaces and VIPs, then the
    /// sysctls of interfaces that were not there before.
    pub fn reconcile(&mut self, wanted: &Wanted) -> HostOutcome {
        let mut outcome = HostOutcome::default();
        self.give_back_sysctls(&wanted.sysctls, &mut outcome);
        let (now, later): (BTreeMap<_, _>, BTreeMap<_, _>) = wanted
            .sysctls
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .partition(|(name, _)| Sysctl::dotted(name).path().exists());
        self.set_sysctls(&now, &mut outcome);
        self.marks(&wanted.marks, &mut outcome);
        if let Err(error) = self.vips(&wanted.interfaces, &mut outcome) {
            // The socket is reopened next time.
            self.rtnl = None;
            outcome.done("interfaces".into(), "read", Err(error));
        }
        self.gue_ports(&wanted.gue_ports, &mut outcome);
        self.set_sysctls(&later, &mut outcome);
        outcome
    }

    /// Records a change before making it; `false` (and an error outcome) when it cannot be
    /// recorded, and then it is not made.
    pub(super) fn record(
        &mut self,
        object: &str,
        action: &str,
        outcome: &mut HostOutcome,
        change: impl FnOnce(&mut Owned),
    ) -> bool {
        let mut next = self.owned.clone();
        change(&mut next);
        if next == self.owned {
            return true;
        }
        match self.file.save(&next) {
            Ok(()) => {
                self.owned = next;
                true
            }
            Err(error) => {
                let why = format!(
                    "not done: cannot record it in {}: {error}",
                    self.file.path().display()
                );
                outcome.done(object.to_owned(), action, Err(why));
                false
            }
        }
    }

    /// The agent's nftables table: given the rules' content when it differs from what it
    /// was last given or has gone (drift), deleted when no service has rules.
    fn marks(&mut self, wanted: &[(u32, MarkRule)], outcome: &mut HostOutcome) {
        if wanted.is_empty() {
            if self.owned.nft_table {
                match marks::TABLE.delete() {
                    Ok(existed) => {
                        if existed {
                            outcome.done(marks::OBJECT.into(), "delete", Ok(()));
                        }
                        self.marks_applied = None;
                        self.record(marks::OBJECT, "delete", outcome, |owned| {
                            owned.nft_table = false;
                        });
                    }
                    Err(error) => {
                        outcome.done(marks::OBJECT.into(), "delete", Err(error.to_string()));
                    }
                }
            }
            return;
        }
        let body = marks::render(wanted);
        if self.marks_applied.as_ref() == Some(&body) {
            match marks::TABLE.exists() {
                Ok(true) => return,
                Ok(false) => outcome.drift.push(DriftRepair {
                    object: marks::OBJECT.into(),
                    found: "missing".into(),
                }),
                Err(error) => {
                    outcome.done(marks::OBJECT.into(), "set", Err(error.to_string()));
                    return;
                }
            }
        }
        if !self.record(marks::OBJECT, "set", outcome, |owned| {
            owned.nft_table = true;
        }) {
            return;
        }
        let result = marks::TABLE.replace(&body).map_err(|e| e.to_string());
        self.marks_applied = result.is_ok().then_some(body);
        outcome.done(marks::OBJECT.into(), "set", result);
    }

    /// Sysctls no longer wanted get their value back, unless someone changed it since.
    fn give_back_sysctls(&mut self, wanted: &BTreeMap<String, String>, outcome: &mut HostOutcome) {
        let given_back: Vec<(String, SetSysctl)> = self
            .owned
            .sysctls
            .iter()
            .filter(|(name, _)| !wanted.contains_key(*name))
            .map(|(name, set)| (name.clone(), set.clone()))
            .collect();
        for (name, set) in given_back {
            let sysctl = Sysctl::dotted(&name);
            let object = format!("sysctl {name}");
            if sysctl.read().is_ok_and(|current| current == set.set) {
                let result = sysctl.write(&set.original).map_err(|e| e.to_string());
                outcome.done(object.clone(), "set", result);
            }
            self.record(&object, "set", outcome, |owned| {
                owned.sysctls.remove(&name);
            });
        }
    }

    fn set_sysctls(&mut self, wanted: &BTreeMap<String, String>, outcome: &mut HostOutcome) {
        for (name, value) in wanted {
            let sysctl = Sysctl::dotted(name);
            let object = format!("sysctl {name}");
            let current = match sysctl.read() {
                Ok(current) => current,
                Err(error) => {
                    outcome.done(object, "set", Err(error.to_string()));
                    continue;
                }
            };
            if current == *value {
                continue;
            }
            let previous = self.owned.sysctls.get(name).cloned();
            if previous.as_ref().is_some_and(|p| p.set == *value) {
                outcome.drift.push(DriftRepair {
                    object: object.clone(),
                    found: format!("{current} instead of {value}"),
                });
            }
            let original = previous.map_or(current, |p| p.original);
            let entry = SetSysctl {
                original,
                set: value.clone(),
            };
            if !self.record(&object, "set", outcome, |owned| {
                owned.sysctls.insert(name.clone(), entry);
            }) {
                continue;
            }
            outcome.done(
                object,
                "set",
                sysctl.write(value).map_err(|e| e.to_string()),
            );
        }
    }

    /// The VIPs: owned addresses no longer wanted go first, then each wanted interface
    /// with its missing addresses, then what the agent brought about and nothing needs
    /// now. `Err` when the links or addresses cannot even be read.
    fn vips(
        &mut self,
        wanted: &BTreeMap<String, WantedInterface>,
        outcome: &mut HostOutcome,
    ) -> Result<(), String> {
        let owned = &self.owned;
        let nothing_owned =
            owned.addresses.is_empty() && owned.interfaces.is_empty() && owned.raised.is_empty();
        if wanted.is_empty() && nothing_owned {
            return Ok(());
        }
        let host = Host::read(self.rtnl()?)?;
        self.remove_addresses(wanted, &host, outcome);
        // Read again: an address just removed here may be wanted on another interface.
        let mut host = Host::read(self.rtnl()?)?;
        for (name, interface) in wanted {
            if let Some(link) = self.interface(name, interface.placement, &mut host, outcome)? {
                self.add_addresses(&link, &interface.vips, &host, outcome);
            }
        }
        if !self.owned.interfaces.is_empty() || !self.owned.raised.is_empty() {
            let host = Host::read(self.rtnl()?)?;
            self.remove_interfaces(wanted, &host, outcome);
        }
        Ok(())
    }

    fn remove_addresses(
        &mut self,
        wanted: &BTreeMap<String, WantedInterface>,
        host: &Host,
        outcome: &mut HostOutcome,
    ) {
        let unwanted: Vec<(String, IpAddr)> = self
            .owned
            .addresses
            .iter()
            .filter(|(link, ip)| !wanted.get(link).is_some_and(|i| i.vips.contains(ip)))
            .cloned()
            .collect();
        for (name, ip) in unwanted {
            let object = format!("address {ip} on {name}");
            if let Some(link) = host.link(&name).filter(|l| host.holds(l.index, ip)) {
                let Ok(rtnl) = self.rtnl() else { return };
                let result = rtnl.delete_address(link.index, ip, &name);
                if !outcome.made(&object, "delete", result.map_err(|e| e.to_string())) {
                    continue;
                }
            }
            self.record(&object, "delete", outcome, |owned| {
                owned.addresses.remove(&(name.clone(), ip));
            });
        }
    }

    /// The interface `name`, made there and up as its placement allows; `None` (with an
    /// error outcome) when it cannot be used.
    fn interface(
        &mut self,
        name: &str,
        placement: Placement,
        host: &mut Host,
        outcome: &mut HostOutcome,
    ) -> Result<Option<Link>, String> {
        let object = format!("interface {name}");
        let created = self.owned.interfaces.contains(name);
        let raised = self.owned.raised.contains(name);
        match (host.link(name).cloned(), placement) {
            (Some(link), _) if link.up => Ok(Some(link)),
            (Some(link), Placement::Dummy) if created => {
                outcome.drift.push(DriftRepair {
                    object: object.clone(),
                    found: "down".into(),
                });
                self.raise(&link, &object, outcome)
            }
            (Some(link), Placement::Fallback { .. }) => {
                if raised {
                    outcome.drift.push(DriftRepair {
                        object: object.clone(),
                        found: "down".into(),
                    });
                }
                if !self.record(&object, "edit", outcome, |owned| {
                    owned.raised.insert(name.to_owned());
                }) {
                    return Ok(None);
                }
                self.raise(&link, &object, outcome)
            }
            (Some(_), _) => {
                let why = format!(
                    "{name} is down; VIPs go on it, and lvs-agent brings up only the \
                     interfaces it created"
                );
                outcome.done(object, "use", Err(why));
                Ok(None)
            }
            (None, Placement::Existing) => {
                let why = format!(
                    "this host has no interface {name}, where its VIPs go (create it, or let \
                     the agents create a dummy one)"
                );
                outcome.done(object, "use", Err(why));
                Ok(None)
            }
            (None, Placement::Fallback { kind }) => {
                let result = self
                    .rtnl()?
                    .ensure_fallback_tunnel(kind, name)
                    .map_err(|e| e.to_string());
                if !outcome.made(&object, "add", result) {
                    return Ok(None);
                }
                *host = Host::read(self.rtnl()?)?;
                match host.link(name).cloned() {
                    Some(link) if link.up => Ok(Some(link)),
                    Some(_) => self.interface(name, placement, host, outcome),
                    None => {
                        let why = format!("the {kind} driver made no {name}");
                        outcome.done(object, "use", Err(why));
                        Ok(None)
                    }
                }
            }
            (None, Placement::Dummy) => {
                if created {
                    outcome.drift.push(DriftRepair {
                        object: object.clone(),
                        found: "missing".into(),
                    });
                }
                if !self.record(&object, "add", outcome, |owned| {
                    owned.interfaces.insert(name.to_owned());
                }) {
                    return Ok(None);
                }
                let rtnl = self.rtnl()?;
                let made = rtnl.add_dummy(name).map_err(|e| e.to_string());
                let found = match &made {
                    Ok(()) => rtnl.link(name).map_err(|e| e.to_string())?,
                    Err(_) => None,
                };
                outcome.done(object.clone(), "add", made);
                if found.is_none() {
                    // Not created: not the agent's (unless it was before and went missing).
                    self.record(&object, "add", outcome, |owned| {
                        owned.interfaces.remove(name);
                    });
                }
                *host = Host::read(self.rtnl()?)?;
                Ok(found)
            }
        }
    }

    /// Brings `link` up: `Some(link)` once it is.
    fn raise(
        &mut self,
        link: &Link,
        object: &str,
        outcome: &mut HostOutcome,
    ) -> Result<Option<Link>, String> {
        let result = self
            .rtnl()?
            .set_up(link.index, &link.name)
            .map_err(|e| e.to_string());
        Ok(outcome.made(object, "edit", result).then(|| link.clone()))
    }

    fn add_addresses(
        &mut self,
        link: &Link,
        vips: &BTreeSet<IpAddr>,
        host: &Host,
        outcome: &mut HostOutcome,
    ) {
        for ip in vips {
            if host.holds(link.index, *ip) {
                continue;
            }
            let object = format!("address {ip} on {}", link.name);
            if let Some(other) = host.holder_of(*ip) {
                let why = format!(
                    "{ip} is already on {other}, where lvs-agent did not put it; remove it there, \
                     or make {other} the interface of the VIPs"
                );
                outcome.done(object, "add", Err(why));
                continue;
            }
            let key = (link.name.clone(), *ip);
            if self.owned.addresses.contains(&key) {
                outcome.drift.push(DriftRepair {
                    object: object.clone(),
                    found: "missing".into(),
                });
            }
            if !self.record(&object, "add", outcome, |owned| {
                owned.addresses.insert(key.clone());
            }) {
                continue;
            }
            let Ok(rtnl) = self.rtnl() else { return };
            let result = rtnl
                .add_address(link.index, *ip, &link.name)
                .map_err(|e| e.to_string());
            if !outcome.made(&object, "add", result) {
                self.record(&object, "add", outcome, |owned| {
                    owned.addresses.remove(&key);
                });
            }
        }
    }

    /// Deletes the interfaces the agent created, and brings down the fallback devices it
    /// brought up, that nothing wants now, unless someone else put an address of their own
    /// on one.
    fn remove_interfaces(
        &mut self,
        wanted: &BTreeMap<String, WantedInterface>,
        host: &Host,
        outcome: &mut HostOutcome,
    ) {
        let unneeded = |names: &BTreeSet<String>| -> Vec<String> {
            names
                .iter()
                .filter(|name| !wanted.contains_key(*name))
                .cloned()
                .collect()
        };
        let created = unneeded(&self.owned.interfaces);
        let raised = unneeded(&self.owned.raised);
        for (name, delete) in created
            .into_iter()
            .map(|n| (n, true))
            .chain(raised.into_iter().map(|n| (n, false)))
        {
            let object = format!("interface {name}");
            if let Some(link) = host.link(&name) {
                let foreign: Vec<IpAddr> = host
                    .addresses_of(link.index)
                    .filter(|ip| !is_link_local(*ip))
                    .filter(|ip| !self.owned.addresses.contains(&(name.clone(), *ip)))
                    .collect();
                if !foreign.is_empty() {
                    tracing::warn!(interface = %name, addresses = ?foreign,
                        "leaving an interface the agent created or brought up as it is: it \
                         holds addresses the agent did not add");
                    continue;
                }
                let Ok(rtnl) = self.rtnl() else { return };
                let change = if delete {
                    Some((rtnl.delete_link(link.index, &name), "delete"))
                } else {
                    link.up.then(|| (rtnl.set_down(link.index, &name), "edit"))
                };
                if let Some((result, action)) = change {
                    if !outcome.made(&object, action, result.map_err(|e| e.to_string())) {
                        continue;
                    }
                }
            }
            self.record(&object, "delete", outcome, |owned| {
                if delete {
                    owned.interfaces.remove(&name);
                } else {
                    owned.raised.remove(&name);
                }
                owned.addresses.retain(|(link, _)| *link != name);
            });
        }
    }

    fn rtnl(&mut self) -> Result<&mut Rtnl, String> {
        if self.rtnl.is_none() {
            self.rtnl = Some(Rtnl::open().map_err(|e| e.to_string())?);
        }
        Ok(self.rtnl.as_mut().expect("just opened"))
    }
}

/// The host's links and addresses, as read at one moment.
#[derive(Debug)]
struct Host {
    links: Vec<Link>,
    addresses: Vec<Address>,
}

impl Host {
    fn read(rtnl: &mut Rtnl) -> Result<Self, String> {
        Ok(Host {
            links: rtnl.links().map_err(|e| e.to_string())?,
            addresses: rtnl.addresses().map_err(|e| e.to_string())?,
        })
    }

    fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    fn holds(&self, link: u32, ip: IpAddr) -> bool {
        self.addresses.iter().any(|a| a.link == link && a.ip == ip)
    }

    /// The name of a link that holds `ip`.
    fn holder_of(&self, ip: IpAddr) -> Option<&str> {
        let address = self.addresses.iter().find(|a| a.ip == ip)?;
        self.links
            .iter()
            .find(|l| l.index == address.link)
            .map(|l| l.name.as_str())
    }

    fn addresses_of(&self, link: u32) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses
            .iter()
            .filter(move |a| a.link == link)
            .map(|a| a.ip)
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => ip.is_link_local(),
        IpAddr::V6(ip) => ip.segments()[0] & 0xffc0 == 0xfe80,
    }
}

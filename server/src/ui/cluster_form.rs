//! A cluster's form fields (timeouts, where the VIPs live, IPVS sysctls): filled from the
//! stored settings and read back into the model's specs, which validate them as the API
//! does. Field names are the model's field paths, so its errors land at their inputs.

use lvs_model::host::{HostSettings, DEFAULT_INTERFACE};
use lvs_model::spec::{HostSpec, IpvsSysctlsSpec, SyncSpec, TimeoutsSpec, VipsSpec};

use super::form::FormState;

/// The timeouts' fields.
pub const TIMEOUT_FIELDS: &[&str] = &["timeouts.tcp", "timeouts.tcpfin", "timeouts.udp"];

/// The VIP choice and its interface.
pub const VIP_FIELDS: &[&str] = &[VIPS, INTERFACE];

const VIPS: &str = "host.vips";
const INTERFACE: &str = "host.vips.interface";

/// `host.vips` choices: not managed, a dummy interface the agents create, or one that
/// exists.
pub const VIP_CHOICES: &[(&str, &str)] = &[
    (
        "none",
        "Not managed (something else holds the VIPs, e.g. keepalived VRRP or a routing daemon)",
    ),
    ("create", "On a dummy interface the agents create"),
    ("existing", "On an existing interface"),
];

/// One IPVS sysctl as the form shows it: a select whose empty choice keeps the host's value.
#[derive(Debug)]
pub struct Sysctl {
    /// Its name under `net.ipv4.vs`.
    pub name: &'static str,
    /// The form field, by the model's path.
    pub field: &'static str,
    /// What it does, in the words of the model's documentation.
    pub hint: &'static str,
    pub options: &'static [(&'static str, &'static str)],
}

const FLAG: &[(&str, &str)] = &[("", "host default"), ("on", "on"), ("off", "off")];
const MODES: &[(&str, &str)] = &[
    ("", "host default"),
    ("0", "0"),
    ("1", "1"),
    ("2", "2"),
    ("3", "3"),
];

const fn flag(name: &'static str, field: &'static str, hint: &'static str) -> Sysctl {
    Sysctl {
        name,
        field,
        hint,
        options: FLAG,
    }
}

/// The sysctls in the order of `IpvsSysctls::entries`.
pub const SYSCTLS: &[Sysctl] = &[
    Sysctl {
        name: "conn_reuse_mode",
        field: "host.sysctls.conn_reuse_mode",
        hint: "bit 0 reschedules a new connection that reuses a port of an old one, bit 1 \
               only when that is safe (the kernel's default is 1)",
        options: MODES,
    },
    flag(
        "expire_nodest_conn",
        "host.sysctls.expire_nodest_conn",
        "expire a connection at once when its real server is deleted or quiesced",
    ),
    flag(
        "expire_quiescent_template",
        "host.sysctls.expire_quiescent_template",
        "expire persistence templates of a real server whose weight is 0",
    ),
    flag(
        "sloppy_tcp",
        "host.sysctls.sloppy_tcp",
        "let a TCP connection be created from any packet, not only a SYN (after a failover \
         without connection synchronisation)",
    ),
    flag(
        "sloppy_sctp",
        "host.sysctls.sloppy_sctp",
        "let an SCTP association be created from any chunk, not only an INIT",
    ),
    flag(
        "conntrack",
        "host.sysctls.conntrack",
        "keep netfilter connection tracking for IPVS connections (needed by stateful \
         firewall rules and SNAT on the director)",
    ),
    flag(
        "schedule_icmp",
        "host.sysctls.schedule_icmp",
        "schedule ICMP packets that would start a connection",
    ),
    flag(
        "ignore_tunneled",
        "host.sysctls.ignore_tunneled",
        "ignore packets that arrived tunnelled (for a director that is also a tunnel endpoint)",
    ),
    flag(
        "snat_reroute",
        "host.sysctls.snat_reroute",
        "reroute NAT replies after SNAT by their new source (the kernel's default is on)",
    ),
];

/// The connection-sync fields; an empty interface runs no sync daemon.
pub const SYNC_FIELDS: &[&str] = &[SYNC_INTERFACE, SYNC_ID, SYNC_ROLE];
const SYNC_INTERFACE: &str = "host.sync.interface";
const SYNC_ID: &str = "host.sync.sync_id";
const SYNC_ROLE: &str = "host.sync.role";

/// The sync role's choices, as the model names them.
pub const SYNC_ROLES: &[(&str, &str)] = &[
    (
        "both",
        "both: send this director's connections and take the others'",
    ),
    ("master", "master: only send"),
    ("backup", "backup: only take"),
];

/// Every field of the settings form, for placing the model's errors.
pub fn settings_fields() -> Vec<&'static str> {
    let mut fields = vec!["description"];
    fields.extend(TIMEOUT_FIELDS);
    fields.extend(VIP_FIELDS);
    fields.extend(SYSCTLS.iter().map(|s| s.field));
    fields.extend(SYNC_FIELDS);
    fields
}

/// A new cluster's host fields: VIPs not managed, the default interface offered.
pub fn blank_host(form: &mut FormState) {
    form.set(VIPS, "none");
    form.set(INTERFACE, DEFAULT_INTERFACE);
}

pub fn fill_timeouts(form: &mut FormState, timeouts: &TimeoutsSpec) {
    let seconds = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    form.set("timeouts.tcp", &seconds(timeouts.tcp));
    form.set("timeouts.tcpfin", &seconds(timeouts.tcpfin));
    form.set("timeouts.udp", &seconds(timeouts.udp));
}

/// The form showing stored host settings.
pub fn fill_host(form: &mut FormState, host: &HostSettings) {
    blank_host(form);
    if let Some(vips) = &host.vips {
        form.set(VIPS, if vips.create { "create" } else { "existing" });
        form.set(INTERFACE, vips.name.as_str());
    }
    match &host.sync {
        Some(sync) => {
            form.set(SYNC_INTERFACE, sync.interface.as_str());
            form.set(SYNC_ID, &sync.sync_id.to_string());
            form.set(SYNC_ROLE, sync.role.as_str());
        }
        None => form.set(SYNC_ROLE, "both"),
    }
    for (name, value) in host.sysctls.entries() {
        let Some(sysctl) = SYSCTLS.iter().find(|s| s.name == name) else {
            continue;
        };
        // The mode's select offers numbers, the others on and off.
        let shown = match value {
            None => String::new(),
            Some(mode) if sysctl.options == MODES => mode.to_string(),
            Some(0) => "off".to_owned(),
            Some(_) => "on".to_owned(),
        };
        form.set(sysctl.field, &shown);
    }
}

/// The timeouts the form describes; numbers that are not numbers are marked on the form.
pub fn timeouts(form: &mut FormState) -> TimeoutsSpec {
    TimeoutsSpec {
        tcp: form.number("timeouts.tcp"),
        tcpfin: form.number("timeouts.tcpfin"),
        udp: form.number("timeouts.udp"),
    }
}

/// The host settings the settings form describes; values no choice offers are marked.
pub fn host(form: &mut FormState) -> HostSpec {
    HostSpec {
        vips: vips(form),
        sysctls: read_sysctls(form),
        sync: sync(form),
    }
}

/// No interface: no sync daemons; the id's number is the model's to check.
fn sync(form: &mut FormState) -> Option<SyncSpec> {
    let interface = form.text(SYNC_INTERFACE)?;
    Some(SyncSpec {
        interface: Some(interface),
        sync_id: form.number(SYNC_ID),
        role: form.text(SYNC_ROLE),
    })
}

/// The host settings of the new-cluster form, which shows no sysctls: they stay unset.
pub fn new_host(form: &mut FormState) -> HostSpec {
    HostSpec {
        vips: vips(form),
        sysctls: IpvsSysctlsSpec::default(),
        sync: None,
    }
}

fn vips(form: &mut FormState) -> Option<VipsSpec> {
    let create = match form.value(VIPS) {
        "" | "none" => return None,
        "create" => true,
        "existing" => false,
        other => {
            let message = format!("{other:?} is not one of the choices");
            form.invalid(VIPS, message);
            return None;
        }
    };
    Some(VipsSpec {
        // Empty: the model's default interface.
        interface: form.text(INTERFACE),
        create: Some(create),
    })
}

/// Every field named, so that a sysctl added to the model cannot be left off the form.
fn read_sysctls(form: &mut FormState) -> IpvsSysctlsSpec {
    IpvsSysctlsSpec {
        conn_reuse_mode: form.number("host.sysctls.conn_reuse_mode"),
        expire_nodest_conn: on_off(form, "host.sysctls.expire_nodest_conn"),
        expire_quiescent_template: on_off(form, "host.sysctls.expire_quiescent_template"),
        sloppy_tcp: on_off(form, "host.sysctls.sloppy_tcp"),
        sloppy_sctp: on_off(form, "host.sysctls.sloppy_sctp"),
        conntrack: on_off(form, "host.sysctls.conntrack"),
        schedule_icmp: on_off(form, "host.sysctls.schedule_icmp"),
        ignore_tunneled: on_off(form, "host.sysctls.ignore_tunneled"),
        snat_reroute: on_off(form, "host.sysctls.snat_reroute"),
    }
}

/// A tri-state select: empty keeps the host's value.
fn on_off(form: &mut FormState, field: &str) -> Option<bool> {
    match form.value(field) {
        "" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => {
            let message = format!("must be on, off or host default, not {other:?}");
            form.invalid(field, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::host::IpvsSysctls;

    #[test]
    fn stored_settings_read_back_unchanged() {
        let stored = HostSpec {
            vips: Some(VipsSpec {
                interface: Some("eth1".into()),
                create: Some(false),
            }),
            sysctls: IpvsSysctlsSpec {
                conn_reuse_mode: Some(2),
                conntrack: Some(true),
                snat_reroute: Some(false),
                ..IpvsSysctlsSpec::default()
            },
            sync: Some(SyncSpec {
                interface: Some("eth2".into()),
                sync_id: Some(7),
                role: Some("backup".into()),
            }),
        };
        let mut form = FormState::default();
        fill_host(&mut form, &stored.parse().expect("valid"));
        assert_eq!(form.value("host.sync.role"), "backup");
        assert_eq!(form.value("host.sysctls.conntrack"), "on");
        assert_eq!(form.value("host.sysctls.snat_reroute"), "off");
        assert_eq!(form.value("host.sysctls.sloppy_tcp"), "");
        assert_eq!(host(&mut form), stored);
        assert!(!form.has_errors());
    }

    #[test]
    fn not_managed_keeps_the_typed_interface_out_of_the_spec() {
        let mut form = FormState::default();
        blank_host(&mut form);
        form.set(INTERFACE, "eth9");
        assert_eq!(host(&mut form), HostSpec::default());
        assert_eq!(form.value(INTERFACE), "eth9", "still shown");
    }

    #[test]
    fn every_sysctl_of_the_model_is_on_the_form() {
        let names: Vec<&str> = IpvsSysctls::default()
            .entries()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        let shown: Vec<&str> = SYSCTLS.iter().map(|s| s.name).collect();
        assert_eq!(shown, names);
        for sysctl in SYSCTLS {
            assert_eq!(sysctl.field, format!("host.sysctls.{}", sysctl.name));
        }
    }

    #[test]
    fn a_value_no_select_offers_is_marked() {
        let mut form = FormState::default();
        form.set("host.sysctls.conntrack", "maybe");
        form.set(VIPS, "somewhere");
        let spec = host(&mut form);
        assert_eq!(spec.sysctls.conntrack, None);
        assert!(form.error("host.sysctls.conntrack").is_some());
        assert!(form.error(VIPS).is_some());
    }
}

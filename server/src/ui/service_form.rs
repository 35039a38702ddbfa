//! The virtual service form: its fields, filled from a stored service and read back into
//! the model's [`ServiceSpec`], which validates it as the API does.

use lvs_model::spec::{Netmask, ServiceSpec};
use lvs_model::{SchedulerFlag, SchedulerName, ValidationErrors};

use super::form::FormState;
use super::mark_rules_text::{self, FIELD as MARK_RULES};
use crate::edit::EditError;

/// The fields the form shows (the model's field names), for placing its errors.
pub const FIELDS: &[&str] = &[
    "protocol",
    "address",
    "port",
    "fwmark",
    "family",
    "scheduler",
    "scheduler_flags",
    "persistence_timeout",
    "persistence_netmask",
    "one_packet",
    "persistence_engine",
    "name",
    "description",
    MARK_RULES,
];

/// `protocol` choices: the three protocols, or a firewall-mark service.
pub const KINDS: &[(&str, &str)] = &[
    ("tcp", "TCP"),
    ("udp", "UDP"),
    ("sctp", "SCTP"),
    ("fwmark", "Firewall mark"),
];

pub const FAMILIES: &[(&str, &str)] = &[("ipv4", "IPv4"), ("ipv6", "IPv6")];

pub const ENGINES: &[(&str, &str)] = &[("", "none"), ("sip", "sip (SIP Call-ID)")];

/// Schedulers with what they do, for the select.
pub fn schedulers() -> Vec<(&'static str, String)> {
    SchedulerName::ALL
        .iter()
        .map(|name| {
            let what = match name {
                SchedulerName::Rr => "round robin",
                SchedulerName::Wrr => "weighted round robin",
                SchedulerName::Lc => "least connections",
                SchedulerName::Wlc => "weighted least connections",
                SchedulerName::Lblc => "locality-based least connections",
                SchedulerName::Lblcr => "locality-based least connections with replication",
                SchedulerName::Dh => "destination hashing",
                SchedulerName::Sh => "source hashing",
                SchedulerName::Sed => "shortest expected delay",
                SchedulerName::Nq => "never queue",
                SchedulerName::Fo => "weighted failover",
                SchedulerName::Ovf => "weighted overflow",
                SchedulerName::Mh => "maglev hashing",
                SchedulerName::Twos => "weighted random twos choice",
            };
            (name.as_str(), format!("{} ({what})", name.as_str()))
        })
        .collect()
}

/// Scheduler flags, each valid with its own scheduler only.
pub fn flags() -> Vec<&'static str> {
    SchedulerFlag::ALL.iter().map(|f| f.as_str()).collect()
}

/// An empty form for a new service, with the kernel's defaults.
pub fn blank() -> FormState {
    let mut form = FormState::default();
    form.set("protocol", "tcp");
    form.set("scheduler", "wlc");
    form.set("persistence_timeout", "0");
    form
}

/// The form showing a stored service.
pub fn filled(spec: &ServiceSpec) -> FormState {
    let mut form = FormState::default();
    match spec.fwmark {
        Some(fwmark) => {
            form.set("protocol", "fwmark");
            form.set("fwmark", &fwmark);
            form.set("family", spec.family.as_deref().unwrap_or("ipv4"));
            form.set(MARK_RULES, &mark_rules_text::write(&spec.mark_rules));
        }
        None => {
            form.set("protocol", spec.protocol.as_deref().unwrap_or("tcp"));
            form.set("address", spec.address.as_deref().unwrap_or(""));
            form.set(
                "port",
                &spec.port.map(|p| p.to_string()).unwrap_or_default(),
            );
        }
    }
    form.set("scheduler", spec.scheduler.as_deref().unwrap_or("wlc"));
    for flag in &spec.scheduler_flags {
        form.push("scheduler_flags", flag);
    }
    form.set("persistence_timeout", &spec.persistence_timeout);
    let netmask = match &spec.persistence_netmask {
        Some(Netmask::Prefix(prefix)) => prefix.to_string(),
        Some(Netmask::Text(text)) => text.clone(),
        None => String::new(),
    };
    form.set("persistence_netmask", &netmask);
    if spec.one_packet {
        form.set("one_packet", "on");
    }
    form.set(
        "persistence_engine",
        spec.persistence_engine.as_deref().unwrap_or(""),
    );
    form.set("name", &spec.name);
    form.set("description", &spec.description);
    form
}

/// The spec the form describes; numbers that are not numbers, and lines of the marking
/// rules that are not a protocol, a VIP and ports, are marked on the form.
pub fn spec(form: &mut FormState) -> ServiceSpec {
    let fwmark = form.is("protocol", "fwmark");
    let mut spec = ServiceSpec {
        scheduler: form.text("scheduler"),
        scheduler_flags: form.values("scheduler_flags").to_vec(),
        persistence_timeout: form.number("persistence_timeout").unwrap_or(0),
        persistence_netmask: form
            .text("persistence_netmask")
            .map(|text| text.parse().map_or(Netmask::Text(text), Netmask::Prefix)),
        one_packet: form.has("one_packet", "on"),
        persistence_engine: form.text("persistence_engine"),
        name: form.value("name").to_owned(),
        description: form.value("description").to_owned(),
        ..ServiceSpec::default()
    };
    if fwmark {
        spec.fwmark = form.required_number("fwmark", "required for a firewall-mark service");
        spec.family = form.text("family");
    } else {
        spec.protocol = form.text("protocol");
        spec.address = form.text("address");
        spec.port = form.number("port");
    }
    // Read whatever the kind: rules typed for an address service are refused by the model,
    // not dropped unseen.
    let rules = mark_rules_text::read(form.value(MARK_RULES));
    if let Some(message) = rules.message(&[]) {
        form.invalid(MARK_RULES, message);
    }
    spec.mark_rules = rules.rules;
    spec
}

/// Shows the model's `errors` on the form: those about the marking rules as one message on
/// their textarea, naming each line.
pub fn add_validation(form: &mut FormState, errors: &ValidationErrors) {
    let rules = mark_rules_text::read(form.value(MARK_RULES));
    if let Some(message) = rules.message(errors.errors()) {
        form.invalid(MARK_RULES, message);
    }
    let mut others = ValidationErrors::default();
    for error in errors.errors() {
        if !error.field.starts_with(MARK_RULES) {
            others.add(error.field.clone(), error.message.clone());
        }
    }
    form.add_validation(&others, FIELDS);
}

/// Shows an edit's refusal on the form, as [`FormState::refused`] does.
pub fn refused(form: &mut FormState, error: EditError) -> Result<(), EditError> {
    match error {
        EditError::Invalid(errors) => {
            add_validation(form, &errors);
            Ok(())
        }
        other => form.refused(other, FIELDS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvs_model::spec::{MarkRuleSpec, PortSpec};

    #[test]
    fn a_stored_service_reads_back_unchanged() {
        let stored = ServiceSpec {
            protocol: Some("udp".into()),
            address: Some("192.0.2.1".into()),
            port: Some(53),
            scheduler: Some("sh".into()),
            scheduler_flags: vec!["sh-port".into()],
            persistence_timeout: 300,
            persistence_netmask: Some(Netmask::Text("255.255.255.0".into())),
            one_packet: true,
            name: "dns".into(),
            ..ServiceSpec::default()
        };
        let mut form = filled(&stored);
        assert_eq!(spec(&mut form), stored);
        assert!(!form.has_errors());
    }

    #[test]
    fn marking_rules_read_back_and_their_errors_name_the_line() {
        let rule = |protocol: &str, ports: Vec<PortSpec>| MarkRuleSpec {
            protocol: Some(protocol.into()),
            address: Some("192.0.2.10".into()),
            ports,
        };
        let stored = ServiceSpec {
            fwmark: Some(7),
            family: Some("ipv4".into()),
            scheduler: Some("rr".into()),
            mark_rules: vec![
                rule(
                    "tcp",
                    vec![PortSpec::Port(80), PortSpec::Range("8000-8100".into())],
                ),
                rule("udp", vec![PortSpec::Port(53)]),
            ],
            ..ServiceSpec::default()
        };
        let mut form = filled(&stored);
        assert_eq!(spec(&mut form), stored);

        form.set(
            MARK_RULES,
            "tcp 192.0.2.10 80\n\nudp 2001:db8::1 53\nsctp\n",
        );
        let read = spec(&mut form);
        assert_eq!(read.mark_rules.len(), 2, "the unreadable line is left out");
        let errors = read.parse().expect_err("an IPv6 VIP");
        add_validation(&mut form, &errors);
        assert_eq!(
            form.error(MARK_RULES),
            Some(
                "line 3, VIP: 2001:db8::1 is not an ipv4 address, as the service's family is; \
                 line 4: \"sctp\" is not a protocol, a VIP and ports, as in \"tcp 192.0.2.10 80,443\""
            )
        );
    }

    #[test]
    fn a_fwmark_service_needs_its_mark() {
        let mut form = blank();
        form.set("protocol", "fwmark");
        form.set("family", "ipv6");
        let spec = spec(&mut form);
        assert_eq!(spec.fwmark, None);
        assert_eq!(
            form.error("fwmark"),
            Some("required for a firewall-mark service")
        );
        assert_eq!(spec.protocol, None);
    }
}

//! The service's health-check form: its check, `min_healthy` and sorry server, filled from
//! the stored service and read back into the model's specs. Inputs are named by the
//! model's field paths (`health_check.timeout_ms`), so its errors land on them.

use lvs_model::spec::{HealthCheckSpec, RealServerSpec, ServiceSpec, StatusSpec};
use lvs_model::ValidationErrors;

use super::form::FormState;

/// The fields the form shows, for placing the model's errors; an error of the whole check
/// or sorry server (`sorry_server`) has no input and is shown above the form.
pub const FIELDS: &[&str] = &[
    "health_check.kind",
    "health_check.port",
    "health_check.interval_ms",
    "health_check.timeout_ms",
    "health_check.rise",
    "health_check.fall",
    "health_check.on_failure",
    "health_check.initial",
    "health_check.method",
    "health_check.path",
    "health_check.host",
    "health_check.expect_status",
    "health_check.expect_body",
    "health_check.expect_body_regex",
    "health_check.reuse_connection",
    "health_check.sni",
    "health_check.ca_file",
    "health_check.insecure",
    "health_check.dns_name",
    "health_check.dns_type",
    "health_check.dns_rcode",
    "health_check.command",
    "health_check.args",
    "min_healthy",
    "sorry_server.address",
    "sorry_server.port",
    "sorry_server.forwarding",
];

/// `kind` choices; "" is no check at all, `none` a check that checks nothing.
pub const KINDS: &[(&str, &str)] = &[
    ("", "no check"),
    ("tcp", "tcp (connect)"),
    ("http", "http"),
    ("https", "https"),
    ("udp-dns", "udp-dns (DNS query)"),
    ("exec", "exec (a program on the director)"),
    ("none", "none (real servers not checked)"),
];

/// Keyword choices; "" leaves the model's default, so a `none` check stays valid.
pub const ON_FAILURE: &[(&str, &str)] = &[
    ("", "default (quiesce)"),
    ("quiesce", "quiesce: weight 0, connections finish"),
    ("remove", "remove from the kernel"),
];
pub const INITIAL: &[(&str, &str)] = &[("", "default (up)"), ("up", "up"), ("down", "down")];
pub const METHODS: &[(&str, &str)] = &[("", "default (GET)"), ("GET", "GET"), ("HEAD", "HEAD")];

/// What the form describes, applied to the stored service by [`Settings::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub health_check: Option<HealthCheckSpec>,
    pub min_healthy: Option<i64>,
    /// Address, port and forwarding; `None` when the address is left empty.
    pub sorry_server: Option<(String, Option<i64>, Option<String>)>,
}

impl Settings {
    /// The stored service with these settings; the sorry server keeps what the form does not
    /// show (its weight, tunnel), so saving the form unchanged changes nothing.
    pub fn apply(self, stored: ServiceSpec) -> ServiceSpec {
        let sorry_server = self.sorry_server.map(|(address, port, forwarding)| {
            let kept = stored.sorry_server.clone().unwrap_or_default();
            RealServerSpec {
                address: Some(address),
                port,
                forwarding,
                ..kept
            }
        });
        ServiceSpec {
            health_check: self.health_check,
            min_healthy: self.min_healthy,
            sorry_server,
            ..stored
        }
    }

    /// The check's own errors, under the paths the service would give them; for a form
    /// already refused for a number that is not one.
    pub fn check_errors(&self) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        if let Some(check) = &self.health_check {
            errors.check_nested("health_check", check.parse());
        }
        errors
    }
}

/// The form showing a stored service's health settings.
pub fn filled(spec: &ServiceSpec) -> FormState {
    let mut form = FormState::default();
    if let Some(check) = &spec.health_check {
        fill_check(&mut form, check);
    }
    set_number(&mut form, "min_healthy", spec.min_healthy);
    if let Some(sorry) = &spec.sorry_server {
        form.set(
            "sorry_server.address",
            sorry.address.as_deref().unwrap_or(""),
        );
        set_number(&mut form, "sorry_server.port", sorry.port);
        form.set(
            "sorry_server.forwarding",
            sorry.forwarding.as_deref().unwrap_or(""),
        );
    }
    form
}

fn fill_check(form: &mut FormState, check: &HealthCheckSpec) {
    let texts = [
        ("kind", &check.kind),
        ("on_failure", &check.on_failure),
        ("initial", &check.initial),
        ("method", &check.method),
        ("path", &check.path),
        ("host", &check.host),
        ("expect_body", &check.expect_body),
        ("expect_body_regex", &check.expect_body_regex),
        ("sni", &check.sni),
        ("ca_file", &check.ca_file),
        ("dns_name", &check.dns_name),
        ("dns_type", &check.dns_type),
        ("dns_rcode", &check.dns_rcode),
        ("command", &check.command),
    ];
    for (name, value) in texts {
        form.set(&field(name), value.as_deref().unwrap_or(""));
    }
    let numbers = [
        ("port", check.port),
        ("interval_ms", check.interval_ms),
        ("timeout_ms", check.timeout_ms),
        ("rise", check.rise),
        ("fall", check.fall),
    ];
    for (name, value) in numbers {
        set_number(form, &field(name), value);
    }
    if let Some(statuses) = &check.expect_status {
        let text: Vec<String> = statuses
            .iter()
            .map(|s| match s {
                StatusSpec::Code(code) => code.to_string(),
                StatusSpec::Range(range) => range.clone(),
            })
            .collect();
        form.set("health_check.expect_status", &text.join(", "));
    }
    for (name, flag) in [
        ("insecure", check.insecure),
        ("reuse_connection", check.reuse_connection),
    ] {
        if flag == Some(true) {
            form.set(&field(name), "on");
        }
    }
    if let Some(args) = &check.args {
        form.set("health_check.args", &args.join("\n"));
    }
}

/// The settings the form describes; numbers that are not numbers are marked on the form.
pub fn settings(form: &mut FormState) -> Settings {
    let health_check = form.text("health_check.kind").map(|kind| {
        let mut number = |name: &str| form.number(&field(name));
        let (port, interval_ms, timeout_ms, rise, fall) = (
            number("port"),
            number("interval_ms"),
            number("timeout_ms"),
            number("rise"),
            number("fall"),
        );
        let text = |name: &str| form.text(&field(name));
        // A ticked box sets the flag; an empty one leaves the default, so a check of
        // another kind stays valid.
        let ticked = |name: &str| form.has(&field(name), "on").then_some(true);
        HealthCheckSpec {
            kind: Some(kind),
            port,
            interval_ms,
            timeout_ms,
            rise,
            fall,
            on_failure: text("on_failure"),
            initial: text("initial"),
            method: text("method"),
            path: text("path"),
            host: text("host"),
            expect_status: text("expect_status").map(|t| statuses(&t)),
            expect_body: text("expect_body"),
            expect_body_regex: text("expect_body_regex"),
            reuse_connection: ticked("reuse_connection"),
            sni: text("sni"),
            ca_file: text("ca_file"),
            insecure: ticked("insecure"),
            dns_name: text("dns_name"),
            dns_type: text("dns_type"),
            dns_rcode: text("dns_rcode"),
            command: text("command"),
            args: args(form.values("health_check.args").first()),
        }
    });
    let min_healthy = form.number("min_healthy");
    let sorry_port = form.number("sorry_server.port");
    let sorry_server = form
        .text("sorry_server.address")
        .map(|address| (address, sorry_port, form.text("sorry_server.forwarding")));
    Settings {
        health_check,
        min_healthy,
        sorry_server,
    }
}

fn field(name: &str) -> String {
    format!("health_check.{name}")
}

fn set_number(form: &mut FormState, name: &str, value: Option<i64>) {
    form.set(name, &value.map(|n| n.to_string()).unwrap_or_default());
}

/// `200-399, 204` as the model's list: plain numbers as codes, the rest as ranges (which the
/// model checks).
fn statuses(text: &str) -> Vec<StatusSpec> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<i64>() {
            Ok(code) if s.bytes().all(|b| b.is_ascii_digit()) => StatusSpec::Code(code),
            _ => StatusSpec::Range(s.to_owned()),
        })
        .collect()
}

/// One argument per line; blank lines are dropped (an argument is rarely empty).
fn args(text: Option<&String>) -> Option<Vec<String>> {
    let lines: Vec<String> = text?
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (!lines.is_empty()).then_some(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(spec: &ServiceSpec) -> ServiceSpec {
        let mut form = filled(spec);
        let settings = settings(&mut form);
        assert!(!form.has_errors(), "{form:?}");
        settings.apply(spec.clone())
    }

    #[test]
    fn every_kind_of_check_reads_back_unchanged() {
        let checks = [
            HealthCheckSpec {
                kind: Some("http".into()),
                port: Some(8080),
                interval_ms: Some(5000),
                on_failure: Some("remove".into()),
                path: Some("/up".into()),
                expect_status: Some(vec![
                    StatusSpec::Range("200-399".into()),
                    StatusSpec::Code(204),
                ]),
                expect_body_regex: Some("ok|fine".into()),
                reuse_connection: Some(true),
                ..HealthCheckSpec::default()
            },
            HealthCheckSpec {
                kind: Some("https".into()),
                sni: Some("shop.example".into()),
                insecure: Some(true),
                ..HealthCheckSpec::default()
            },
            HealthCheckSpec {
                kind: Some("exec".into()),
                command: Some("/usr/lib/checks/probe".into()),
                args: Some(vec!["--quick".into(), "two words".into()]),
                ..HealthCheckSpec::default()
            },
            HealthCheckSpec {
                kind: Some("none".into()),
                ..HealthCheckSpec::default()
            },
        ];
        for check in checks {
            let stored = ServiceSpec {
                health_check: Some(check),
                min_healthy: Some(2),
                sorry_server: Some(RealServerSpec {
                    address: Some("10.9.0.1".into()),
                    port: Some(80),
                    forwarding: Some("masq".into()),
                    weight: Some(1),
                    ..RealServerSpec::default()
                }),
                ..ServiceSpec::default()
            };
            assert_eq!(read_back(&stored), stored);
        }
        let unchecked = ServiceSpec::default();
        assert_eq!(read_back(&unchecked), unchecked);
    }

    #[test]
    fn statuses_are_codes_and_ranges() {
        assert_eq!(
            statuses("200-399, 204,,"),
            [StatusSpec::Range("200-399".into()), StatusSpec::Code(204)]
        );
    }
}

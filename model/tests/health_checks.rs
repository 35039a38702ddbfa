//! Health checks as written in JSON: defaults, canonical form, and an error naming the field
//! for every bad value.

use lvs_model::spec::{HealthCheckSpec, RealServerSpec, ServiceSpec};
use lvs_model::{
    BodyMatch, CheckKind, DesiredService, Health, HealthCheck, OnFailure, Probe, ServiceKey,
    TlsVerify,
};
use serde_json::{json, Value};

fn check(value: Value) -> Result<HealthCheck, Vec<(String, String)>> {
    let spec: HealthCheckSpec = serde_json::from_value(value).expect("shape");
    spec.parse().map_err(|errors| {
        errors
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    })
}

/// The fields named by the errors of `value`, which must be invalid.
fn error_fields(value: Value) -> Vec<String> {
    let shown = value.to_string();
    check(value)
        .expect_err(&format!("{shown} is valid"))
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

fn message(value: Value, field: &str) -> String {
    let shown = value.to_string();
    let errors = check(value).expect_err(&format!("{shown} is valid"));
    errors
        .into_iter()
        .find(|(f, _)| f == field)
        .unwrap_or_else(|| panic!("no error on {field} for {shown}"))
        .1
}

/// Parsing the canonical spec of a check gives the same check, and its JSON is stable.
fn assert_canonical(check: &HealthCheck) {
    let spec = HealthCheckSpec::from(check);
    assert_eq!(&spec.parse().expect("canonical spec parses"), check);
    let text = serde_json::to_string(&spec).expect("json");
    let again: HealthCheckSpec = serde_json::from_str(&text).expect("reads back");
    assert_eq!(again, spec);
}

#[test]
fn a_tcp_check_takes_the_defaults_of_the_issue() {
    let tcp = check(json!({"kind": "tcp"})).expect("valid");
    assert_eq!(tcp.kind(), CheckKind::Tcp);
    assert_eq!(tcp.port(), None);
    assert_eq!((tcp.interval_ms(), tcp.timeout_ms()), (2000, 1000));
    assert_eq!((tcp.rise(), tcp.fall()), (2, 3));
    assert_eq!(tcp.on_failure(), OnFailure::Quiesce);
    assert_eq!(tcp.initial(), Health::Up);
    assert_canonical(&tcp);
    let spec = serde_json::to_value(HealthCheckSpec::from(&tcp)).expect("json");
    assert_eq!(
        spec,
        json!({"kind": "tcp", "interval_ms": 2000, "timeout_ms": 1000, "rise": 2, "fall": 3,
               "on_failure": "quiesce", "initial": "up"})
    );
}

#[test]
fn an_http_check_lists_its_statuses_merged_and_sorted() {
    let http = check(json!({
        "kind": "http", "port": 8080, "method": "HEAD", "path": "/healthz?full=1",
        "host": "www.example.org", "expect_status": ["300-399", 204, "200-203"],
        "expect_body": "ok", "on_failure": "remove", "initial": "down"
    }))
    .expect("valid");
    let Probe::Http(probe) = http.probe() else {
        panic!("not http: {http:?}")
    };
    assert_eq!(probe.expect_status, vec![(200, 204), (300, 399)]);
    assert_eq!(probe.expect_body, Some(BodyMatch::Contains("ok".into())));
    assert!(probe.tls.is_none());
    assert_eq!(http.port().map(|p| p.get()), Some(8080));
    assert_canonical(&http);
    let spec = serde_json::to_value(HealthCheckSpec::from(&http)).expect("json");
    assert_eq!(spec["expect_status"], json!(["200-204", "300-399"]));
    assert_eq!(spec["method"], "HEAD");
}

#[test]
fn https_verifies_against_a_ca_file_or_is_explicitly_insecure() {
    let https = check(
        json!({"kind": "https", "ca_file": "/etc/lvs/ca.pem", "sni": "api.internal",
                             "expect_body_regex": "^(ok|ready)$"}),
    )
    .expect("valid");
    assert_eq!(https.kind(), CheckKind::Https);
    let Probe::Http(probe) = https.probe() else {
        panic!("not http")
    };
    let tls = probe.tls.as_ref().expect("tls");
    assert_eq!(tls.verify, TlsVerify::CaFile("/etc/lvs/ca.pem".into()));
    assert_eq!(tls.sni.as_deref(), Some("api.internal"));
    assert_canonical(&https);

    let insecure = check(json!({"kind": "https", "insecure": true})).expect("valid");
    assert_canonical(&insecure);

    assert!(message(json!({"kind": "https"}), "ca_file").contains("insecure"));
    assert_eq!(
        error_fields(json!({"kind": "https", "ca_file": "/ca.pem", "insecure": true})),
        ["insecure"]
    );
    assert_eq!(
        error_fields(json!({"kind": "https", "ca_file": "ca.pem"})),
        ["ca_file"]
    );
}

#[test]
fn a_check_reuses_its_connection_only_when_asked() {
    let reuses = |check: &HealthCheck| match check.probe() {
        Probe::Http(http) => http.reuse_connection,
        other => panic!("not http: {other:?}"),
    };
    let fresh = check(json!({"kind": "http"})).expect("valid");
    assert!(!reuses(&fresh), "new connections unless asked");
    assert_eq!(
        check(json!({"kind": "http", "reuse_connection": false})),
        Ok(fresh.clone())
    );
    let spec = serde_json::to_value(HealthCheckSpec::from(&fresh)).expect("json");
    assert!(
        spec.get("reuse_connection").is_none(),
        "shown only when on: {spec}"
    );

    for reusing in [
        json!({"kind": "http", "reuse_connection": true}),
        json!({"kind": "https", "insecure": true, "reuse_connection": true}),
    ] {
        let reused = check(reusing).expect("valid");
        assert!(reuses(&reused));
        assert_ne!(reused.probe(), fresh.probe());
        assert_canonical(&reused);
        let spec = serde_json::to_value(HealthCheckSpec::from(&reused)).expect("json");
        assert_eq!(spec["reuse_connection"], true);
    }

    for other in [
        json!({"kind": "tcp", "reuse_connection": true}),
        json!({"kind": "udp-dns", "dns_name": "health.example", "reuse_connection": false}),
        json!({"kind": "exec", "command": "/usr/lib/checks/probe", "reuse_connection": true}),
        json!({"kind": "none", "reuse_connection": true}),
    ] {
        let shown = other.to_string();
        assert_eq!(error_fields(other.clone()), ["reuse_connection"], "{shown}");
        assert!(
            message(other, "reuse_connection").contains("applies only to http and https"),
            "{shown}"
        );
    }
}

#[test]
fn tls_options_without_https_are_named() {
    assert_eq!(
        message(json!({"kind": "http", "ca_file": "/etc/ca.pem"}), "ca_file"),
        "applies only to https checks, not http"
    );
    assert_eq!(
        error_fields(json!({"kind": "tcp", "sni": "a", "insecure": true})),
        ["sni", "insecure"]
    );
}

#[test]
fn every_bad_value_the_issue_names_gets_its_field() {
    assert!(message(
        json!({"kind": "http", "expect_body_regex": "(unclosed"}),
        "expect_body_regex"
    )
    .starts_with("is not a valid regular expression"));
    assert!(message(
        json!({"kind": "tcp", "interval_ms": 1000, "timeout_ms": 1000}),
        "timeout_ms"
    )
    .starts_with("must be below interval_ms (1000)"));
    assert_eq!(error_fields(json!({"kind": "tcp", "rise": 0})), ["rise"]);
    assert_eq!(error_fields(json!({"kind": "tcp", "fall": 0})), ["fall"]);
    assert_eq!(
        message(json!({"kind": "exec", "command": "check.sh"}), "command"),
        "must be an absolute path, not \"check.sh\""
    );
    assert!(message(json!({"kind": "icmp"}), "kind").starts_with("unknown check kind \"icmp\""));
    assert!(message(json!({}), "kind").starts_with("required"));
}

#[test]
fn other_bad_values_are_named_too() {
    for (value, field) in [
        (json!({"kind": "tcp", "interval_ms": 50}), "interval_ms"),
        (
            json!({"kind": "tcp", "interval_ms": 3_600_001}),
            "interval_ms",
        ),
        (json!({"kind": "tcp", "timeout_ms": 0}), "timeout_ms"),
        (json!({"kind": "tcp", "rise": 101}), "rise"),
        (json!({"kind": "tcp", "port": 0}), "port"),
        (json!({"kind": "tcp", "on_failure": "drop"}), "on_failure"),
        (json!({"kind": "tcp", "initial": "maybe"}), "initial"),
        (json!({"kind": "http", "method": "POST"}), "method"),
        (json!({"kind": "http", "path": "healthz"}), "path"),
        (json!({"kind": "http", "path": "/a b"}), "path"),
        (json!({"kind": "http", "host": "a\r\nX-Evil: 1"}), "host"),
        (
            json!({"kind": "http", "expect_status": []}),
            "expect_status",
        ),
        (
            json!({"kind": "http", "expect_status": [200, 99]}),
            "expect_status[1]",
        ),
        (
            json!({"kind": "http", "expect_status": ["399-200"]}),
            "expect_status[0]",
        ),
        (
            json!({"kind": "http", "expect_status": ["2xx"]}),
            "expect_status[0]",
        ),
        (json!({"kind": "http", "expect_body": ""}), "expect_body"),
        (
            json!({"kind": "http", "expect_body": "a", "expect_body_regex": "a"}),
            "expect_body_regex",
        ),
        (json!({"kind": "udp-dns"}), "dns_name"),
        (json!({"kind": "udp-dns", "dns_name": "a..b"}), "dns_name"),
        (
            json!({"kind": "udp-dns", "dns_name": "a", "dns_type": "ANY"}),
            "dns_type",
        ),
        (
            json!({"kind": "udp-dns", "dns_name": "a", "dns_rcode": "X"}),
            "dns_rcode",
        ),
        (json!({"kind": "exec"}), "command"),
        (
            json!({"kind": "exec", "command": "/bin/../bin/sh"}),
            "command",
        ),
        (
            json!({"kind": "exec", "command": "/x", "args": ["a\u{0}"]}),
            "args[0]",
        ),
        (json!({"kind": "tcp", "command": "/x"}), "command"),
        (json!({"kind": "tcp", "args": []}), "args"),
        (json!({"kind": "tcp", "dns_name": "a"}), "dns_name"),
        (json!({"kind": "none", "interval_ms": 2000}), "interval_ms"),
        (json!({"kind": "none", "port": 80}), "port"),
    ] {
        assert_eq!(error_fields(value.clone()), [field], "{value}");
    }
}

#[test]
fn a_huge_regex_is_refused_before_it_costs_a_director_memory() {
    let message = message(
        json!({"kind": "http", "expect_body_regex": "\\w{1000}\\w{1000}\\w{1000}"}),
        "expect_body_regex",
    );
    assert!(
        message.starts_with("is not a valid regular expression"),
        "{message}"
    );
}

#[test]
fn dns_exec_and_none_checks_round_trip() {
    for value in [
        json!({"kind": "udp-dns", "dns_name": "example.org.", "dns_type": "AAAA",
               "dns_rcode": "NXDOMAIN", "port": 5353}),
        json!({"kind": "exec", "command": "/usr/lib/lvs-checks/redis", "args": ["--ping"],
               "timeout_ms": 500, "interval_ms": 1000}),
        json!({"kind": "none"}),
    ] {
        let parsed = check(value.clone()).unwrap_or_else(|e| panic!("{value}: {e:?}"));
        assert_canonical(&parsed);
    }
    let none = check(json!({"kind": "none"})).expect("valid");
    assert!(none.is_none());
    assert_eq!(
        serde_json::to_value(HealthCheckSpec::from(&none)).expect("json"),
        json!({"kind": "none"})
    );
}

fn service(value: Value) -> Result<DesiredService, Vec<String>> {
    let spec: ServiceSpec = serde_json::from_value(value).expect("shape");
    DesiredService::parse(&spec).map_err(|errors| {
        errors
            .into_errors()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    })
}

#[test]
fn a_service_carries_its_check_sorry_server_and_quorum() {
    let parsed = service(json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "health_check": {"kind": "http", "path": "/up"},
        "sorry_server": {"address": "10.9.0.1", "forwarding": "masq"},
        "min_healthy": 2,
        "real_servers": [
            {"address": "10.0.0.1", "forwarding": "masq"},
            {"address": "10.0.0.2", "forwarding": "masq", "health_check": {"kind": "none"}}
        ]
    }))
    .expect("valid");
    let svc = parsed.service();
    assert_eq!(
        svc.health_check().map(HealthCheck::kind),
        Some(CheckKind::Http)
    );
    assert_eq!(svc.min_healthy(), 2);
    assert_eq!(
        svc.sorry_server().map(|s| s.address().to_string()),
        Some("10.9.0.1".into())
    );
    let own: Vec<_> = parsed
        .real_servers()
        .map(|rs| rs.health_check().map(HealthCheck::kind))
        .collect();
    assert_eq!(own, [None, Some(CheckKind::None)]);
    // The canonical spec parses back to the same service.
    assert_eq!(
        DesiredService::parse(&parsed.to_spec()).expect("canonical"),
        parsed
    );

    let plain = service(
        json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
                              "real_servers": []}),
    )
    .expect("valid");
    assert!(plain.service().health_check().is_none());
    assert_eq!(plain.service().min_healthy(), 1);
    // Without health settings the canonical form has none of their fields, so agents that
    // predate health checks still read it.
    let text = serde_json::to_string(&plain.to_spec()).expect("json");
    for field in ["health_check", "sorry_server", "min_healthy"] {
        assert!(!text.contains(field), "{text}");
    }
}

#[test]
fn service_level_rules_name_nested_fields() {
    let errors = service(json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "health_check": {"kind": "tcp", "fall": 0},
        "sorry_server": {"address": "10.9.0.1"},
        "min_healthy": -1,
        "real_servers": [{"address": "10.0.0.1", "forwarding": "masq",
                          "health_check": {"kind": "udp-dns"}}]
    }))
    .expect_err("invalid");
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').next().unwrap_or(""))
        .collect();
    for field in [
        "health_check.fall",
        "sorry_server.forwarding",
        "min_healthy",
    ] {
        assert!(fields.contains(&field), "{field} missing from {errors:?}");
    }

    let errors = service(json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "real_servers": [{"address": "10.0.0.1", "forwarding": "masq",
                          "health_check": {"kind": "udp-dns"}}]
    }))
    .expect_err("invalid");
    assert!(
        errors[0].starts_with("real_servers[0].health_check.dns_name: "),
        "{errors:?}"
    );
}

#[test]
fn a_sorry_server_is_not_checked_and_not_also_a_real_server() {
    let errors = service(json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "sorry_server": {"address": "10.9.0.1", "forwarding": "masq",
                         "health_check": {"kind": "tcp"}},
        "real_servers": []
    }))
    .expect_err("invalid");
    assert!(
        errors[0].starts_with("sorry_server.health_check: "),
        "{errors:?}"
    );

    let errors = service(json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "sorry_server": {"address": "10.0.0.1", "forwarding": "masq"},
        "real_servers": [{"address": "10.0.0.1", "forwarding": "masq"}]
    }))
    .expect_err("invalid");
    assert_eq!(
        errors,
        [
            "sorry_server: 10.0.0.1:80 is also real_servers[0]; a sorry server stands in for the \
          real servers and cannot be one of them"
        ]
    );
}

#[test]
fn a_fwmark_service_names_the_port_its_check_needs() {
    let errors = service(json!({
        "fwmark": 7, "family": "ipv4", "health_check": {"kind": "http"},
        "real_servers": [{"address": "10.0.0.1", "forwarding": "route"}]
    }))
    .expect_err("invalid");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("health_check.port: required"),
        "{errors:?}"
    );

    let errors = service(json!({
        "fwmark": 7, "family": "ipv4",
        "real_servers": [{"address": "10.0.0.1", "forwarding": "route",
                          "health_check": {"kind": "tcp"}}]
    }))
    .expect_err("invalid");
    assert!(
        errors[0].starts_with("real_servers[0].health_check.port: required"),
        "{errors:?}"
    );

    // A port, or a check that reaches none, is fine.
    for check in [
        json!({"kind": "tcp", "port": 443}),
        json!({"kind": "exec", "command": "/c"}),
    ] {
        service(json!({
            "fwmark": 7, "family": "ipv4", "health_check": check,
            "real_servers": [{"address": "10.0.0.1", "forwarding": "route"}]
        }))
        .expect("valid");
    }
}

#[test]
fn a_real_server_spec_keeps_its_own_check() {
    let key = ServiceKey::parse("udp:192.0.2.53:53").expect("key");
    let spec: RealServerSpec = serde_json::from_value(json!({
        "address": "10.0.0.53", "forwarding": "route",
        "health_check": {"kind": "udp-dns", "dns_name": "health.example"}
    }))
    .expect("shape");
    let server = spec.parse(&key).expect("valid");
    assert_eq!(
        RealServerSpec::from(&server)
            .health_check
            .and_then(|c| c.dns_type),
        Some("A".into())
    );
}

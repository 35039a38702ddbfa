//! Every validation rule of the model, one table row per rule: the input, the exact field
//! path of the error and its message.

use lvs_model::spec::{
    ClusterSpec, DesiredStateSpec, DirectorSpec, RealServerSpec, ServiceSpec, TimeoutsSpec,
};
use lvs_model::{
    DesiredService, DesiredState, Family, FieldError, Fwmark, Port, Protocol, ServiceKey,
    Thresholds, ValidationErrors,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `base` with the keys of `patch` set; a `null` in `patch` removes the key.
fn patched(base: &Value, patch: &Value) -> Value {
    let mut out = base.clone();
    let (Some(out_map), Some(patch_map)) = (out.as_object_mut(), patch.as_object()) else {
        panic!("patched takes two objects");
    };
    for (key, value) in patch_map {
        if value.is_null() {
            out_map.remove(key);
        } else {
            out_map.insert(key.clone(), value.clone());
        }
    }
    out
}

fn from_json<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{value} should deserialise: {e}"))
}

/// A desired-state document from `value`, with the fields a document requires but the
/// case leaves out written as empty: `timeouts`, `services` and each `real_servers`.
fn document(value: &Value) -> DesiredStateSpec {
    let mut value = value.clone();
    let map = value.as_object_mut().expect("a document is an object");
    map.entry("timeouts").or_insert_with(|| json!({}));
    let services = map.entry("services").or_insert_with(|| json!([]));
    for service in services.as_array_mut().expect("services is a list") {
        let service = service.as_object_mut().expect("a service is an object");
        service.entry("real_servers").or_insert_with(|| json!([]));
    }
    from_json(&value)
}

fn tcp80() -> Value {
    json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80})
}

fn udp53_v6() -> Value {
    json!({"protocol": "udp", "address": "2001:db8::1", "port": 53})
}

fn fwmark_v4() -> Value {
    json!({"fwmark": 42, "family": "ipv4"})
}

fn key(s: &str) -> ServiceKey {
    ServiceKey::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn rejected<T: std::fmt::Debug>(
    case: &str,
    result: Result<T, ValidationErrors>,
) -> Vec<FieldError> {
    match result {
        Ok(value) => panic!("{case}: accepted {value:?}"),
        Err(errors) => {
            assert!(!errors.is_empty(), "{case}: an error without field errors");
            errors.into_errors()
        }
    }
}

/// Exactly one error, at `field`, with exactly `message`.
fn assert_single(case: &str, errors: &[FieldError], field: &str, message: &str) {
    assert_eq!(
        errors,
        [FieldError {
            field: field.into(),
            message: message.into()
        }],
        "case {case}"
    );
}

/// A row: case name, patch to the base, field path, exact message.
type Row = (&'static str, Value, &'static str, String);

fn check_service_rows(base: &Value, rows: Vec<Row>) {
    for (case, patch, field, message) in rows {
        let spec: ServiceSpec = from_json(&patched(base, &patch));
        let errors = rejected(case, spec.parse());
        assert_single(case, &errors, field, &message);
    }
}

fn check_real_server_rows(service: &str, base: &Value, rows: Vec<Row>) {
    let service = key(service);
    for (case, patch, field, message) in rows {
        let spec: RealServerSpec = from_json(&patched(base, &patch));
        let errors = rejected(case, spec.parse(&service));
        assert_single(case, &errors, field, &message);
    }
}

fn accepted_service(value: &Value) -> lvs_model::VirtualService {
    let spec: ServiceSpec = from_json(value);
    spec.parse()
        .unwrap_or_else(|e| panic!("{value} should be accepted: {e}"))
}

fn accepted_real_server(service: &str, value: &Value) -> lvs_model::RealServer {
    let spec: RealServerSpec = from_json(value);
    spec.parse(&key(service))
        .unwrap_or_else(|e| panic!("{value} in {service} should be accepted: {e}"))
}

fn s(text: &str) -> String {
    text.to_owned()
}

// ---------------------------------------------------------------------------------------
// Service keys: protocol, address, port, fwmark, family
// ---------------------------------------------------------------------------------------

#[test]
fn service_key_rules() {
    let required = s("required for an address service (or set fwmark and family)");
    check_service_rows(
        &tcp80(),
        vec![
            (
                "port 0",
                json!({"port": 0}),
                "port",
                s("must be between 1 and 65535, not 0"),
            ),
            (
                "port negative",
                json!({"port": -1}),
                "port",
                s("must be between 1 and 65535, not -1"),
            ),
            (
                "port 65536",
                json!({"port": 65536}),
                "port",
                s("must be between 1 and 65535, not 65536"),
            ),
            ("no port", json!({"port": null}), "port", required.clone()),
            (
                "no protocol",
                json!({"protocol": null}),
                "protocol",
                required.clone(),
            ),
            ("no address", json!({"address": null}), "address", required),
            (
                "unknown protocol",
                json!({"protocol": "icmp"}),
                "protocol",
                s(r#"unknown protocol "icmp"; expected one of tcp, udp, sctp"#),
            ),
            (
                "protocol is case-sensitive",
                json!({"protocol": "TCP"}),
                "protocol",
                s(r#"unknown protocol "TCP"; expected one of tcp, udp, sctp"#),
            ),
            (
                "unspecified address",
                json!({"address": "0.0.0.0"}),
                "address",
                s("0.0.0.0 is not a usable virtual address; no packet is sent to it"),
            ),
            (
                "unspecified ipv6 address",
                json!({"address": "::"}),
                "address",
                s(":: is not a usable virtual address; no packet is sent to it"),
            ),
            (
                "multicast",
                json!({"address": "239.1.1.1"}),
                "address",
                s("239.1.1.1 is a multicast address"),
            ),
            (
                "ipv6 multicast",
                json!({"address": "ff05::1"}),
                "address",
                s("ff05::1 is a multicast address"),
            ),
            (
                "broadcast",
                json!({"address": "255.255.255.255"}),
                "address",
                s("255.255.255.255 is the broadcast address"),
            ),
            (
                "ipv4-mapped",
                json!({"address": "::ffff:10.0.0.1"}),
                "address",
                s("::ffff:10.0.0.1 is an IPv4-mapped IPv6 address; write 10.0.0.1 instead"),
            ),
            (
                "not an address",
                json!({"address": "10.0.0"}),
                "address",
                s(r#""10.0.0" is not an IPv4 or IPv6 address"#),
            ),
            (
                "address with brackets",
                json!({"address": "[2001:db8::1]"}),
                "address",
                s(r#""[2001:db8::1]" is not an IPv4 or IPv6 address"#),
            ),
            (
                "family mismatch",
                json!({"family": "ipv6"}),
                "family",
                s("is ipv6 but the address is ipv4"),
            ),
            (
                "unknown family",
                json!({"family": "inet"}),
                "family",
                s(r#"unknown family "inet"; expected one of ipv4, ipv6"#),
            ),
        ],
    );

    check_service_rows(
        &fwmark_v4(),
        vec![
            (
                "fwmark 0",
                json!({"fwmark": 0}),
                "fwmark",
                s("must be between 1 and 4294967295, not 0"),
            ),
            (
                "fwmark -1",
                json!({"fwmark": -1}),
                "fwmark",
                s("must be between 1 and 4294967295, not -1"),
            ),
            (
                "fwmark 2^32",
                json!({"fwmark": 4_294_967_296_i64}),
                "fwmark",
                s("must be between 1 and 4294967295, not 4294967296"),
            ),
            (
                "fwmark without family",
                json!({"family": null}),
                "family",
                s("required for a fwmark service: ipv4 or ipv6"),
            ),
            (
                "fwmark with protocol",
                json!({"protocol": "tcp"}),
                "protocol",
                s("must not be set for a fwmark service"),
            ),
            (
                "fwmark with address",
                json!({"address": "10.0.0.1"}),
                "address",
                s("must not be set for a fwmark service"),
            ),
            (
                "fwmark with port",
                json!({"port": 80}),
                "port",
                s("must not be set for a fwmark service"),
            ),
        ],
    );

    // The ends of the ranges are accepted.
    for (value, expected) in [
        (patched(&tcp80(), &json!({"port": 1})), "tcp:10.0.0.1:1"),
        (
            patched(&tcp80(), &json!({"port": 65535, "protocol": "sctp"})),
            "sctp:10.0.0.1:65535",
        ),
        (
            patched(&udp53_v6(), &json!({"family": "ipv6"})),
            "udp:[2001:db8::1]:53",
        ),
        (
            patched(&fwmark_v4(), &json!({"fwmark": 1})),
            "fwmark:1:ipv4",
        ),
        (
            json!({"fwmark": 4_294_967_295_u32, "family": "ipv6"}),
            "fwmark:4294967295:ipv6",
        ),
    ] {
        assert_eq!(accepted_service(&value).key().to_string(), expected);
    }
}

#[test]
fn fwmark_with_every_address_field_reports_each() {
    let spec: ServiceSpec =
        from_json(&json!({"fwmark": 0, "protocol": "tcp", "address": "10.0.0.1", "port": 80}));
    let errors = rejected("fwmark with everything", spec.parse());
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["protocol", "address", "port", "fwmark", "family"]);
}

// ---------------------------------------------------------------------------------------
// Schedulers and flags
// ---------------------------------------------------------------------------------------

#[test]
fn scheduler_rules() {
    check_service_rows(
        &tcp80(),
        vec![
            (
                "unknown scheduler",
                json!({"scheduler": "random"}),
                "scheduler",
                s(
                    r#"unknown scheduler "random"; expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos"#,
                ),
            ),
            (
                "sh flag with default scheduler",
                json!({"scheduler_flags": ["sh-port"]}),
                "scheduler_flags[0]",
                s("flag sh-port does not apply to scheduler wlc"),
            ),
            (
                "sh flag with rr",
                json!({"scheduler": "rr", "scheduler_flags": ["sh-fallback"]}),
                "scheduler_flags[0]",
                s("flag sh-fallback does not apply to scheduler rr"),
            ),
            (
                "sh flag with mh",
                json!({"scheduler": "mh", "scheduler_flags": ["mh-port", "sh-port"]}),
                "scheduler_flags[1]",
                s("flag sh-port does not apply to scheduler mh"),
            ),
            (
                "mh flag with sh",
                json!({"scheduler": "sh", "scheduler_flags": ["mh-fallback"]}),
                "scheduler_flags[0]",
                s("flag mh-fallback does not apply to scheduler sh"),
            ),
            (
                "mh flag with wrr",
                json!({"scheduler": "wrr", "scheduler_flags": ["mh-port"]}),
                "scheduler_flags[0]",
                s("flag mh-port does not apply to scheduler wrr"),
            ),
            (
                "duplicate sh flag",
                json!({"scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback", "sh-port"]}),
                "scheduler_flags[2]",
                s("flag sh-port is given twice"),
            ),
            (
                "duplicate mh flag",
                json!({"scheduler": "mh", "scheduler_flags": ["mh-fallback", "mh-fallback"]}),
                "scheduler_flags[1]",
                s("flag mh-fallback is given twice"),
            ),
            (
                "unknown flag",
                json!({"scheduler": "sh", "scheduler_flags": ["sh-all"]}),
                "scheduler_flags[0]",
                s(
                    r#"unknown scheduler flag "sh-all"; expected one of sh-fallback, sh-port, mh-fallback, mh-port"#,
                ),
            ),
        ],
    );

    for (scheduler, flags, canonical) in [
        ("sh", json!([]), vec![]),
        (
            "sh",
            json!(["sh-port", "sh-fallback"]),
            vec!["sh-fallback", "sh-port"],
        ),
        ("mh", json!(["mh-port"]), vec!["mh-port"]),
        (
            "mh",
            json!(["mh-port", "mh-fallback"]),
            vec!["mh-fallback", "mh-port"],
        ),
        ("twos", json!([]), vec![]),
    ] {
        let service = accepted_service(&patched(
            &tcp80(),
            &json!({"scheduler": scheduler, "scheduler_flags": flags}),
        ));
        assert_eq!(service.scheduler().name().as_str(), scheduler);
        let spec = ServiceSpec::from(&service);
        assert_eq!(spec.scheduler_flags, canonical, "flags in canonical order");
    }
    // No scheduler: the kernel's default, wlc.
    assert_eq!(
        accepted_service(&tcp80()).scheduler().name().as_str(),
        "wlc"
    );
}

// ---------------------------------------------------------------------------------------
// Persistence, one-packet scheduling, persistence engines
// ---------------------------------------------------------------------------------------

#[test]
fn persistence_rules() {
    check_service_rows(
        &tcp80(),
        vec![
            (
                "netmask without timeout",
                json!({"persistence_netmask": "255.255.255.0"}),
                "persistence_netmask",
                s("needs a persistence_timeout above 0"),
            ),
            (
                "netmask with timeout 0",
                json!({"persistence_timeout": 0, "persistence_netmask": 24}),
                "persistence_netmask",
                s("needs a persistence_timeout above 0"),
            ),
            (
                "non-contiguous ipv4 netmask",
                json!({"persistence_timeout": 300, "persistence_netmask": "255.0.255.0"}),
                "persistence_netmask",
                s("255.0.255.0 is not a contiguous netmask"),
            ),
            (
                "inverted ipv4 netmask",
                json!({"persistence_timeout": 300, "persistence_netmask": "0.0.0.255"}),
                "persistence_netmask",
                s("0.0.0.255 is not a contiguous netmask"),
            ),
            (
                "ipv4 netmask that is not one",
                json!({"persistence_timeout": 300, "persistence_netmask": "/24"}),
                "persistence_netmask",
                s(r#""/24" is not an IPv4 netmask such as 255.255.255.0"#),
            ),
            (
                "ipv4 prefix length 33",
                json!({"persistence_timeout": 300, "persistence_netmask": 33}),
                "persistence_netmask",
                s("an IPv4 prefix length must be between 0 and 32, not 33"),
            ),
            (
                "timeout negative",
                json!({"persistence_timeout": -1}),
                "persistence_timeout",
                s("must be between 0 and 4294967 seconds, not -1"),
            ),
            (
                "timeout above maximum",
                json!({"persistence_timeout": 4_294_968}),
                "persistence_timeout",
                s("must be between 0 and 4294967 seconds, not 4294968"),
            ),
        ],
    );

    check_service_rows(
        &udp53_v6(),
        vec![
            (
                "ipv6 netmask 0",
                json!({"persistence_timeout": 300, "persistence_netmask": 0}),
                "persistence_netmask",
                s("an IPv6 prefix length must be between 1 and 128"),
            ),
            (
                "ipv6 netmask text 0",
                json!({"persistence_timeout": 300, "persistence_netmask": "/0"}),
                "persistence_netmask",
                s("an IPv6 prefix length must be between 1 and 128"),
            ),
            (
                "ipv6 netmask 129",
                json!({"persistence_timeout": 300, "persistence_netmask": 129}),
                "persistence_netmask",
                s("an IPv6 prefix length must be between 1 and 128, not 129"),
            ),
            (
                "ipv6 dotted netmask",
                json!({"persistence_timeout": 300, "persistence_netmask": "ffff:ffff::"}),
                "persistence_netmask",
                s(r#""ffff:ffff::" is not an IPv6 prefix length such as 64"#),
            ),
            (
                "ipv6 netmask without timeout",
                json!({"persistence_netmask": 64}),
                "persistence_netmask",
                s("needs a persistence_timeout above 0"),
            ),
        ],
    );

    // Accepted netmasks, normalised to a prefix length.
    for (base, timeout, mask, prefix) in [
        (tcp80(), 300, None, 32),
        (tcp80(), 1, Some(json!("255.255.255.0")), 24),
        (tcp80(), 4_294_967, Some(json!("0.0.0.0")), 0),
        (tcp80(), 300, Some(json!("255.255.255.255")), 32),
        (tcp80(), 300, Some(json!("128.0.0.0")), 1),
        (tcp80(), 300, Some(json!(16)), 16),
        (udp53_v6(), 300, None, 128),
        (udp53_v6(), 300, Some(json!(1)), 1),
        (udp53_v6(), 300, Some(json!(128)), 128),
        (udp53_v6(), 300, Some(json!("64")), 64),
        (udp53_v6(), 300, Some(json!("/48")), 48),
    ] {
        let mut patch = json!({"persistence_timeout": timeout});
        if let Some(mask) = mask {
            patch["persistence_netmask"] = mask;
        }
        let service = accepted_service(&patched(&base, &patch));
        let persistence = service.persistence().expect("persistence on");
        assert_eq!(
            (persistence.timeout(), persistence.prefix_len()),
            (timeout, prefix),
            "{patch}"
        );
    }
    assert_eq!(accepted_service(&tcp80()).persistence(), None);
}

#[test]
fn one_packet_and_persistence_engine_rules() {
    let udp_only = s("applies only to udp and fwmark services");
    let sip_udp = s("sip works on udp packets only: use a udp or fwmark service");
    check_service_rows(
        &tcp80(),
        vec![
            (
                "one_packet on tcp",
                json!({"one_packet": true}),
                "one_packet",
                udp_only.clone(),
            ),
            (
                "one_packet on sctp",
                json!({"protocol": "sctp", "one_packet": true}),
                "one_packet",
                udp_only,
            ),
            (
                "sip on tcp",
                json!({"persistence_engine": "sip", "persistence_timeout": 60}),
                "persistence_engine",
                sip_udp.clone(),
            ),
            (
                "sip on sctp",
                json!({"protocol": "sctp", "persistence_engine": "sip", "persistence_timeout": 60}),
                "persistence_engine",
                sip_udp,
            ),
            (
                "sip without persistence",
                json!({"protocol": "udp", "persistence_engine": "sip"}),
                "persistence_engine",
                s("needs a persistence_timeout above 0"),
            ),
            (
                "unknown engine",
                json!({"protocol": "udp", "persistence_engine": "http", "persistence_timeout": 60}),
                "persistence_engine",
                s(r#"unknown persistence engine "http"; expected one of sip"#),
            ),
        ],
    );
    check_service_rows(
        &fwmark_v4(),
        vec![(
            "sip on fwmark without persistence",
            json!({"persistence_engine": "sip"}),
            "persistence_engine",
            s("needs a persistence_timeout above 0"),
        )],
    );

    for value in [
        patched(&tcp80(), &json!({"protocol": "udp", "one_packet": true})),
        patched(&fwmark_v4(), &json!({"one_packet": true})),
        patched(
            &tcp80(),
            &json!({"protocol": "udp", "persistence_engine": "sip", "persistence_timeout": 1}),
        ),
        patched(
            &fwmark_v4(),
            &json!({"persistence_engine": "sip", "persistence_timeout": 60, "one_packet": true}),
        ),
    ] {
        let service = accepted_service(&value);
        assert_eq!(service.one_packet(), value["one_packet"] == json!(true));
        assert_eq!(
            service.persistence_engine().is_some(),
            value.get("persistence_engine").is_some()
        );
    }
}

#[test]
fn label_rules() {
    check_service_rows(
        &tcp80(),
        vec![
            (
                "name with newline",
                json!({"name": "a\nb"}),
                "name",
                s("must be one line without control characters"),
            ),
            (
                "name with tab",
                json!({"name": "a\tb"}),
                "name",
                s("must be one line without control characters"),
            ),
            (
                "name too long",
                json!({"name": "é".repeat(101)}),
                "name",
                s("must be at most 100 characters"),
            ),
            (
                "description with bell",
                json!({"description": "a\u{7}b"}),
                "description",
                s("must not contain control characters other than newline and tab"),
            ),
            (
                "description too long",
                json!({"description": "x".repeat(2001)}),
                "description",
                s("must be at most 2000 characters"),
            ),
        ],
    );
    let service = accepted_service(&patched(
        &tcp80(),
        &json!({"name": "é".repeat(100), "description": format!("{}\n\tend", "ü".repeat(1995))}),
    ));
    assert_eq!(service.name().as_str().chars().count(), 100);
    assert_eq!(service.description().as_str().chars().count(), 2000);
}

// ---------------------------------------------------------------------------------------
// Real servers
// ---------------------------------------------------------------------------------------

fn masq_server() -> Value {
    json!({"address": "10.1.0.11", "forwarding": "masq"})
}

#[test]
fn real_server_port_rules() {
    let cannot_map = |method: &str| {
        format!(
            "{method} forwarding cannot map ports (only masq can): must equal the service port 80"
        )
    };
    let keeps = |method: &str| {
        format!("{method} forwarding keeps the packet's destination port; use port 0 in a fwmark service")
    };
    check_real_server_rows(
        "tcp:10.0.0.1:80",
        &masq_server(),
        vec![
            (
                "masq port 0",
                json!({"port": 0}),
                "port",
                s("port 0 is allowed only in fwmark services"),
            ),
            (
                "route port 0",
                json!({"forwarding": "route", "port": 0}),
                "port",
                s("port 0 is allowed only in fwmark services"),
            ),
            (
                "port 65536",
                json!({"port": 65536}),
                "port",
                s("must be between 0 and 65535, not 65536"),
            ),
            (
                "port negative",
                json!({"port": -80}),
                "port",
                s("must be between 0 and 65535, not -80"),
            ),
            (
                "route maps",
                json!({"forwarding": "route", "port": 8080}),
                "port",
                cannot_map("route"),
            ),
            (
                "tunnel maps",
                json!({"forwarding": "tunnel", "port": 81}),
                "port",
                cannot_map("tunnel"),
            ),
            (
                "local maps",
                json!({"forwarding": "local", "port": 79}),
                "port",
                cannot_map("local"),
            ),
        ],
    );
    check_real_server_rows(
        "fwmark:7:ipv4",
        &masq_server(),
        vec![
            (
                "fwmark route with port",
                json!({"forwarding": "route", "port": 80}),
                "port",
                keeps("route"),
            ),
            (
                "fwmark tunnel with port",
                json!({"forwarding": "tunnel", "port": 443}),
                "port",
                keeps("tunnel"),
            ),
            (
                "fwmark local with port",
                json!({"forwarding": "local", "port": 1}),
                "port",
                keeps("local"),
            ),
        ],
    );

    // What is allowed: masq maps ports; the others keep the service's port, which is the
    // default; fwmark services use port 0 unless masq maps to a fixed one.
    for (service, patch, port) in [
        ("tcp:10.0.0.1:80", json!({}), 80),
        ("tcp:10.0.0.1:80", json!({"port": 8080}), 8080),
        ("tcp:10.0.0.1:80", json!({"port": 65535}), 65535),
        ("tcp:10.0.0.1:80", json!({"port": 1}), 1),
        ("tcp:10.0.0.1:80", json!({"forwarding": "route"}), 80),
        (
            "tcp:10.0.0.1:80",
            json!({"forwarding": "route", "port": 80}),
            80,
        ),
        (
            "tcp:10.0.0.1:80",
            json!({"forwarding": "local", "port": 80}),
            80,
        ),
        ("tcp:10.0.0.1:80", json!({"forwarding": "tunnel"}), 80),
        ("fwmark:7:ipv4", json!({}), 0),
        ("fwmark:7:ipv4", json!({"port": 8080}), 8080),
        ("fwmark:7:ipv4", json!({"forwarding": "route"}), 0),
        (
            "fwmark:7:ipv4",
            json!({"forwarding": "route", "port": 0}),
            0,
        ),
        (
            "fwmark:7:ipv4",
            json!({"forwarding": "tunnel", "port": 0}),
            0,
        ),
    ] {
        let server = accepted_real_server(service, &patched(&masq_server(), &patch));
        assert_eq!(server.port(), port, "{service} {patch}");
    }
}

#[test]
fn real_server_address_and_family_rules() {
    let cross = |server: &str, service: &str| {
        format!(
            "an {server} real server in an {service} service needs tunnel forwarding; \
             only tunnels cross address families"
        )
    };
    check_real_server_rows(
        "tcp:10.0.0.1:80",
        &masq_server(),
        vec![
            (
                "no address",
                json!({"address": null}),
                "address",
                s("required"),
            ),
            (
                "unspecified",
                json!({"address": "0.0.0.0"}),
                "address",
                s("0.0.0.0 is not a unicast address"),
            ),
            (
                "multicast",
                json!({"address": "224.0.0.5"}),
                "address",
                s("224.0.0.5 is a multicast address"),
            ),
            (
                "broadcast",
                json!({"address": "255.255.255.255"}),
                "address",
                s("255.255.255.255 is the broadcast address"),
            ),
            (
                "ipv6 in ipv4 masq",
                json!({"address": "2001:db8::2"}),
                "address",
                cross("ipv6", "ipv4"),
            ),
            (
                "ipv6 in ipv4 route",
                json!({"address": "2001:db8::2", "forwarding": "route"}),
                "address",
                cross("ipv6", "ipv4"),
            ),
            (
                "ipv6 in ipv4 local",
                json!({"address": "2001:db8::2", "forwarding": "local"}),
                "address",
                cross("ipv6", "ipv4"),
            ),
        ],
    );
    check_real_server_rows(
        "udp:[2001:db8::1]:53",
        &json!({"address": "2001:db8::2", "forwarding": "route"}),
        vec![
            (
                "link-local",
                json!({"address": "fe80::1"}),
                "address",
                s("fe80::1 is link-local; IPVS takes link-local real servers only on the director itself, and they cannot be routed to"),
            ),
            (
                "link-local upper end",
                json!({"address": "febf::1"}),
                "address",
                s("febf::1 is link-local; IPVS takes link-local real servers only on the director itself, and they cannot be routed to"),
            ),
            (
                "unspecified",
                json!({"address": "::"}),
                "address",
                s(":: is not a unicast address"),
            ),
            (
                "multicast",
                json!({"address": "ff02::1"}),
                "address",
                s("ff02::1 is a multicast address"),
            ),
            (
                "ipv4-mapped",
                json!({"address": "::ffff:192.0.2.1"}),
                "address",
                s("::ffff:192.0.2.1 is an IPv4-mapped IPv6 address; write 192.0.2.1 instead"),
            ),
            (
                "ipv4 in ipv6 route",
                json!({"address": "10.0.0.2"}),
                "address",
                cross("ipv4", "ipv6"),
            ),
        ],
    );
    check_real_server_rows(
        "fwmark:9:ipv6",
        &json!({"address": "2001:db8::2", "forwarding": "masq"}),
        vec![(
            "ipv4 in ipv6 fwmark",
            json!({"address": "10.0.0.2"}),
            "address",
            cross("ipv4", "ipv6"),
        )],
    );

    // Tunnels cross families, both ways and with every encapsulation.
    for (service, patch) in [
        (
            "tcp:10.0.0.1:80",
            json!({"address": "2001:db8::2", "forwarding": "tunnel"}),
        ),
        (
            "udp:[2001:db8::1]:53",
            json!({"address": "10.0.0.2", "forwarding": "tunnel", "tunnel_type": "gre"}),
        ),
        (
            "fwmark:9:ipv6",
            json!({"address": "10.0.0.2", "forwarding": "tunnel", "tunnel_type": "gue", "tunnel_port": 6080}),
        ),
    ] {
        accepted_real_server(service, &patched(&masq_server(), &patch));
    }
    // Local and loopback real servers are unicast as far as the kernel is concerned.
    accepted_real_server(
        "tcp:10.0.0.1:80",
        &json!({"address": "127.0.0.1", "forwarding": "local"}),
    );
    accepted_real_server(
        "udp:[2001:db8::1]:53",
        &json!({"address": "::1", "forwarding": "local"}),
    );
}

#[test]
fn real_server_forwarding_and_tunnel_rules() {
    let not_tunnel = |method: &str| format!("applies only to tunnel forwarding, not {method}");
    check_real_server_rows(
        "tcp:10.0.0.1:80",
        &json!({"address": "10.1.0.11", "forwarding": "tunnel"}),
        vec![
            (
                "no forwarding",
                json!({"forwarding": null}),
                "forwarding",
                s("required: one of masq, route, tunnel, local"),
            ),
            (
                "unknown forwarding",
                json!({"forwarding": "dr"}),
                "forwarding",
                s(r#"unknown forwarding method "dr"; expected one of masq, route, tunnel, local"#),
            ),
            (
                "tunnel_type with masq",
                json!({"forwarding": "masq", "tunnel_type": "ipip"}),
                "tunnel_type",
                not_tunnel("masq"),
            ),
            (
                "tunnel_port with route",
                json!({"forwarding": "route", "tunnel_port": 6080}),
                "tunnel_port",
                not_tunnel("route"),
            ),
            (
                "tunnel_checksum with local",
                json!({"forwarding": "local", "tunnel_checksum": "csum"}),
                "tunnel_checksum",
                not_tunnel("local"),
            ),
            (
                "unknown tunnel type",
                json!({"tunnel_type": "vxlan"}),
                "tunnel_type",
                s(r#"unknown tunnel type "vxlan"; expected one of ipip, gue, gre"#),
            ),
            (
                "gue without port",
                json!({"tunnel_type": "gue"}),
                "tunnel_port",
                s("required for gue tunnels"),
            ),
            (
                "gue port 0",
                json!({"tunnel_type": "gue", "tunnel_port": 0}),
                "tunnel_port",
                s("must be between 1 and 65535, not 0"),
            ),
            (
                "gue port 65536",
                json!({"tunnel_type": "gue", "tunnel_port": 65536}),
                "tunnel_port",
                s("must be between 1 and 65535, not 65536"),
            ),
            (
                "unknown checksum",
                json!({"tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "crc"}),
                "tunnel_checksum",
                s(r#"unknown tunnel checksum mode "crc"; expected one of nocsum, csum, remcsum"#),
            ),
            (
                "gre with remcsum",
                json!({"tunnel_type": "gre", "tunnel_checksum": "remcsum"}),
                "tunnel_checksum",
                s("remcsum applies only to gue tunnels"),
            ),
            (
                "gre with port",
                json!({"tunnel_type": "gre", "tunnel_port": 6080}),
                "tunnel_port",
                s("applies only to gue tunnels"),
            ),
            (
                "ipip with port",
                json!({"tunnel_port": 6080}),
                "tunnel_port",
                s("applies only to gue tunnels"),
            ),
            (
                "ipip with csum",
                json!({"tunnel_type": "ipip", "tunnel_checksum": "csum"}),
                "tunnel_checksum",
                s("applies only to gue and gre tunnels"),
            ),
            (
                "default ipip with nocsum",
                json!({"tunnel_checksum": "nocsum"}),
                "tunnel_checksum",
                s("applies only to gue and gre tunnels"),
            ),
        ],
    );

    // Every tunnel field at once on masq: three errors, in field order.
    let spec: RealServerSpec = from_json(&json!({
        "address": "10.1.0.11", "forwarding": "masq",
        "tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "csum"
    }));
    let errors = rejected(
        "all tunnel fields on masq",
        spec.parse(&key("tcp:10.0.0.1:80")),
    );
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["tunnel_type", "tunnel_port", "tunnel_checksum"]);

    // Accepted tunnels and their canonical specs.
    for (patch, kind, port, checksum) in [
        (json!({}), "ipip", None, None),
        (json!({"tunnel_type": "ipip"}), "ipip", None, None),
        (
            json!({"tunnel_type": "gue", "tunnel_port": 1}),
            "gue",
            Some(1),
            Some("nocsum"),
        ),
        (
            json!({"tunnel_type": "gue", "tunnel_port": 65535, "tunnel_checksum": "remcsum"}),
            "gue",
            Some(65535),
            Some("remcsum"),
        ),
        (
            json!({"tunnel_type": "gue", "tunnel_port": 6080, "tunnel_checksum": "csum"}),
            "gue",
            Some(6080),
            Some("csum"),
        ),
        (json!({"tunnel_type": "gre"}), "gre", None, Some("nocsum")),
        (
            json!({"tunnel_type": "gre", "tunnel_checksum": "csum"}),
            "gre",
            None,
            Some("csum"),
        ),
    ] {
        let server = accepted_real_server(
            "tcp:10.0.0.1:80",
            &patched(
                &json!({"address": "10.1.0.11", "forwarding": "tunnel"}),
                &patch,
            ),
        );
        let spec = RealServerSpec::from(&server);
        assert_eq!(spec.tunnel_type.as_deref(), Some(kind), "{patch}");
        assert_eq!(spec.tunnel_port, port, "{patch}");
        assert_eq!(spec.tunnel_checksum.as_deref(), checksum, "{patch}");
    }
}

#[test]
fn real_server_weight_threshold_and_state_rules() {
    check_real_server_rows(
        "tcp:10.0.0.1:80",
        &masq_server(),
        vec![
            (
                "weight 65536",
                json!({"weight": 65536}),
                "weight",
                s("must be between 0 and 65535, not 65536"),
            ),
            (
                "weight -1",
                json!({"weight": -1}),
                "weight",
                s("must be between 0 and 65535, not -1"),
            ),
            (
                "lower above upper",
                json!({"upper_threshold": 10, "lower_threshold": 11}),
                "lower_threshold",
                s("must not exceed upper_threshold (10)"),
            ),
            (
                "lower without upper",
                json!({"lower_threshold": 1}),
                "lower_threshold",
                s("must not exceed upper_threshold (0)"),
            ),
            (
                "upper 2^32",
                json!({"upper_threshold": 4_294_967_296_i64}),
                "upper_threshold",
                s("must be between 0 and 2147483647, not 4294967296"),
            ),
            (
                // The kernel refuses thresholds above INT_MAX with EINVAL.
                "upper 2^31",
                json!({"upper_threshold": 2_147_483_648_i64}),
                "upper_threshold",
                s("must be between 0 and 2147483647, not 2147483648"),
            ),
            (
                "lower negative",
                json!({"lower_threshold": -1}),
                "lower_threshold",
                s("must be between 0 and 2147483647, not -1"),
            ),
            (
                "unknown state",
                json!({"state": "disabled"}),
                "state",
                s(r#"unknown state "disabled"; expected one of active, drained"#),
            ),
            (
                "description with escape",
                json!({"description": "\u{1b}[31m"}),
                "description",
                s("must not contain control characters other than newline and tab"),
            ),
        ],
    );

    for (patch, weight, effective, upper, lower) in [
        (json!({}), 1, 1, 0, 0),
        (json!({"weight": 0}), 0, 0, 0, 0),
        (json!({"weight": 65535}), 65535, 65535, 0, 0),
        (json!({"weight": 5, "state": "drained"}), 5, 0, 0, 0),
        (json!({"weight": 5, "state": "active"}), 5, 5, 0, 0),
        (
            json!({"upper_threshold": 10, "lower_threshold": 10}),
            1,
            1,
            10,
            10,
        ),
        (
            json!({"upper_threshold": 2_147_483_647, "lower_threshold": 2_147_483_647}),
            1,
            1,
            Thresholds::MAX,
            Thresholds::MAX,
        ),
        (json!({"upper_threshold": 10}), 1, 1, 10, 0),
    ] {
        let server = accepted_real_server("tcp:10.0.0.1:80", &patched(&masq_server(), &patch));
        assert_eq!(server.weight().get(), weight, "{patch}");
        assert_eq!(server.effective_weight().get(), effective, "{patch}");
        assert_eq!(
            (server.thresholds().upper(), server.thresholds().lower()),
            (upper, lower),
            "{patch}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Timeouts, clusters and directors
// ---------------------------------------------------------------------------------------

#[test]
fn timeout_rules() {
    for (field, raw) in [
        ("tcp", 0_i64),
        ("tcpfin", -1),
        ("udp", 2_147_484),
        ("tcp", 4_294_967_296),
    ] {
        let spec: TimeoutsSpec = from_json(&json!({ field: raw }));
        let errors = rejected(field, spec.parse());
        assert_single(
            field,
            &errors,
            field,
            &format!("must be between 1 and 2147483 seconds, not {raw}"),
        );

        let state = document(&json!({"timeouts": { field: raw }}));
        let errors = rejected(field, state.parse());
        assert_single(
            field,
            &errors,
            &format!("timeouts.{field}"),
            &format!("must be between 1 and 2147483 seconds, not {raw}"),
        );
    }
    let spec: TimeoutsSpec = from_json(&json!({"tcp": 1, "tcpfin": 2_147_483, "udp": null}));
    let timeouts = spec.parse().expect("valid timeouts");
    assert_eq!(timeouts.tcp.map(|t| t.get()), Some(1));
    assert_eq!(timeouts.tcpfin.map(|t| t.get()), Some(2_147_483));
    assert_eq!(timeouts.udp, None);
    assert!(TimeoutsSpec::default().parse().expect("empty").is_empty());
}

#[test]
fn cluster_and_director_name_rules() {
    let rows = [
        (json!({}), "name", "required"),
        (json!({"name": ""}), "name", "must not be empty"),
        (
            json!({"name": "Prod"}),
            "name",
            "may contain only lowercase letters, digits and '-'",
        ),
        (
            json!({"name": "prod_web"}),
            "name",
            "may contain only lowercase letters, digits and '-'",
        ),
        (
            json!({"name": "prod.web"}),
            "name",
            "may contain only lowercase letters, digits and '-'",
        ),
        (
            json!({"name": "prödweb"}),
            "name",
            "may contain only lowercase letters, digits and '-'",
        ),
        (
            json!({"name": "-prod"}),
            "name",
            "must not start or end with '-'",
        ),
        (
            json!({"name": "prod-"}),
            "name",
            "must not start or end with '-'",
        ),
        (
            json!({"name": "a".repeat(64)}),
            "name",
            "must be at most 63 characters",
        ),
        (
            json!({"name": "ok", "description": "a\u{0}b"}),
            "description",
            "must not contain control characters other than newline and tab",
        ),
    ];
    for (value, field, message) in &rows {
        let cluster: ClusterSpec = from_json(value);
        assert_single(
            &format!("cluster {value}"),
            &rejected("cluster", cluster.parse()),
            field,
            message,
        );
        let director: DirectorSpec = from_json(value);
        assert_single(
            &format!("director {value}"),
            &rejected("director", director.parse()),
            field,
            message,
        );
    }

    let cluster: ClusterSpec = from_json(&json!({"name": "prod", "timeouts": {"tcpfin": 0}}));
    assert_single(
        "cluster timeouts",
        &rejected("cluster timeouts", cluster.parse()),
        "timeouts.tcpfin",
        "must be between 1 and 2147483 seconds, not 0",
    );

    for name in ["a", "0", "prod-web-1", "1-2", &"a".repeat(63)] {
        let cluster: ClusterSpec = from_json(
            &json!({"name": name, "description": "Web\n\tfrontends ✓", "timeouts": {"tcp": 900}}),
        );
        let settings = cluster.parse().expect("valid cluster");
        assert_eq!(settings.name.as_str(), name);
        assert_eq!(settings.timeouts.tcp.map(|t| t.get()), Some(900));
        let director: DirectorSpec = from_json(&json!({"name": name}));
        assert_eq!(
            director.parse().expect("valid director").name.as_str(),
            name
        );
    }

    // Both errors at once.
    let cluster: ClusterSpec =
        from_json(&json!({"name": "", "description": "\u{7}", "timeouts": {"udp": 0}}));
    let errors = rejected("cluster", cluster.parse());
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "description", "timeouts.udp"]);
}

// ---------------------------------------------------------------------------------------
// Desired-state documents: duplicates and nested paths
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_services_name_the_key() {
    for (services, field, message) in [
        (
            json!([tcp80(), {"protocol": "udp", "address": "10.0.0.1", "port": 80}, tcp80()]),
            "services[2]",
            "duplicate service tcp:10.0.0.1:80",
        ),
        (
            // Two spellings of one address are one service.
            json!([udp53_v6(), {"protocol": "udp", "address": "2001:0DB8:0:0::1", "port": 53}]),
            "services[1]",
            "duplicate service udp:[2001:db8::1]:53",
        ),
        (
            json!([fwmark_v4(), {"fwmark": 42, "family": "ipv6"}, {"fwmark": 42, "family": "ipv4", "scheduler": "rr"}]),
            "services[2]",
            "duplicate service fwmark:42:ipv4",
        ),
    ] {
        let spec = document(&json!({ "services": services }));
        assert_single(message, &rejected(message, spec.parse()), field, message);
    }
}

#[test]
fn duplicate_real_servers_in_a_service() {
    for (service, servers, field, message) in [
        (
            tcp80(),
            // The default port is the service's port, so these two are the same server.
            json!([
                {"address": "10.1.0.11", "forwarding": "masq"},
                {"address": "10.1.0.12", "forwarding": "masq"},
                {"address": "10.1.0.11", "port": 80, "forwarding": "route", "weight": 3}
            ]),
            "services[0].real_servers[2]",
            "duplicate real server 10.1.0.11:80",
        ),
        (
            udp53_v6(),
            json!([
                {"address": "2001:db8::2", "forwarding": "masq", "port": 5353},
                {"address": "2001:db8:0::2", "forwarding": "masq", "port": 5353}
            ]),
            "services[0].real_servers[1]",
            "duplicate real server [2001:db8::2]:5353",
        ),
        (
            fwmark_v4(),
            json!([
                {"address": "10.1.0.11", "forwarding": "route"},
                {"address": "10.1.0.11", "forwarding": "masq", "port": 0}
            ]),
            "services[0].real_servers[1]",
            "duplicate real server 10.1.0.11:0",
        ),
    ] {
        let spec = document(
            &json!({ "services": [patched(&service, &json!({"real_servers": servers}))] }),
        );
        assert_single(message, &rejected(message, spec.parse()), field, message);
    }
    // The same address on two ports is two real servers (masq maps ports).
    let spec = document(
        &json!({"services": [patched(&tcp80(), &json!({"real_servers": [
            {"address": "10.1.0.11", "forwarding": "masq", "port": 8080},
            {"address": "10.1.0.11", "forwarding": "masq", "port": 8081},
        ]}))]}),
    );
    assert_eq!(spec.parse().expect("two ports").real_server_count(), 2);
}

#[test]
fn a_document_must_write_out_what_it_replaces() {
    // Absence never means "none": one dropped key would otherwise drain a cluster.
    for (case, value) in [
        ("empty", json!({})),
        ("timeouts only", json!({"timeouts": {}})),
        ("a timeout only", json!({"timeouts": {"tcp": 901}})),
    ] {
        let spec: DesiredStateSpec = from_json(&value);
        let errors = rejected(case, spec.parse());
        let services = errors.iter().find(|e| e.field == "services");
        let message = services.map(|e| e.message.as_str()).unwrap_or_default();
        assert!(message.starts_with("required: "), "{case}: {errors:?}");
        assert!(message.contains(r#""services": []"#), "{case}: {message}");
    }

    // Every missing field is reported with the other errors.
    let spec: DesiredStateSpec = from_json(&json!({"services": [
        patched(&tcp80(), &json!({"real_servers": []})),
        patched(&tcp80(), &json!({"port": 0})),
        patched(&tcp80(), &json!({"port": 443})),
    ]}));
    let errors = rejected("missing fields", spec.parse());
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "timeouts",
            "services[1].real_servers",
            "services[1].port",
            "services[2].real_servers"
        ]
    );
    assert!(errors[0].message.starts_with("required: "), "{errors:?}");
    assert!(
        errors[1].message.contains(r#""real_servers": []"#),
        "{errors:?}"
    );

    // A service may still be created without its pool: that deletes nothing.
    let service: ServiceSpec = from_json(&tcp80());
    assert!(DesiredService::parse(&service).is_ok());
}

#[test]
fn a_document_written_out_as_empty_empties_the_cluster() {
    let spec: DesiredStateSpec = from_json(&json!({"timeouts": {}, "services": []}));
    let state = spec.parse().expect("an explicit empty document");
    assert_eq!(state.services().count(), 0);
    assert_eq!(state.timeouts, Default::default());
    let spec: DesiredStateSpec =
        from_json(&json!({"timeouts": {"tcp": null, "tcpfin": null, "udp": null}, "services": []}));
    assert!(spec.parse().is_ok(), "null timeouts are written out");
}

#[test]
fn every_error_of_a_document_at_once_with_nested_paths() {
    let spec = document(&json!({
        "cluster": "prod",
        "generation": 7,
        "timeouts": {"tcp": 0, "udp": 60},
        "services": [
            patched(&tcp80(), &json!({"real_servers": [{"address": "10.1.0.11", "forwarding": "masq"}]})),
            patched(&tcp80(), &json!({"port": 443, "scheduler": "rr", "scheduler_flags": ["sh-port"], "real_servers": [
                {"address": "10.1.0.11", "forwarding": "route", "port": 8443},
                {"address": "10.1.0.12", "forwarding": "masq", "weight": 70000, "upper_threshold": 1, "lower_threshold": 2},
                {"address": "fe80::1", "forwarding": "tunnel", "tunnel_type": "gue"},
            ]})),
            {"protocol": "tcp", "address": "10.0.0.1", "port": 0, "one_packet": true},
            patched(&fwmark_v4(), &json!({"real_servers": [
                {"address": "10.1.0.11", "forwarding": "route", "port": 80, "tunnel_port": 1},
                {"address": "2001:db8::9", "forwarding": "masq"},
            ]})),
        ],
    }));
    let errors = rejected("document", spec.parse());
    let expected = [
        ("timeouts.tcp", "must be between 1 and 2147483 seconds, not 0"),
        ("services[1].scheduler_flags[0]", "flag sh-port does not apply to scheduler rr"),
        // The key is valid, so the real servers are checked despite the bad flag.
        ("services[1].real_servers[0].port", "route forwarding cannot map ports (only masq can): must equal the service port 443"),
        ("services[1].real_servers[1].weight", "must be between 0 and 65535, not 70000"),
        ("services[1].real_servers[1].lower_threshold", "must not exceed upper_threshold (1)"),
        ("services[1].real_servers[2].address", "fe80::1 is link-local; IPVS takes link-local real servers only on the director itself, and they cannot be routed to"),
        ("services[1].real_servers[2].tunnel_port", "required for gue tunnels"),
        ("services[2].port", "must be between 1 and 65535, not 0"),
        ("services[3].real_servers[0].tunnel_port", "applies only to tunnel forwarding, not route"),
        ("services[3].real_servers[1].address", "an ipv6 real server in an ipv4 service needs tunnel forwarding; only tunnels cross address families"),
    ];
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(got, expected);

    // With the service itself valid, its real servers' errors are all reported.
    let spec = document(&json!({
        "services": [
            tcp80(),
            patched(&tcp80(), &json!({"port": 443, "real_servers": [
                {"address": "10.1.0.11", "forwarding": "route", "port": 8443},
                {"address": "10.1.0.12", "forwarding": "masq", "weight": 70000, "upper_threshold": 1, "lower_threshold": 2},
                {"address": "fe80::1", "forwarding": "tunnel", "tunnel_type": "gue"},
            ]})),
        ],
    }));
    let errors = rejected("real servers", spec.parse());
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("services[1].real_servers[0].port", "route forwarding cannot map ports (only masq can): must equal the service port 443"),
            ("services[1].real_servers[1].weight", "must be between 0 and 65535, not 70000"),
            ("services[1].real_servers[1].lower_threshold", "must not exceed upper_threshold (1)"),
            ("services[1].real_servers[2].address", "fe80::1 is link-local; IPVS takes link-local real servers only on the director itself, and they cannot be routed to"),
            ("services[1].real_servers[2].tunnel_port", "required for gue tunnels"),
        ]
    );
    // The Display form lists every error with its path.
    let text = spec.parse().expect_err("invalid").to_string();
    assert!(
        text.starts_with("services[1].real_servers[0].port: route forwarding"),
        "{text}"
    );
    assert_eq!(text.matches("; services[1]").count(), 4, "{text}");

    // A service's own errors through `DesiredService::parse`, without a leading separator.
    let spec: ServiceSpec = from_json(
        &json!({"protocol": "tcp", "address": "10.0.0.1", "real_servers": [
            {"address": "10.1.0.11"}
        ]}),
    );
    let errors = rejected("service", DesiredService::parse(&spec));
    assert_single(
        "service",
        &errors,
        "port",
        "required for an address service (or set fwmark and family)",
    );
    let spec: ServiceSpec = from_json(&patched(
        &tcp80(),
        &json!({"real_servers": [{"address": "10.1.0.11"}]}),
    ));
    let errors = rejected("service", DesiredService::parse(&spec));
    assert_single(
        "service",
        &errors,
        "real_servers[0].forwarding",
        "required: one of masq, route, tunnel, local",
    );
}

#[test]
fn desired_state_deserialises_only_valid_documents() {
    let error = serde_json::from_value::<DesiredState>(
        json!({"services": [{"protocol": "tcp", "address": "10.0.0.1", "port": 0}]}),
    )
    .expect_err("invalid port");
    assert!(
        error
            .to_string()
            .contains("services[0].port: must be between 1 and 65535, not 0"),
        "{error}"
    );
    let state: DesiredState = from_json(&json!({"generation": 3, "timeouts": {},
        "services": [patched(&tcp80(), &json!({"real_servers": []}))]}));
    assert_eq!((state.generation, state.services().len()), (3, 1));
    let empty: DesiredState = from_json(&json!({"timeouts": {}, "services": []}));
    assert_eq!(empty, DesiredState::default());
    let error = serde_json::from_value::<DesiredState>(json!({})).expect_err("no services");
    assert!(error.to_string().contains("services: required"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Unknown fields
// ---------------------------------------------------------------------------------------

fn assert_unknown_field<T: DeserializeOwned + std::fmt::Debug>(value: Value, field: &str) {
    let text = value.to_string();
    let error = serde_json::from_value::<T>(value).expect_err("unknown field");
    assert!(
        error
            .to_string()
            .contains(&format!("unknown field `{field}`")),
        "{text}: {error}"
    );
}

#[test]
fn unknown_fields_are_rejected() {
    assert_unknown_field::<ServiceSpec>(
        patched(&tcp80(), &json!({"schedular": "rr"})),
        "schedular",
    );
    assert_unknown_field::<ServiceSpec>(
        patched(&tcp80(), &json!({"persistent": 300})),
        "persistent",
    );
    assert_unknown_field::<RealServerSpec>(
        patched(&masq_server(), &json!({"wieght": 2})),
        "wieght",
    );
    assert_unknown_field::<DesiredStateSpec>(json!({"service": []}), "service");
    assert_unknown_field::<DesiredStateSpec>(json!({"timeouts": {"tcp_fin": 5}}), "tcp_fin");
    assert_unknown_field::<DesiredStateSpec>(
        json!({"services": [patched(&tcp80(), &json!({"real_servers": [patched(&masq_server(), &json!({"mode": "nat"}))]}))]}),
        "mode",
    );
    assert_unknown_field::<DesiredState>(json!({"generaton": 1}), "generaton");
    assert_unknown_field::<TimeoutsSpec>(json!({"sctp": 5}), "sctp");
    assert_unknown_field::<ClusterSpec>(json!({"name": "prod", "directors": []}), "directors");
    assert_unknown_field::<DirectorSpec>(json!({"name": "lb1", "address": "10.0.0.5"}), "address");
}

#[test]
fn wrong_json_types_are_rejected_by_serde() {
    for value in [
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": "80"}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80.5}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "one_packet": "yes"}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler_flags": "sh-port"}),
    ] {
        assert!(
            serde_json::from_value::<ServiceSpec>(value.clone()).is_err(),
            "{value}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Service keys as text
// ---------------------------------------------------------------------------------------

#[test]
fn service_key_display_and_parse_round_trip() {
    let tcp = ServiceKey::Address {
        protocol: Protocol::Tcp,
        address: "10.0.0.1".parse().expect("address"),
        port: Port::parse(80).expect("port"),
    };
    let udp6 = ServiceKey::Address {
        protocol: Protocol::Udp,
        address: "2001:db8::1".parse().expect("address"),
        port: Port::parse(53).expect("port"),
    };
    let mark = ServiceKey::Fwmark {
        fwmark: Fwmark::parse(42).expect("mark"),
        family: Family::Ipv4,
    };
    for (key, text) in [
        (tcp, "tcp:10.0.0.1:80"),
        (udp6, "udp:[2001:db8::1]:53"),
        (mark, "fwmark:42:ipv4"),
        (
            ServiceKey::parse("sctp:[::1]:65535").expect("sctp"),
            "sctp:[::1]:65535",
        ),
        (
            ServiceKey::parse("fwmark:4294967295:ipv6").expect("max mark"),
            "fwmark:4294967295:ipv6",
        ),
    ] {
        assert_eq!(key.to_string(), text);
        assert_eq!(ServiceKey::parse(text), Ok(key));
    }
    assert_eq!(udp6.family(), Family::Ipv6);
    assert_eq!(mark.family(), Family::Ipv4);
    assert!(mark.is_fwmark() && mark.protocol().is_none() && mark.port().is_none());

    // The parsed key is the one a spec with the same fields parses to.
    let spec: ServiceSpec = from_json(&udp53_v6());
    assert_eq!(*spec.parse().expect("udp").key(), udp6);
}

#[test]
fn service_key_parse_rejects_bad_keys() {
    let invalid = |s: &str| {
        format!(
            "invalid service key {s:?}; expected protocol:address:port \
             (tcp:10.0.0.1:80, udp:[2001:db8::1]:53) or fwmark:mark:family (fwmark:42:ipv4)"
        )
    };
    for (text, message) in [
        ("", invalid("")),
        ("tcp", invalid("tcp")),
        ("tcp:10.0.0.1", invalid("tcp:10.0.0.1")),
        ("tcp:10.0.0.1:http", invalid("tcp:10.0.0.1:http")),
        ("fwmark:42", invalid("fwmark:42")),
        ("fwmark:x:ipv4", invalid("fwmark:x:ipv4")),
        ("fwmark:+42:ipv4", invalid("fwmark:+42:ipv4")),
        ("tcp:10.0.0.1:+80", invalid("tcp:10.0.0.1:+80")),
        ("udp:2001:db8::1:53", invalid("udp:2001:db8::1:53")),
        ("tcp:[10.0.0.1]:80", invalid("tcp:[10.0.0.1]:80")),
        (
            "icmp:10.0.0.1:80",
            s(r#"unknown protocol "icmp"; expected one of tcp, udp, sctp"#),
        ),
        ("tcp:10.0.0.1:0", s("must be between 1 and 65535, not 0")),
        (
            "tcp:10.0.0.1:65536",
            s("must be between 1 and 65535, not 65536"),
        ),
        ("tcp:224.0.0.1:80", s("224.0.0.1 is a multicast address")),
        (
            "fwmark:0:ipv4",
            s("must be between 1 and 4294967295, not 0"),
        ),
        (
            "fwmark:4294967296:ipv4",
            s("must be between 1 and 4294967295, not 4294967296"),
        ),
        (
            "fwmark:1:inet6",
            s(r#"unknown family "inet6"; expected one of ipv4, ipv6"#),
        ),
    ] {
        assert_eq!(ServiceKey::parse(text), Err(message), "{text:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Diffs as JSON (what agents receive instead of whole documents)
// ---------------------------------------------------------------------------------------

/// A valid diff: real server 10.1.0.1:80 of tcp:10.0.0.1:80 from weight 1 to 5.
fn weight_diff() -> Value {
    let server = |weight: i64| json!({"address": "10.1.0.1", "port": 80, "forwarding": "masq", "weight": weight});
    let summary = lvs_model::DiffSummary {
        real_servers_changed: 1,
        ..lvs_model::DiffSummary::default()
    };
    json!({
        "from_generation": 4, "to_generation": 5, "summary": summary,
        "services": [{"change": "changed", "key": "tcp:10.0.0.1:80", "real_servers": [
            {"change": "changed", "key": "10.1.0.1:80", "old": server(1), "new": server(5)}
        ]}]
    })
}

#[test]
fn diff_specs_parse_with_field_paths() {
    let diff = from_json::<lvs_model::DiffSpec>(&weight_diff())
        .parse()
        .expect("a valid diff");
    assert_eq!((diff.from_generation, diff.to_generation), (4, 5));
    assert_eq!(diff.summary().real_servers_changed, 1);

    let service = |patch: Value| {
        let mut value = weight_diff();
        value["services"][0] = patched(&value["services"][0], &patch);
        value
    };
    let server = |patch: Value| {
        let mut value = weight_diff();
        let entry = &value["services"][0]["real_servers"][0];
        value["services"][0]["real_servers"][0] = patched(entry, &patch);
        value
    };
    let rows: Vec<(&str, Value, &str, &str)> = vec![
        (
            "generations backwards",
            patched(&weight_diff(), &json!({"to_generation": 4})),
            "to_generation",
            "must be greater than from_generation (4)",
        ),
        (
            "bad service key",
            service(json!({"key": "tcp:10.0.0.1"})),
            "services[0].key",
            "invalid service key \"tcp:10.0.0.1\"; expected protocol:address:port \
             (tcp:10.0.0.1:80, udp:[2001:db8::1]:53) or fwmark:mark:family (fwmark:42:ipv4)",
        ),
        (
            "added without the service",
            service(json!({"change": "added", "real_servers": null})),
            "services[0].service",
            "required when the service is added or removed",
        ),
        (
            "changed with nothing",
            service(json!({"real_servers": null})),
            "services[0]",
            "a changed service changes its settings or its real servers",
        ),
        (
            "server under another key",
            server(json!({"key": "10.1.0.2:80"})),
            "services[0].real_servers[0].old",
            "is real server 10.1.0.1:80, not the change's key",
        ),
        (
            "added server with an old side",
            server(json!({"change": "added"})),
            "services[0].real_servers[0].old",
            "not expected when the real server is added",
        ),
        (
            "removed server without its old side",
            server(json!({"change": "removed", "old": null, "new": null})),
            "services[0].real_servers[0].old",
            "required when the real server is removed",
        ),
        (
            "invalid weight",
            server(
                json!({"new": {"address": "10.1.0.1", "port": 80, "forwarding": "masq", "weight": 70000}}),
            ),
            "services[0].real_servers[0].new.weight",
            "must be between 0 and 65535, not 70000",
        ),
        (
            "summary counting more (truncated)",
            {
                let mut value = weight_diff();
                value["summary"]["real_servers_changed"] = json!(2);
                value
            },
            "summary",
            "does not count the entries listed (a truncated diff cannot be applied)",
        ),
    ];
    for (case, value, field, message) in rows {
        let errors = rejected(case, from_json::<lvs_model::DiffSpec>(&value).parse());
        assert_eq!(errors[0].field, field, "case {case}: {errors:?}");
        assert_eq!(errors[0].message, message, "case {case}: {errors:?}");
    }

    let mut twice = weight_diff();
    let entry = twice["services"][0].clone();
    twice["services"] = json!([entry.clone(), entry]);
    twice["summary"]["real_servers_changed"] = json!(2);
    let errors = rejected(
        "the same service twice",
        from_json::<lvs_model::DiffSpec>(&twice).parse(),
    );
    assert_single(
        "the same service twice",
        &errors,
        "services[1].key",
        "services must be listed once each, in key order",
    );
    assert_unknown_field::<lvs_model::DiffSpec>(
        patched(&weight_diff(), &json!({"extra": 1})),
        "extra",
    );
}

#[test]
fn desired_state_changes_chain_their_diffs() {
    let changes = |from: u64, generation: u64| -> lvs_model::agent::DesiredStateChanges {
        from_json(&json!({
            "from_generation": from, "generation": generation, "diffs": [weight_diff()]
        }))
    };
    let diffs = changes(4, 5).parse().expect("a chain from 4 to 5");
    assert_eq!(diffs.len(), 1);
    let errors = rejected("a gap before", changes(3, 5).parse());
    assert_single(
        "a gap before",
        &errors,
        "diffs[0].from_generation",
        "must be 3, where the previous diff ends",
    );
    let errors = rejected("past the end", changes(4, 6).parse());
    assert_single(
        "past the end",
        &errors,
        "generation",
        "must be 5, where the last diff ends",
    );
}

#[test]
fn host_settings_rules() {
    use lvs_model::host::{HostSettings, VipInterface};
    use lvs_model::spec::HostSpec;

    let rows: [(Value, &str, String); 7] = [
        (
            json!({"vips": {"interface": ""}}),
            "host.vips.interface",
            "must not be empty".into(),
        ),
        (
            json!({"vips": {"interface": "a-very-long-name"}}),
            "host.vips.interface",
            "must be at most 15 bytes (the kernel's IFNAMSIZ), not 16".into(),
        ),
        (
            json!({"vips": {"interface": "eth0:1"}}),
            "host.vips.interface",
            "must not contain ':' (printable ASCII only, without '/', ':' or spaces)".into(),
        ),
        (
            json!({"vips": {"interface": "lvs 0"}}),
            "host.vips.interface",
            "must not contain ' ' (printable ASCII only, without '/', ':' or spaces)".into(),
        ),
        (
            json!({"vips": {"interface": ".."}}),
            "host.vips.interface",
            "\"..\" is not a valid interface name".into(),
        ),
        (
            json!({"sysctls": {"conn_reuse_mode": 4}}),
            "host.sysctls.conn_reuse_mode",
            "must be between 0 and 3, not 4".into(),
        ),
        (
            json!({"sysctls": {"conn_reuse_mode": -1}}),
            "host.sysctls.conn_reuse_mode",
            "must be between 0 and 3, not -1".into(),
        ),
    ];
    for (host, field, message) in rows {
        let state = document(&json!({ "host": host }));
        assert_single(
            &host.to_string(),
            &rejected("host", state.parse()),
            field,
            &message,
        );
        let cluster: ClusterSpec = from_json(&json!({"name": "prod", "host": host}));
        assert_single(
            &host.to_string(),
            &rejected("cluster host", cluster.parse()),
            field,
            &message,
        );
    }
    let unknown: Result<HostSpec, _> =
        serde_json::from_value(json!({"sysctls": {"conn_reuse": 1}}));
    assert!(unknown.is_err(), "unknown sysctls are refused, not ignored");

    // Managing VIPs without naming the interface means the dummy `lvs0`.
    let host: HostSpec = from_json(&json!({"vips": {}, "sysctls": {"conntrack": true}}));
    let settings = host.parse().expect("valid");
    assert_eq!(settings.vips, Some(VipInterface::default_dummy()));
    assert_eq!(settings.sysctls.conntrack, Some(true));
    // Written back in full, and read back the same.
    let canonical = serde_json::to_value(HostSpec::from(&settings)).expect("serialises");
    assert_eq!(
        canonical["vips"],
        json!({"interface": "lvs0", "create": true})
    );
    assert_eq!(
        from_json::<HostSpec>(&canonical).parse().expect("valid"),
        settings
    );

    // A document without `host` has none of its own; one with `{}` manages nothing.
    assert_eq!(
        document(&json!({})).parse().expect("valid").host,
        HostSettings::default()
    );
    let existing: HostSpec = from_json(&json!({"vips": {"interface": "eth1", "create": false}}));
    let vips = existing.parse().expect("valid").vips.expect("managed");
    assert_eq!((vips.name.as_str(), vips.create), ("eth1", false));
}

#[test]
fn mark_rules_belong_to_fwmark_services_of_their_family() {
    let fwmark = |rules: Value| -> ServiceSpec {
        from_json(&json!({"fwmark": 1, "family": "ipv4", "mark_rules": rules}))
    };
    let rows: [(Value, &str, &str); 6] = [
        (
            json!([{"protocol": "tcp", "address": "192.0.2.10"}]),
            "mark_rules[0].ports",
            "at least one port or range is required",
        ),
        (
            json!([{"protocol": "icmp", "address": "192.0.2.10", "ports": [80]}]),
            "mark_rules[0].protocol",
            "",
        ),
        (
            json!([{"protocol": "tcp", "address": "2001:db8::1", "ports": [80]}]),
            "mark_rules[0].address",
            "2001:db8::1 is not an ipv4 address, as the service's family is",
        ),
        (
            json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": [0]}]),
            "mark_rules[0].ports[0]",
            "must be between 1 and 65535, not 0",
        ),
        (
            json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": ["90-80"]}]),
            "mark_rules[0].ports[0]",
            "range \"90-80\" ends before it starts",
        ),
        (
            json!([{"address": "192.0.2.10", "ports": [80]}]),
            "mark_rules[0].protocol",
            "required",
        ),
    ];
    for (rules, field, message) in rows {
        let errors = rejected(field, fwmark(rules.clone()).parse());
        assert_eq!(errors.len(), 1, "{rules}: {errors:?}");
        assert_eq!(errors[0].field, field, "{rules}");
        if !message.is_empty() {
            assert_eq!(errors[0].message, message, "{rules}");
        }
    }
    let address: ServiceSpec = from_json(&json!({
        "protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "mark_rules": [{"protocol": "tcp", "address": "192.0.2.10", "ports": [80]}]
    }));
    assert_eq!(
        rejected("address service", address.parse())[0].field,
        "mark_rules"
    );

    // Ports are kept sorted and merged, and written back as ports and ranges.
    let spec = fwmark(json!([{"protocol": "tcp", "address": "192.0.2.10",
                              "ports": [443, 80, "8000-8100", 81, "8100-8200"]}]));
    let service = spec.parse().expect("valid");
    let canonical = serde_json::to_value(ServiceSpec::from(&service)).expect("serialises");
    assert_eq!(
        canonical["mark_rules"],
        json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": ["80-81", 443, "8000-8200"]}])
    );
    // Without rules the field is left out.
    let plain = fwmark(json!([])).parse().expect("valid");
    let canonical = serde_json::to_value(ServiceSpec::from(&plain)).expect("serialises");
    assert!(canonical.get("mark_rules").is_none(), "{canonical}");
}

#[test]
fn connection_sync_rules() {
    use lvs_model::host::SyncRole;
    use lvs_model::spec::HostSpec;

    for (sync, field) in [
        (json!({}), "host.sync.interface"),
        (
            json!({"interface": "eth1", "sync_id": 256}),
            "host.sync.sync_id",
        ),
        (
            json!({"interface": "eth1", "role": "primary"}),
            "host.sync.role",
        ),
        (json!({"interface": "eth1:0"}), "host.sync.interface"),
    ] {
        let state = document(&json!({"host": {"sync": sync}}));
        let errors = rejected(&sync.to_string(), state.parse());
        assert_eq!(errors.len(), 1, "{sync}: {errors:?}");
        assert_eq!(errors[0].field, field, "{sync}");
    }
    let host: HostSpec = from_json(&json!({"sync": {"interface": "eth1"}}));
    let sync = host.parse().expect("valid").sync.expect("configured");
    assert_eq!((sync.sync_id, sync.role), (0, SyncRole::Both));
    assert!(sync.role.sends() && sync.role.receives());
    assert!(!SyncRole::Backup.sends() && !SyncRole::Master.receives());
}

//! What a real-server host must hold, from the services that use it.

use lvs_model::real_server_host::{Arrival, RealServerNeeds};
use lvs_model::spec::{RealServerHostSpec, ServiceSpec};
use lvs_model::DesiredService;
use serde_json::{json, Value};

fn service(value: Value) -> DesiredService {
    let spec: ServiceSpec = serde_json::from_value(value).expect("shape");
    DesiredService::parse(&spec).expect("valid")
}

/// Each (cluster, service, forwarding) of the real servers at `address`.
fn uses<'a>(
    cluster: &'a str,
    services: &'a [DesiredService],
    address: &str,
) -> Vec<(
    &'a str,
    &'a lvs_model::VirtualService,
    lvs_model::Forwarding,
)> {
    services
        .iter()
        .flat_map(|s| {
            s.real_servers()
                .filter(move |rs| rs.address().to_string() == address)
                .map(move |rs| (cluster, s.service(), rs.forwarding()))
        })
        .collect()
}

#[test]
fn a_host_needs_each_vip_once_per_way_of_arriving_and_nothing_for_nat() {
    let services = [
        service(
            json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
            "real_servers": [{"address": "10.0.0.1", "port": 80, "forwarding": "route"},
                             {"address": "10.0.0.2", "port": 80, "forwarding": "masq"}]}),
        ),
        service(
            json!({"protocol": "tcp", "address": "192.0.2.10", "port": 443,
            "real_servers": [{"address": "10.0.0.1", "port": 443, "forwarding": "route"}]}),
        ),
        service(
            json!({"protocol": "udp", "address": "192.0.2.20", "port": 53,
            "real_servers": [{"address": "10.0.0.1", "port": 53, "forwarding": "tunnel",
                              "tunnel_type": "gue", "tunnel_port": 6080}]}),
        ),
        service(json!({"fwmark": 7, "family": "ipv4",
            "mark_rules": [{"protocol": "tcp", "address": "192.0.2.30", "ports": [80, 443]},
                           {"protocol": "udp", "address": "192.0.2.30", "ports": [443]}],
            "real_servers": [{"address": "10.0.0.1", "port": 0, "forwarding": "tunnel"}]})),
    ];
    let needs = RealServerNeeds::collect(uses("prod", &services, "10.0.0.1"));
    let vips: Vec<(String, Arrival, Vec<String>)> = needs
        .vips
        .iter()
        .map(|v| (v.address.to_string(), v.arrival, v.services.clone()))
        .collect();
    assert_eq!(
        vips,
        [
            (
                "192.0.2.10".into(),
                Arrival::Route,
                vec![
                    "prod/tcp:192.0.2.10:443".into(),
                    "prod/tcp:192.0.2.10:80".into()
                ]
            ),
            (
                "192.0.2.20".into(),
                Arrival::Gue { port: 6080 },
                vec!["prod/udp:192.0.2.20:53".into()]
            ),
            (
                "192.0.2.30".into(),
                Arrival::Ipip,
                vec!["prod/fwmark:7:ipv4".into()]
            ),
        ]
    );
    let nat_only = RealServerNeeds::collect(uses("prod", &services, "10.0.0.2"));
    assert!(nat_only.vips.is_empty());
    assert_ne!(needs.version, nat_only.version);
    // The version follows the content only.
    let again = RealServerNeeds::collect(uses("prod", &services[..], "10.0.0.1"));
    assert_eq!(again.version, needs.version);
    let other = RealServerNeeds::collect(uses("staging", &services, "10.0.0.1"));
    assert_ne!(other.version, needs.version);
}

/// The fields a host spec is refused for, with their messages.
fn refused(value: Value) -> Vec<(String, String)> {
    let spec: RealServerHostSpec = serde_json::from_value(value).expect("shape");
    let errors = spec.parse().expect_err("refused");
    errors
        .errors()
        .iter()
        .map(|e| (e.field.clone(), e.message.clone()))
        .collect()
}

#[test]
fn a_host_has_a_name_and_one_to_64_distinct_addresses_shown_sorted() {
    let spec: RealServerHostSpec = serde_json::from_value(
        json!({"name": "web-1", "addresses": ["2001:DB8::1", "10.0.0.2", "10.0.0.1"]}),
    )
    .expect("shape");
    let host = spec.parse().expect("valid");
    let shown = RealServerHostSpec::from(&host);
    assert_eq!(shown.addresses, ["10.0.0.1", "10.0.0.2", "2001:db8::1"]);
    assert_eq!(shown.name.as_deref(), Some("web-1"));

    let fields = |errors: Vec<(String, String)>| -> Vec<String> {
        errors.into_iter().map(|(field, _)| field).collect()
    };
    assert_eq!(
        refused(json!({"addresses": ["10.0.0.1"]})),
        [("name".to_owned(), "required".to_owned())]
    );
    assert_eq!(
        fields(refused(json!({"name": "Web", "addresses": ["10.0.0.1"]}))),
        ["name"]
    );
    assert_eq!(
        refused(json!({"name": "web"})),
        [(
            "addresses".to_owned(),
            "must list at least one address".to_owned()
        )]
    );
    let many: Vec<String> = (0..65).map(|i| format!("10.0.1.{i}")).collect();
    assert_eq!(
        fields(refused(json!({"name": "web", "addresses": many}))),
        ["addresses"]
    );
    let errors = refused(json!({"name": "web",
        "addresses": ["10.0.0.1", "nope", "224.0.0.1", "10.0.0.1", "fe80::1"]}));
    assert_eq!(
        fields(errors.clone()),
        [
            "addresses[1]",
            "addresses[2]",
            "addresses[3]",
            "addresses[4]"
        ]
    );
    assert_eq!(errors[2].1, "repeats addresses[0] (10.0.0.1)");
    assert_eq!(
        fields(refused(json!({"name": "-web-", "description": "a\u{1}",
            "addresses": []}))),
        ["name", "description", "addresses"]
    );
}

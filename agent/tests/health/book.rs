//! The book: shared targets, and the effective state health makes of the desired one.

use lvs_agent::health::{Book, Transition};
use lvs_model::spec::ServiceSpec;
use lvs_model::{DesiredService, Health, RealServerState, ServiceKey};
use serde_json::{json, Value};

fn service(value: Value) -> DesiredService {
    let spec: ServiceSpec = serde_json::from_value(value).expect("a service spec");
    DesiredService::parse(&spec).expect("a valid service")
}

fn web(port: u16, check: &Value) -> DesiredService {
    service(json!({
        "protocol": "tcp", "address": "192.0.2.1", "port": port,
        "health_check": check,
        "real_servers": [
            {"address": "10.1.0.1", "forwarding": "masq", "port": 8080, "weight": 5},
            {"address": "10.1.0.2", "forwarding": "masq", "port": 8080, "weight": 5}
        ]
    }))
}

fn flip(book: &mut Book, service: &DesiredService, rs: usize, health: Health) -> Vec<ServiceKey> {
    let server = service.real_servers().nth(rs).expect("a real server");
    let target = lvs_agent::health::target_of(service, server).expect("checked");
    book.record(&Transition {
        target,
        health,
        failure: None,
        at_ms: 1,
    })
}

#[test]
fn real_servers_of_several_services_share_one_check() {
    let mut book = Book::default();
    let check = json!({"kind": "http", "path": "/up"});
    let (a, b) = (web(80, &check), web(81, &check));
    assert_eq!(book.set_service(&a).start.len(), 2);
    let delta = book.set_service(&b);
    assert!(delta.start.is_empty() && delta.stop.is_empty(), "{delta:?}");
    assert_eq!(book.targets(), 2);

    // One flip reaches both services.
    let mut touched = flip(&mut book, &a, 0, Health::Down);
    touched.sort();
    assert_eq!(touched, [*a.key(), *b.key()]);

    assert!(
        book.remove_service(a.key()).stop.is_empty(),
        "b still uses them"
    );
    assert_eq!(book.remove_service(b.key()).stop.len(), 2);
    assert_eq!(book.targets(), 0);
}

#[test]
fn a_changed_check_replaces_its_target() {
    let mut book = Book::default();
    book.set_service(&web(80, &json!({"kind": "tcp"})));
    let delta = book.set_service(&web(
        80,
        &json!({"kind": "tcp", "interval_ms": 500, "timeout_ms": 400}),
    ));
    assert_eq!((delta.start.len(), delta.stop.len()), (2, 2));
    let delta = book.set_service(&service(json!({
        "protocol": "tcp", "address": "192.0.2.1", "port": 80, "real_servers": []
    })));
    assert_eq!((delta.start.len(), delta.stop.len()), (0, 2));
}

#[test]
fn down_means_weight_zero_or_out_of_the_table() {
    let mut book = Book::default();
    let quiesce = web(80, &json!({"kind": "tcp"}));
    book.set_service(&quiesce);
    assert!(matches!(
        book.effective(&quiesce),
        std::borrow::Cow::Borrowed(_)
    ));
    flip(&mut book, &quiesce, 1, Health::Down);
    let effective = book.effective(&quiesce);
    let weights: Vec<u16> = effective
        .real_servers()
        .map(|rs| rs.effective_weight().get())
        .collect();
    assert_eq!(weights, [5, 0]);
    let quiesced = effective.real_servers().nth(1).unwrap();
    assert_eq!(quiesced.weight().get(), 5, "the configured weight is kept");
    assert_eq!(quiesced.state(), RealServerState::Drained);

    let remove = web(81, &json!({"kind": "tcp", "on_failure": "remove"}));
    book.set_service(&remove);
    flip(&mut book, &remove, 0, Health::Down);
    let effective = book.effective(&remove);
    let left: Vec<String> = effective
        .real_servers()
        .map(|rs| rs.address().to_string())
        .collect();
    assert_eq!(left, ["10.1.0.2"]);
    assert_eq!(book.removed(remove.key()).len(), 1);

    flip(&mut book, &remove, 0, Health::Up);
    assert_eq!(book.effective(&remove).real_servers().count(), 2);
}

#[test]
fn a_new_real_server_starts_with_its_initial_health() {
    let mut book = Book::default();
    let cautious = web(80, &json!({"kind": "tcp", "initial": "down"}));
    book.set_service(&cautious);
    let weights: Vec<u16> = book
        .effective(&cautious)
        .real_servers()
        .map(|rs| rs.effective_weight().get())
        .collect();
    assert_eq!(weights, [0, 0]);
}

#[test]
fn the_sorry_server_stands_in_only_while_no_real_server_serves() {
    let mut book = Book::default();
    let svc = service(json!({
        "protocol": "tcp", "address": "192.0.2.1", "port": 80,
        "health_check": {"kind": "tcp"},
        "sorry_server": {"address": "10.9.0.1", "forwarding": "masq"},
        "real_servers": [
            {"address": "10.1.0.1", "forwarding": "masq"},
            {"address": "10.1.0.2", "forwarding": "masq", "state": "drained"}
        ]
    }));
    book.set_service(&svc);
    let addresses = |book: &Book| -> Vec<String> {
        book.effective(&svc)
            .real_servers()
            .map(|rs| rs.address().to_string())
            .collect()
    };
    assert_eq!(addresses(&book), ["10.1.0.1", "10.1.0.2"], "one serves");
    flip(&mut book, &svc, 0, Health::Down);
    assert_eq!(
        addresses(&book),
        ["10.1.0.1", "10.1.0.2", "10.9.0.1"],
        "the only other one is drained: the sorry server takes over"
    );
    flip(&mut book, &svc, 0, Health::Up);
    assert_eq!(addresses(&book), ["10.1.0.1", "10.1.0.2"]);
}

#[test]
fn a_none_check_exempts_a_real_server() {
    let mut book = Book::default();
    let svc = service(json!({
        "protocol": "tcp", "address": "192.0.2.1", "port": 80,
        "health_check": {"kind": "tcp"},
        "real_servers": [
            {"address": "10.1.0.1", "forwarding": "masq", "health_check": {"kind": "none"}},
            {"address": "10.1.0.2", "forwarding": "masq"}
        ]
    }));
    assert_eq!(book.set_service(&svc).start.len(), 1);
    let rs = svc.real_servers().next().unwrap();
    assert_eq!(book.seen(svc.key(), &rs.key()), None);
}

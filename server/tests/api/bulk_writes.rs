//! Desired states of more rows than one multi-row statement takes (500): stored, changed
//! and removed in bulk, every column of every row kept exactly.

use serde_json::{json, Value};

use crate::desired_state::canonical;
use crate::helpers::*;

/// Service `i` in one of several shapes, so every column is exercised: TCP, UDP and IPv6
/// services and firewall marks; persistence, names and descriptions; masq, tunnel and
/// drained real servers with thresholds. `weight_offset` and `scheduler` vary between
/// documents.
fn service(i: usize, weight_offset: u64, scheduler: &str) -> Value {
    let (a, b) = (i / 250, i % 250 + 1);
    let weight = (i as u64 % 50) + weight_offset;
    // Tunnelled real servers keep the service's port (0 for a firewall mark).
    let (mut service, port) = match i % 4 {
        0 => (json!({"fwmark": 1000 + i, "family": "ipv4"}), 0),
        1 => (
            json!({"protocol": "udp", "address": format!("10.2.{a}.{b}"), "port": 53}),
            53,
        ),
        2 => (
            json!({"protocol": "tcp", "address": format!("2001:db8::{i:x}"), "port": 443}),
            443,
        ),
        _ => (
            json!({"protocol": "tcp", "address": format!("10.2.{a}.{b}"), "port": 80}),
            80,
        ),
    };
    let v6 = i % 4 == 2;
    let server = |n: usize| {
        if v6 {
            format!("2001:db8:1::{:x}", i * 4 + n)
        } else {
            format!("10.{}.{a}.{b}", 100 + n)
        }
    };
    service["scheduler"] = json!(scheduler);
    service["name"] = json!(format!("service {i}"));
    if i % 5 == 0 {
        service["persistence_timeout"] = json!(300 + i);
        service["description"] = json!(format!("sticky\nnumber {i}"));
    }
    service["real_servers"] = json!([
        {"address": server(0), "port": 8080, "forwarding": "masq", "weight": weight},
        {"address": server(1), "port": port, "forwarding": "tunnel", "tunnel_type": "gue",
         "tunnel_port": 6080, "weight": weight + 1, "upper_threshold": 100 + i,
         "lower_threshold": 10, "state": "drained", "description": format!("backup {i}")}
    ]);
    service
}

fn document(services: impl Iterator<Item = Value>) -> Value {
    json!({"timeouts": {}, "services": services.collect::<Vec<_>>()})
}

/// PUTs `document` and checks that GET shows exactly it, at the next generation; returns
/// the diff's summary.
async fn put_and_read_back(app: &TestApp, document: &Value) -> Value {
    let generation = app.generation("big").await;
    let resp = app.put(&desired_state("big"), document, None).await;
    let summary = resp.expect(200)["summary"].clone();
    let (got, _) = app.desired_state("big").await;
    assert!(
        got == canonical("big", document, generation + 1),
        "GET after the PUT at generation {generation} differs from the document"
    );
    summary
}

#[tokio::test]
async fn thousands_of_rows_are_added_changed_and_removed_exactly() {
    let app = TestApp::spawn().await;
    app.create_cluster("big").await;

    // 1,100 services and 2,200 real servers: three statements and five.
    let first = document((0..1100).map(|i| service(i, 1, "wrr")));
    let summary = put_and_read_back(&app, &first).await;
    assert_eq!(summary["services_added"], 1100);
    assert_eq!(summary["real_servers_added"], 2200);

    // Every service and every real server changed in place.
    let changed = document((0..1100).map(|i| service(i, 7, "rr")));
    let summary = put_and_read_back(&app, &changed).await;
    assert_eq!(summary["services_changed"], 1100);
    assert_eq!(summary["real_servers_changed"], 2200);
    assert_eq!(summary["services_added"], 0);

    // 600 services removed, 700 added, 500 kept.
    let moved = document((600..1800).map(|i| service(i, 7, "rr")));
    let summary = put_and_read_back(&app, &moved).await;
    assert_eq!(summary["services_removed"], 600);
    assert_eq!(summary["services_added"], 700);
    assert_eq!(summary["services_changed"], 0);

    // Everything removed, then the same rows stored again under the same keys.
    put_and_read_back(&app, &document(std::iter::empty())).await;
    let summary = put_and_read_back(&app, &first).await;
    assert_eq!(summary["services_added"], 1100);
}

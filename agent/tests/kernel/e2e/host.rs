//! Host preparation by the agent, configured through the API: the VIP on a dummy interface
//! the agent creates, forwarding for NAT, IPVS sysctls; each given back when nothing needs
//! it, and nothing the agent did not add removed. Errors are reported per object.

use std::net::SocketAddr;
use std::time::Duration;

use lvs_testkit::fleet::Fleet;
use lvs_testkit::Netns;
use serde_json::{json, Value};

use super::nat::{http_server, http_server_on, requests, wire_lab};
use super::{wait_rules, wait_until, CLUSTER};
use crate::run;

/// A director routing between a client (172.16.0.2, whose default route is the director)
/// and two real servers (10.0.1.2, 10.0.2.2, answering `rs1` and `rs2` on 8080); no VIP
/// anywhere and forwarding off: everything else is the agent's doing.
fn routed_lab(test: &str) -> (Fleet, Netns) {
    let (fleet, client, _) = routed_lab_with_servers(test);
    (fleet, client)
}

/// [`routed_lab`] with the real servers' namespaces.
fn routed_lab_with_servers(test: &str) -> (Fleet, Netns, [Netns; 2]) {
    let mut fleet = super::fleet(test, 1);
    let (client, [rs1, rs2]) = wire_lab(&fleet.directors[0].ns);
    http_server(&rs1, "rs1");
    http_server(&rs2, "rs2");
    assert_eq!(sysctl(&fleet, "net/ipv4/ip_forward"), "0");
    fleet.start_agents();
    (fleet, client, [rs1, rs2])
}

fn sysctl(fleet: &Fleet, path: &str) -> String {
    fleet.directors[0].ns.enter(|| {
        std::fs::read_to_string(format!("/proc/sys/{path}"))
            .unwrap()
            .trim()
            .to_owned()
    })
}

fn addresses(fleet: &Fleet, link: &str) -> String {
    fleet.directors[0]
        .ns
        .enter(|| run("ip", &["-o", "addr", "show", "dev", link]))
}

fn has_link(fleet: &Fleet, link: &str) -> bool {
    fleet.directors[0]
        .ns
        .enter(|| run("ip", &["-o", "link", "show"]))
        .lines()
        // `cl0@if7` for a veth.
        .filter_map(|line| line.split(": ").nth(1))
        .any(|name| name.split('@').next() == Some(link))
}

fn delete_service(fleet: &Fleet, service: &Value) {
    let id = service["id"].as_i64().unwrap();
    let path = format!("/api/v1/clusters/{CLUSTER}/services/{id}");
    fleet.call("DELETE", &path, None, 204);
}

fn patch_host(fleet: &Fleet, host: &Value) {
    fleet.call(
        "PATCH",
        &fleet.cluster_path(""),
        Some(json!({ "host": host })),
        200,
    );
}

const RULES: &str = "-A -t 192.0.2.10:80 -s wrr\n\
                     -a -t 192.0.2.10:80 -r 10.0.1.2:8080 -m -w 1\n\
                     -a -t 192.0.2.10:80 -r 10.0.2.2:8080 -m -w 2\n";

#[test]
fn the_agent_adds_the_vip_and_forwarding_and_gives_back_only_what_it_added() {
    let (fleet, client) = routed_lab("host-vips");
    patch_host(
        &fleet,
        &json!({"vips": {}, "sysctls": {"expire_nodest_conn": true, "conntrack": true}}),
    );
    let service = fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
            "real_servers": [
                {"address": "10.0.1.2", "port": 8080, "forwarding": "masq", "weight": 1},
                {"address": "10.0.2.2", "port": 8080, "forwarding": "masq", "weight": 2}
            ]
        })),
        201,
    );
    wait_rules(&fleet.directors, RULES, Duration::from_secs(20));
    let status = fleet.wait_status("lb1", "in sync at generation 2", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == 2
    });
    assert_eq!(status["last_errors"], json!([]), "{status:#}");

    let shown = addresses(&fleet, "lvs0");
    assert!(shown.contains("inet 192.0.2.10/32"), "{shown}");
    assert_eq!(sysctl(&fleet, "net/ipv4/ip_forward"), "1");
    assert_eq!(sysctl(&fleet, "net/ipv4/vs/expire_nodest_conn"), "1");
    assert_eq!(sysctl(&fleet, "net/ipv4/vs/conntrack"), "1");
    let record: Value = serde_json::from_slice(
        &std::fs::read(fleet.directors[0].state_dir().join("host.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["interfaces"], json!(["lvs0"]), "{record:#}");
    assert_eq!(record["sysctls"]["net.ipv4.ip_forward"]["original"], "0");

    // Real traffic to the VIP the agent added, through the forwarding it enabled.
    let vip: SocketAddr = "192.0.2.10:80".parse().unwrap();
    let answers = requests(&client, vip, 300);
    eprintln!("host lab: weights 1 and 2: {answers:?}");
    let (rs1, rs2) = (answers.get("rs1").copied(), answers.get("rs2").copied());
    assert!(rs1.unwrap_or(0).abs_diff(100) <= 5, "{answers:?}");
    assert!(rs2.unwrap_or(0).abs_diff(200) <= 10, "{answers:?}");

    // A VIP deleted by hand is put back by the next full pass, and reported as drift.
    fleet.directors[0]
        .ns
        .enter(|| run("ip", &["addr", "del", "192.0.2.10/32", "dev", "lvs0"]));
    let status = fleet.wait_status("lb1", "the VIP's drift repaired", |s| {
        s["drift_repaired"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["object"] == "address 192.0.2.10 on lvs0")
    });
    assert!(
        addresses(&fleet, "lvs0").contains("inet 192.0.2.10/32"),
        "{status:#}"
    );

    // Someone else puts an address of their own on the agent's interface.
    fleet.directors[0]
        .ns
        .enter(|| run("ip", &["addr", "add", "198.51.100.7/32", "dev", "lvs0"]));

    // Without the service: its VIP and forwarding go, the other address and so the
    // interface stay.
    delete_service(&fleet, &service);
    wait_until("the VIP is removed", || {
        !addresses(&fleet, "lvs0").contains("192.0.2.10")
    });
    wait_until("forwarding is off again", || {
        sysctl(&fleet, "net/ipv4/ip_forward") == "0"
    });
    assert!(addresses(&fleet, "lvs0").contains("198.51.100.7/32"));
    assert_eq!(
        sysctl(&fleet, "net/ipv4/vs/conntrack"),
        "1",
        "still set by the cluster"
    );

    // Unset sysctls get the values they had back.
    patch_host(
        &fleet,
        &json!({"sysctls": {"expire_nodest_conn": null, "conntrack": null}}),
    );
    wait_until("the sysctls are given back", || {
        sysctl(&fleet, "net/ipv4/vs/conntrack") == "0"
            && sysctl(&fleet, "net/ipv4/vs/expire_nodest_conn") == "0"
    });

    // Once the other address is gone, nothing keeps the interface.
    fleet.directors[0]
        .ns
        .enter(|| run("ip", &["addr", "del", "198.51.100.7/32", "dev", "lvs0"]));
    wait_until("the agent's interface is deleted", || {
        !has_link(&fleet, "lvs0")
    });
    assert!(has_link(&fleet, "cl0"), "the director's own links stay");
    let status = fleet.status("lb1");
    assert_eq!(status["last_errors"], json!([]), "{status:#}");
}

#[test]
fn host_errors_are_named_per_object_and_stop_nothing_else() {
    let (fleet, _client) = routed_lab("host-errors");
    // 172.16.0.1 is the director's own address on cl0: not the agent's to add elsewhere.
    patch_host(&fleet, &json!({"vips": {}}));
    fleet.put_state(&json!([
        {"protocol": "tcp", "address": "172.16.0.1", "port": 80, "real_servers": [
            {"address": "10.0.1.2", "port": 8080, "forwarding": "masq"}]},
        {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "real_servers": [
            {"address": "10.0.1.2", "port": 8080, "forwarding": "masq"}]}
    ]));
    let errors = |status: &Value| -> Vec<(String, String)> {
        status["last_errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["object"].as_str().unwrap().to_owned(),
                    e["error"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let status = fleet.wait_status("lb1", "the address conflict", |s| {
        !s["last_errors"].as_array().unwrap().is_empty()
    });
    let found = errors(&status);
    assert_eq!(found.len(), 1, "{status:#}");
    assert_eq!(found[0].0, "address 172.16.0.1 on lvs0");
    assert!(
        found[0]
            .1
            .starts_with("172.16.0.1 is already on cl0, where lvs-agent did not put it"),
        "{found:?}"
    );
    // Everything else was done: both services, the other VIP, forwarding.
    assert_eq!(fleet.directors[0].ns.rules().lines().count(), 4);
    assert!(addresses(&fleet, "lvs0").contains("192.0.2.10/32"));
    assert!(
        addresses(&fleet, "cl0").contains("172.16.0.1/24"),
        "left alone"
    );
    assert_eq!(sysctl(&fleet, "net/ipv4/ip_forward"), "1");

    // A VIP interface that must exist and does not.
    patch_host(
        &fleet,
        &json!({"vips": {"interface": "eth9", "create": false}}),
    );
    let status = fleet.wait_status("lb1", "the missing interface", |s| {
        errors(s)
            .iter()
            .any(|(object, _)| object == "interface eth9")
    });
    let found = errors(&status);
    assert!(
        found
            .iter()
            .any(|(_, why)| why.starts_with("this host has no interface eth9")),
        "{found:?}"
    );
    // The VIP moved off lvs0, which the agent deleted, and the services stay.
    wait_until("lvs0 is deleted", || !has_link(&fleet, "lvs0"));
    assert_eq!(fleet.directors[0].ns.rules().lines().count(), 4);
}

#[test]
fn a_fwmark_service_takes_both_ports_of_its_vip_with_persistence() {
    let (fleet, client, servers) = routed_lab_with_servers("host-fwmark");
    for (ns, name) in servers.iter().zip(["rs1", "rs2"]) {
        http_server_on(ns, name, 80);
        http_server_on(ns, name, 443);
    }
    let director = &fleet.directors[0].ns;
    director.enter(|| run("nft", &["add", "table", "ip", "someone_else"]));
    patch_host(&fleet, &json!({"vips": {}}));
    // rr without persistence would alternate between the two real servers.
    let service = fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "fwmark": 1, "family": "ipv4", "scheduler": "rr", "persistence_timeout": 300,
            "mark_rules": [{"protocol": "tcp", "address": "192.0.2.20", "ports": [80, 443]}],
            "real_servers": [
                {"address": "10.0.1.2", "forwarding": "masq"},
                {"address": "10.0.2.2", "forwarding": "masq"}
            ]
        })),
        201,
    );
    let status = fleet.wait_status("lb1", "in sync at generation 2", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == 2
    });
    assert_eq!(status["last_errors"], json!([]), "{status:#}");
    let table = director.enter(|| run("nft", &["list", "table", "inet", "lvs_fleet"]));
    assert!(
        table.contains("ip daddr 192.0.2.20 tcp dport { 80, 443 } meta mark set 0x00000001"),
        "{table}"
    );
    assert!(addresses(&fleet, "lvs0").contains("inet 192.0.2.20/32"));

    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..10 {
        for port in [80, 443] {
            let vip = SocketAddr::from(([192, 0, 2, 20], port));
            for (name, count) in requests(&client, vip, 1) {
                *answers.entry(name).or_insert(0) += count;
            }
        }
    }
    eprintln!("fwmark lab: ports 80 and 443, persistent: {answers:?}");
    assert_eq!(
        answers.len(),
        1,
        "one real server for both ports: {answers:?}"
    );
    assert_eq!(answers.values().sum::<usize>(), 20);

    delete_service(&fleet, &service);
    wait_until("the agent's table is deleted", || {
        !director
            .enter(|| run("nft", &["list", "tables"]))
            .contains("lvs_fleet")
    });
    wait_until("the agent's interface is deleted", || {
        !has_link(&fleet, "lvs0")
    });
    let tables = director.enter(|| run("nft", &["list", "tables"]));
    assert!(
        tables.contains("table ip someone_else"),
        "left alone: {tables}"
    );
}

//! Statistics: after real traffic, the server's copy of the director's counters is what
//! the kernel says, per service and per real server, and the service's history shows the
//! open connection.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs_ipvs::{Ipvs, Stats, TableEntry};
use serde_json::{json, Value};

use super::fleet_with;
use super::nat::{held_request, nat_lab_in, requests, NatLab, VIP};

#[test]
fn the_servers_statistics_are_the_kernels_counters() {
    let NatLab {
        fleet,
        client,
        service,
        ..
    } = nat_lab_in(fleet_with("stats", 1, &[("--stats-interval", "1s")]));
    let vip: SocketAddr = VIP.parse().unwrap();
    let answers = requests(&client, vip, 30);
    let (_open, _) = held_request(&client, vip);
    eprintln!("stats: 30 requests ({answers:?}) and one connection left open");

    let kernel = settled_counters(&fleet.directors[0].ns, 31);
    assert!(
        kernel["services"][0]["counters"]["packets_in"].as_u64() > Some(31 * 3),
        "{kernel:#}"
    );
    let path = fleet.cluster_path("/directors/lb1/stats");
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let reported = fleet.call("GET", &path, None, 200);
        if counters_of(&reported) == kernel {
            assert_eq!(reported["services"][0]["key"], "tcp:172.16.0.1:80");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server's statistics never matched the kernel's:\n{reported:#}\nkernel:\n{kernel:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The history sums the directors' reports once per 10 s interval.
    let path = fleet.cluster_path(&format!("/services/{service}/stats/history"));
    let deadline = Instant::now() + Duration::from_secs(12);
    loop {
        let history = fleet.call("GET", &path, None, 200);
        assert_eq!(history["key"], "tcp:172.16.0.1:80", "{history:#}");
        let points = history["points"].as_array().unwrap();
        if points.iter().any(|p| p["active_connections"] == 1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no history point shows the open connection: {history:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The counters and connection counts of the director's table, read over netlink once they
/// show `connections` connections and stopped changing. The kernel's counters lag: its
/// estimator folds the per-CPU counts into them every 2 s.
fn settled_counters(director: &lvs_testkit::Netns, connections: u64) -> Value {
    director.enter(|| {
        let mut ipvs = Ipvs::connect().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = Value::Null;
        let mut since = Instant::now();
        loop {
            let now = table_counters(&ipvs.table().unwrap());
            if now != last {
                (last, since) = (now, Instant::now());
            } else if last["services"][0]["counters"]["connections"] == connections
                && since.elapsed() > Duration::from_millis(2500)
            {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "the kernel's counters never settled at {connections} connections: {last:#}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    })
}

fn table_counters(table: &[TableEntry]) -> Value {
    let services: Vec<Value> = table
        .iter()
        .map(|entry| {
            let mut servers: Vec<Value> = entry
                .destinations
                .iter()
                .map(|d| {
                    json!({
                        "key": d.destination.addr.to_string(),
                        "active_connections": d.active_conns,
                        "inactive_connections": d.inactive_conns,
                        "counters": counters(&d.stats),
                    })
                })
                .collect();
            servers.sort_by_key(|s| s["key"].as_str().unwrap_or_default().to_owned());
            json!({"counters": counters(&entry.service.stats), "real_servers": servers})
        })
        .collect();
    json!({ "services": services })
}

fn counters(stats: &Stats) -> Value {
    json!({
        "connections": stats.conns,
        "packets_in": stats.in_packets,
        "packets_out": stats.out_packets,
        "bytes_in": stats.in_bytes,
        "bytes_out": stats.out_bytes,
    })
}

/// The same fields of the API's director statistics.
fn counters_of(reported: &Value) -> Value {
    let services: Vec<Value> = reported["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| {
            let mut servers: Vec<Value> = service["real_servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    json!({
                        "key": s["key"],
                        "active_connections": s["active_connections"],
                        "inactive_connections": s["inactive_connections"],
                        "counters": s["counters"],
                    })
                })
                .collect();
            servers.sort_by_key(|s| s["key"].as_str().unwrap_or_default().to_owned());
            json!({"counters": service["counters"], "real_servers": servers})
        })
        .collect();
    json!({ "services": services })
}

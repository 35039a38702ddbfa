//! Connection synchronisation between a cluster's directors, configured through the API
//! and run by the agents: a connection through director 1 appears in director 2's table.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs_testkit::veth;
use serde_json::json;

use super::nat::{held_request, nat_lab_in, NatLab, VIP};
use crate::run;

fn daemons(lab: &NatLab, director: usize) -> String {
    lab.fleet.directors[director]
        .ns
        .enter(|| run("ipvsadm", &["-L", "--daemon"]))
}

#[track_caller]
fn wait_until(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_connection_through_director_1_is_in_director_2s_table() {
    let fleet = super::fleet("conn-sync", 2);
    // The directors' own link, which the sync daemons use.
    veth(
        &fleet.directors[0].ns,
        "sy0",
        "10.99.0.1/24",
        &fleet.directors[1].ns,
        "sy0",
        "10.99.0.2/24",
    );
    let lab = nat_lab_in(fleet);
    lab.fleet.call(
        "PATCH",
        &lab.fleet.cluster_path(""),
        Some(json!({"host": {"sync": {"interface": "sy0", "sync_id": 7}}})),
        200,
    );
    for director in 0..2 {
        wait_until("both daemons run", Duration::from_secs(20), || {
            let shown = daemons(&lab, director);
            shown.contains("master sync daemon (mcast=sy0, syncid=7")
                && shown.contains("backup sync daemon (mcast=sy0, syncid=7")
        });
    }

    let vip: SocketAddr = VIP.parse().unwrap();
    let (_held, answered) = held_request(&lab.client, vip);
    let connections = |director: usize| {
        lab.fleet.directors[director]
            .ns
            .enter(|| run("ipvsadm", &["-Lnc"]))
    };
    assert!(connections(0).contains("172.16.0.2:"), "{}", connections(0));
    wait_until(
        "the connection is synchronised to lb2",
        Duration::from_secs(20),
        || connections(1).contains("172.16.0.2:") && connections(1).contains("172.16.0.1:80"),
    );
    eprintln!(
        "conn sync: answered by {answered}; lb2 holds:\n{}",
        connections(1)
    );

    // Sync off: the agents stop the daemons they started.
    lab.fleet.call(
        "PATCH",
        &lab.fleet.cluster_path(""),
        Some(json!({"host": {"sync": null}})),
        200,
    );
    for director in 0..2 {
        wait_until("the daemons stop", Duration::from_secs(20), || {
            !daemons(&lab, director).contains("sync daemon")
        });
    }
}

//! Real connections through a NAT service: a client, the director and a real server, each
//! in its own namespace of the guest, joined by veth pairs (documentation addresses of
//! either family, traffic never leaves the guest). Counters and connection counts must move,
//! and agree with `ipvsadm -Ln --exact` / `--stats --exact`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use lvs_ipvs::{
    Destination, DestinationEntry, ForwardMethod, Ipvs, Protocol, Scheduler, Service, ServiceKey,
};
use lvs_testkit::{add_addr, thread_id, veth_peer_end, veth_to_thread};

use crate::{director, fresh_netns, ipvsadm, run};

const CONNECTIONS: u64 = 5;

/// The addresses of one run: the client's network, the real server's network and the VIP.
#[derive(Debug, Clone, Copy)]
struct Plan {
    vip: &'static str,
    /// The real server's address and port, as ipvsadm prints it.
    real: &'static str,
    real_cidr: &'static str,
    /// The director's side of the real server's link (the real server's gateway).
    director_real: &'static str,
    director_real_cidr: &'static str,
    client_cidr: &'static str,
    director_client: &'static str,
    director_client_cidr: &'static str,
    vip_cidr: &'static str,
    forwarding_sysctl: &'static str,
    /// Also wait for settled counters, compare them with ipvsadm and zero them (the
    /// family-independent part, done once to keep the suite short).
    settled_stats: bool,
}

const IPV4: Plan = Plan {
    vip: "192.0.2.1",
    real: "203.0.113.2:8080",
    real_cidr: "203.0.113.2/24",
    director_real: "203.0.113.1",
    director_real_cidr: "203.0.113.1/24",
    client_cidr: "198.51.100.2/24",
    director_client: "198.51.100.1",
    director_client_cidr: "198.51.100.1/24",
    vip_cidr: "192.0.2.1/32",
    forwarding_sysctl: "net.ipv4.ip_forward=1",
    settled_stats: true,
};

const IPV6: Plan = Plan {
    vip: "2001:db8:f::1",
    real: "[2001:db8:2::2]:8080",
    real_cidr: "2001:db8:2::2/64",
    director_real: "2001:db8:2::1",
    director_real_cidr: "2001:db8:2::1/64",
    client_cidr: "2001:db8:1::2/64",
    director_client: "2001:db8:1::1",
    director_client_cidr: "2001:db8:1::1/64",
    vip_cidr: "2001:db8:f::1/128",
    forwarding_sysctl: "net.ipv6.conf.all.forwarding=1",
    settled_stats: false,
};

impl Plan {
    fn vip_port(&self) -> SocketAddr {
        SocketAddr::new(self.vip.parse().unwrap(), 80)
    }

    fn real_addr(&self) -> SocketAddr {
        self.real.parse().unwrap()
    }
}

fn real_server(plan: Plan, tid_tx: &Sender<String>, go: &Receiver<()>, ready: &Sender<()>) {
    fresh_netns();
    tid_tx.send(thread_id()).unwrap();
    go.recv().unwrap();
    veth_peer_end("vr0", plan.real_cidr, plan.director_real);
    let listener = TcpListener::bind(plan.real_addr()).unwrap();
    ready.send(()).unwrap();
    for _ in 0..CONNECTIONS {
        let (mut conn, _) = listener.accept().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(b"hello from the real server\n").is_err() {
                    break;
                }
            }
        });
    }
}

fn client(
    plan: Plan,
    tid_tx: &Sender<String>,
    go: &Receiver<()>,
    open: &Sender<()>,
    close: &Receiver<()>,
) {
    fresh_netns();
    tid_tx.send(thread_id()).unwrap();
    go.recv().unwrap();
    veth_peer_end("vc0", plan.client_cidr, plan.director_client);
    let vip = plan.vip_port();
    let mut kept = None;
    for i in 0..CONNECTIONS {
        let mut conn = TcpStream::connect_timeout(&vip, Duration::from_secs(10)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"ping\n").unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"hello"), "unexpected answer");
        if i + 1 == CONNECTIONS {
            kept = Some(conn);
        }
    }
    open.send(()).unwrap();
    close.recv().unwrap();
    // The director edited the service and the destination meanwhile: the connection lives.
    let mut conn = kept.expect("a kept connection");
    conn.write_all(b"ping again\n").unwrap();
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"hello"), "the kept connection broke");
}

/// Polls the library until `done` holds for the service's only destination, or fails.
fn wait_for(
    ipvs: &mut Ipvs,
    key: &ServiceKey,
    what: &str,
    done: impl Fn(&DestinationEntry) -> bool,
) -> DestinationEntry {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dests = ipvs.destinations(key).unwrap();
        if done(&dests[0]) {
            return dests[0];
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            dests[0]
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// The numeric columns of the line for `name` in an `ipvsadm --exact` listing.
fn columns(listing: &str, name: &str) -> Vec<u64> {
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().any(|t| t == name))
        .unwrap_or_else(|| panic!("{name} not in\n{listing}"));
    line.split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect()
}

#[test]
fn nat_traffic_moves_counters_and_connection_counts() {
    nat_traffic(IPV4);
}

#[test]
fn ipv6_nat_traffic_moves_counters_and_connection_counts() {
    nat_traffic(IPV6);
}

fn nat_traffic(plan: Plan) {
    let mut ipvs = director();
    let (rtid_tx, rtid) = channel();
    let (rgo_tx, rgo) = channel();
    let (ready_tx, ready) = channel();
    let server = thread::spawn(move || real_server(plan, &rtid_tx, &rgo, &ready_tx));
    let (ctid_tx, ctid) = channel();
    let (cgo_tx, cgo) = channel();
    let (open_tx, open) = channel();
    let (close_tx, close) = channel();
    let client = thread::spawn(move || client(plan, &ctid_tx, &cgo, &open_tx, &close));
    let (rtid, ctid) = (rtid.recv().unwrap(), ctid.recv().unwrap());

    veth_to_thread("vc", plan.director_client_cidr, "vc0", &ctid);
    veth_to_thread("vr", plan.director_real_cidr, "vr0", &rtid);
    add_addr(plan.vip_cidr, "d0");
    run("sysctl", &["-q", "-w", plan.forwarding_sysctl]);

    let key = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: plan.vip.parse().unwrap(),
        port: 80,
    };
    let real = plan.real;
    ipvs.add_service(&Service::new(key, Scheduler::RoundRobin))
        .unwrap();
    ipvs.add_destination(
        &key,
        &Destination::new(plan.real_addr(), ForwardMethod::Masq),
    )
    .unwrap();

    rgo_tx.send(()).unwrap();
    ready.recv().unwrap();
    cgo_tx.send(()).unwrap();
    open.recv_timeout(Duration::from_secs(60))
        .expect("the client's connections went through");

    // One connection is still open, the others are closing or closed.
    let seen = wait_for(&mut ipvs, &key, "one active connection", |d| {
        d.active_conns == 1
    });
    assert_eq!(
        seen.active_conns + seen.inactive_conns,
        CONNECTIONS as u32,
        "{seen:?}"
    );
    let listing = ipvsadm(&["-L", "-n", "--exact"]);
    let cols = columns(&listing, real);
    assert_eq!(
        cols,
        [
            1,
            u64::from(seen.active_conns),
            u64::from(seen.inactive_conns)
        ],
        "{listing}"
    );

    // Edits happen in place: the open connection keeps its destination and keeps working.
    let mut edited = Destination::new(plan.real_addr(), ForwardMethod::Masq);
    edited.weight = 7;
    ipvs.edit_destination(&key, &edited).unwrap();
    ipvs.edit_service(&Service::new(key, Scheduler::WeightedLeastConnection))
        .unwrap();
    let after = ipvs.destinations(&key).unwrap()[0];
    assert_eq!(
        (after.destination.weight, after.active_conns),
        (7, 1),
        "{after:?}"
    );

    close_tx.send(()).unwrap();
    client
        .join()
        .expect("the client's kept connection survived the edits");
    server.join().unwrap();

    // The estimator folds per-CPU counters in every two seconds: wait for all of them, then
    // for two equal readings, and compare with ipvsadm.
    wait_for(&mut ipvs, &key, "counters", |d| {
        d.stats.conns == CONNECTIONS && d.stats.out_packets >= 2 * CONNECTIONS
    });
    if !plan.settled_stats {
        return;
    }
    let mut last = ipvs.table().unwrap();
    loop {
        thread::sleep(Duration::from_secs(3));
        let now = ipvs.table().unwrap();
        if now
            .iter()
            .map(|e| e.service.stats)
            .eq(last.iter().map(|e| e.service.stats))
        {
            break;
        }
        last = now;
    }
    let entry = &last[0];
    let stats = entry.service.stats;
    assert_eq!(stats.conns, CONNECTIONS);
    assert!(
        stats.in_packets > 0 && stats.in_bytes > 0 && stats.out_bytes > 0,
        "{stats:?}"
    );
    let listing = ipvsadm(&["-L", "-n", "--stats", "--exact"]);
    let svc_cols = columns(&listing, &plan.vip_port().to_string());
    let s = stats;
    assert_eq!(
        svc_cols[svc_cols.len() - 5..],
        [
            s.conns,
            s.in_packets,
            s.out_packets,
            s.in_bytes,
            s.out_bytes
        ],
        "{listing}"
    );
    let d = entry.destinations[0].stats;
    let dest_cols = columns(&listing, real);
    assert_eq!(
        dest_cols[dest_cols.len() - 5..],
        [
            d.conns,
            d.in_packets,
            d.out_packets,
            d.in_bytes,
            d.out_bytes
        ],
        "{listing}"
    );

    // Zeroing one service, then everything.
    ipvs.zero(Some(&key)).unwrap();
    assert_eq!(ipvs.service(&key).unwrap().stats.conns, 0);
    ipvs.zero(None).unwrap();
    let listing = ipvsadm(&["-L", "-n", "--stats", "--exact"]);
    let svc_cols = columns(&listing, &plan.vip_port().to_string());
    assert_eq!(svc_cols[svc_cols.len() - 5..], [0, 0, 0, 0, 0], "{listing}");
}

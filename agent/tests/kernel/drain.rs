//! Graceful removal with real connections: a client, the director and a real server host,
//! each in its own namespace of the guest, joined by veth pairs (TEST-NET addresses; traffic
//! never leaves the guest). A removed real server with an open connection is set to weight 0
//! and deleted once the connection is gone; a removed service waits up to the drain timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use lvs_agent::{PassResult, Reconciler};
use lvs_ipvs::{Protocol, ServiceKey};
use lvs_testkit::{add_addr, thread_id, veth_peer_end, veth_to_thread};
use nix::sys::socket::{setsockopt, sockopt};

use crate::{dest_line, director_netns, fresh_netns, reconciler, run, saved, state, DRAIN_TIMEOUT};

const VIP: &str = "192.0.2.1";
const FIRST: &str = "203.0.113.2:8080";
const SECOND: &str = "203.0.113.3:8080";

/// Answers every connection on both real-server addresses, forever.
fn real_servers(tid_tx: &Sender<String>, go: &Receiver<()>, ready: &Sender<()>) {
    fresh_netns();
    tid_tx.send(thread_id()).unwrap();
    go.recv().unwrap();
    veth_peer_end("vr0", "203.0.113.2/24", "203.0.113.1");
    add_addr("203.0.113.3/24", "vr0");
    let listener = TcpListener::bind("0.0.0.0:8080").unwrap();
    ready.send(()).unwrap();
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(b"hello\n").is_err() {
                    break;
                }
            }
        });
    }
}

enum Order {
    /// Open a connection to the VIP and keep it.
    Open,
    /// Reset the kept connection (SO_LINGER 0), which IPVS expires in seconds.
    Reset,
}

fn client(tid_tx: &Sender<String>, go: &Receiver<()>, orders: &Receiver<Order>, done: &Sender<()>) {
    fresh_netns();
    tid_tx.send(thread_id()).unwrap();
    go.recv().unwrap();
    veth_peer_end("vc0", "198.51.100.2/24", "198.51.100.1");
    let vip: SocketAddr = format!("{VIP}:80").parse().unwrap();
    let mut kept: Option<TcpStream> = None;
    for order in orders {
        match order {
            Order::Open => {
                let mut conn = TcpStream::connect_timeout(&vip, Duration::from_secs(10)).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                conn.write_all(b"ping\n").unwrap();
                let mut buf = [0u8; 16];
                let n = conn.read(&mut buf).unwrap();
                assert!(buf[..n].starts_with(b"hello"), "unexpected answer");
                kept = Some(conn);
            }
            Order::Reset => {
                let conn = kept.take().expect("an open connection");
                setsockopt(
                    &conn,
                    sockopt::Linger,
                    &nix::libc::linger {
                        l_onoff: 1,
                        l_linger: 0,
                    },
                )
                .unwrap();
                drop(conn);
            }
        }
        done.send(()).unwrap();
    }
}

/// Waits until the destination `addr` of the service has `active` active connections.
fn wait_for_active(agent: &mut Reconciler, addr: &str, active: u32) {
    let key = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: VIP.parse().unwrap(),
        port: 80,
    };
    let addr: SocketAddr = addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dests = agent.ipvs().destinations(&key).unwrap();
        let found = dests.iter().find(|d| d.destination.addr == addr);
        if found.is_some_and(|d| d.active_conns == active) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} never had {active} active: {dests:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

fn actions(result: &PassResult) -> Vec<(String, String)> {
    result
        .report
        .outcomes
        .iter()
        .map(|o| {
            assert!(o.error.is_none(), "{o:?}");
            (o.action.clone(), o.object.clone())
        })
        .collect()
}

fn pair(action: &str, object: &str) -> (String, String) {
    (action.to_owned(), object.to_owned())
}

fn cluster(generation: u64, servers: &[&str]) -> std::sync::Arc<lvs_model::DesiredState> {
    let servers: Vec<String> = servers
        .iter()
        .map(|s| {
            let (address, port) = s.split_once(':').unwrap();
            format!(r#"{{"address": "{address}", "port": {port}, "forwarding": "masq"}}"#)
        })
        .collect();
    let services = if servers.is_empty() {
        String::new()
    } else {
        format!(
            r#"{{"protocol": "tcp", "address": "{VIP}", "port": 80, "scheduler": "rr",
                "real_servers": [{}]}}"#,
            servers.join(",")
        )
    };
    state(&format!(
        r#"{{"generation": {generation}, "timeouts": {{}}, "services": [{services}]}}"#
    ))
}

#[test]
fn removed_real_servers_and_services_drain_before_they_go() {
    director_netns();
    let (rtid_tx, rtid) = channel();
    let (rgo_tx, rgo) = channel();
    let (ready_tx, ready) = channel();
    thread::spawn(move || real_servers(&rtid_tx, &rgo, &ready_tx));
    let (ctid_tx, ctid) = channel();
    let (cgo_tx, cgo) = channel();
    let (order_tx, orders) = channel();
    let (done_tx, done) = channel();
    thread::spawn(move || client(&ctid_tx, &cgo, &orders, &done_tx));
    let (rtid, ctid) = (rtid.recv().unwrap(), ctid.recv().unwrap());
    veth_to_thread("vc", "198.51.100.1/24", "vc0", &ctid);
    veth_to_thread("vr", "203.0.113.1/24", "vr0", &rtid);
    add_addr(&format!("{VIP}/32"), "d0");
    run("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
    rgo_tx.send(()).unwrap();
    ready.recv().unwrap();
    cgo_tx.send(()).unwrap();
    let order = |o: Order| {
        order_tx.send(o).unwrap();
        done.recv_timeout(Duration::from_secs(60))
            .expect("the client obeyed");
    };

    let mut agent = reconciler(None);
    assert!(agent.pass(&cluster(1, &[FIRST])).unwrap().succeeded());
    order(Order::Open);
    wait_for_active(&mut agent, FIRST, 1);

    // The first server leaves the desired state: weight 0, kept while its connection lives.
    let second = cluster(2, &[SECOND]);
    let result = agent.pass(&second).unwrap();
    let first_object = format!("real server {FIRST} of tcp:{VIP}:80");
    assert_eq!(
        actions(&result),
        [
            pair("drain", &first_object),
            pair("add", &format!("real server {SECOND} of tcp:{VIP}:80")),
        ]
    );
    let line = dest_line(FIRST).expect("the draining server is still there");
    assert!(line.ends_with("-w 0"), "{line}");
    let again = agent.pass(&second).unwrap();
    assert_eq!(again.commands, 0, "{:#?}", again.report);
    assert!(
        again.report.drift_repaired.is_empty(),
        "{:#?}",
        again.report
    );
    assert!(dest_line(FIRST).is_some());

    // The connection ends: the server goes at the next check.
    order(Order::Reset);
    let deadline = Instant::now() + Duration::from_secs(60);
    let deleted = loop {
        let result = agent.pass(&second).unwrap();
        if !result.report.outcomes.is_empty() {
            break result;
        }
        assert!(Instant::now() < deadline, "never deleted: {:?}", saved());
        thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(actions(&deleted), [pair("delete", &first_object)]);
    assert_eq!(dest_line(FIRST), None);
    assert!(dest_line(SECOND).is_some());

    // The whole service leaves with a connection open: drained, then deleted at the timeout.
    order(Order::Open);
    wait_for_active(&mut agent, SECOND, 1);
    let empty = cluster(3, &[]);
    let result = agent.pass(&empty).unwrap();
    assert_eq!(
        actions(&result),
        [pair(
            "drain",
            &format!("real server {SECOND} of tcp:{VIP}:80")
        )]
    );
    assert_eq!(agent.pass(&empty).unwrap().commands, 0);
    assert!(!saved().is_empty(), "the service waits for its connection");
    let late = agent
        .pass_at(&empty, Instant::now() + DRAIN_TIMEOUT)
        .unwrap();
    assert_eq!(
        actions(&late),
        [pair("delete", &format!("service tcp:{VIP}:80"))]
    );
    assert!(saved().is_empty(), "{:?}", saved());
    order(Order::Reset);
}

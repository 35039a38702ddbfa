//! The classic LVS-NAT lab: real traffic through a director whose agent follows the API.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lvs_testkit::fleet::Fleet;
use lvs_testkit::{veth, Netns};
use serde_json::json;

use super::{wait_rules, CLUSTER};
use crate::run;

/// A tiny HTTP server on 0.0.0.0:8080 in `ns` answering `name` to every request, counting
/// them; it keeps each connection until the client closes it. It lives as long as the test
/// process.
pub fn http_server(ns: &Netns, name: &'static str) -> Arc<AtomicUsize> {
    http_server_on(ns, name, 8080)
}

/// [`http_server`] on another port.
pub fn http_server_on(ns: &Netns, name: &'static str, port: u16) -> Arc<AtomicUsize> {
    let listener = ns.enter(|| TcpListener::bind(("0.0.0.0", port)).unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = write!(
                    stream,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                    name.len()
                );
                let _ = stream.read_to_end(&mut Vec::new());
            });
        }
    });
    hits
}

/// One request on a connection that stays open; the stream and who answered.
pub fn held_request(client: &Netns, vip: SocketAddr) -> (TcpStream, String) {
    client.enter(|| {
        let mut stream = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut response = Vec::new();
        let mut buffer = [0; 256];
        loop {
            if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                // Every name is three bytes.
                if response.len() >= end + 4 + 3 {
                    let name = String::from_utf8_lossy(&response[end + 4..]).into_owned();
                    return (stream, name);
                }
            }
            let n = stream.read(&mut buffer).unwrap();
            assert!(n > 0, "the connection closed early: {response:?}");
            response.extend_from_slice(&buffer[..n]);
        }
    })
}

/// `count` HTTP requests from `client` to `vip`; the answers (server names) and how often.
pub fn requests(client: &Netns, vip: SocketAddr, count: usize) -> BTreeMap<String, usize> {
    client.enter(|| {
        let mut answers = BTreeMap::new();
        for _ in 0..count {
            let mut stream = TcpStream::connect_timeout(&vip, Duration::from_secs(5)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            let body = response
                .split_once("\r\n\r\n")
                .map(|(_, body)| body.to_owned())
                .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
            *answers.entry(body).or_insert(0) += 1;
        }
        answers
    })
}

/// The classic LVS-NAT lab: a client (172.16.0.2), the director (VIP 172.16.0.1:80, agent
/// started, which enables forwarding) and two real servers 10.0.1.2 and 10.0.2.2 answering `rs1` and `rs2` on port
/// 8080, whose default gateway is the director; wrr weights 1 and 2 set through the API
/// and in the kernel.
pub struct NatLab {
    pub fleet: Fleet,
    pub client: Netns,
    /// The service's id in the API.
    pub service: i64,
    /// Requests each real server answered.
    pub hits: [Arc<AtomicUsize>; 2],
}

pub const VIP: &str = "172.16.0.1:80";

/// The lab's rules with rs2 at this weight (`None`: rs2 gone).
fn nat_rules(weight2: Option<u32>) -> String {
    let mut rules = "-A -t 172.16.0.1:80 -s wrr\n\
                     -a -t 172.16.0.1:80 -r 10.0.1.2:8080 -m -w 1\n"
        .to_owned();
    if let Some(weight) = weight2 {
        rules += &format!("-a -t 172.16.0.1:80 -r 10.0.2.2:8080 -m -w {weight}\n");
    }
    rules
}

fn nat_lab(test: &str) -> NatLab {
    nat_lab_in(super::fleet(test, 1))
}

/// The lab's namespaces around `director`: a client (172.16.0.2, default route via the
/// director's 172.16.0.1) and two real servers (10.0.1.2, 10.0.2.2, default routes via the
/// director). Forwarding is left to the agent, for the cluster's NAT services.
pub fn wire_lab(director: &Netns) -> (Netns, [Netns; 2]) {
    let client = Netns::new();
    let rs1 = Netns::new();
    let rs2 = Netns::new();
    veth(
        director,
        "cl0",
        "172.16.0.1/24",
        &client,
        "eth0",
        "172.16.0.2/24",
    );
    veth(director, "rs1", "10.0.1.1/24", &rs1, "eth0", "10.0.1.2/24");
    veth(director, "rs2", "10.0.2.1/24", &rs2, "eth0", "10.0.2.2/24");
    client.enter(|| run("ip", &["route", "add", "default", "via", "172.16.0.1"]));
    rs1.enter(|| run("ip", &["route", "add", "default", "via", "10.0.1.1"]));
    rs2.enter(|| run("ip", &["route", "add", "default", "via", "10.0.2.1"]));
    (client, [rs1, rs2])
}

/// The lab around the one director of `fleet`.
pub fn nat_lab_in(mut fleet: Fleet) -> NatLab {
    let (client, [rs1, rs2]) = wire_lab(&fleet.directors[0].ns);
    let hits1 = http_server(&rs1, "rs1");
    let hits2 = http_server(&rs2, "rs2");
    fleet.start_agents();

    let service = fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "protocol": "tcp", "address": "172.16.0.1", "port": 80, "scheduler": "wrr",
            "real_servers": [
                {"address": "10.0.1.2", "port": 8080, "forwarding": "masq", "weight": 1},
                {"address": "10.0.2.2", "port": 8080, "forwarding": "masq", "weight": 2}
            ]
        })),
        201,
    );
    let service = service["id"].as_i64().unwrap();
    wait_rules(
        &fleet.directors,
        &nat_rules(Some(2)),
        Duration::from_secs(20),
    );
    NatLab {
        fleet,
        client,
        service,
        hits: [hits1, hits2],
    }
}

/// The id of a real server of the lab's service, by address.
pub fn real_server_id(fleet: &Fleet, service: i64, address: &str) -> i64 {
    let servers = fleet.call(
        "GET",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers"),
        None,
        200,
    );
    servers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["address"] == address)
        .unwrap_or_else(|| panic!("no {address} in {servers:#}"))["id"]
        .as_i64()
        .unwrap()
}

#[test]
fn the_classic_lvs_nat_lab_splits_by_weight_and_drains() {
    let NatLab {
        fleet,
        client,
        service,
        hits: [hits1, hits2],
    } = nat_lab("nat-lab");

    let vip: SocketAddr = VIP.parse().unwrap();
    let answers = requests(&client, vip, 300);
    eprintln!("nat lab: weights 1 and 2: {answers:?}");
    let rs1_share = answers.get("rs1").copied().unwrap_or(0);
    let rs2_share = answers.get("rs2").copied().unwrap_or(0);
    assert_eq!(rs1_share + rs2_share, 300, "{answers:?}");
    assert!(rs1_share.abs_diff(100) <= 5, "{answers:?}");
    assert!(rs2_share.abs_diff(200) <= 10, "{answers:?}");
    assert_eq!(hits1.load(Ordering::SeqCst), rs1_share);
    assert_eq!(hits2.load(Ordering::SeqCst), rs2_share);

    // Drain rs2 through the API: weight 0 in the kernel, no new request reaches it.
    let rs2_id = real_server_id(&fleet, service, "10.0.2.2");
    fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers/{rs2_id}/drain"),
        None,
        200,
    );
    wait_rules(
        &fleet.directors,
        &nat_rules(Some(0)),
        Duration::from_secs(5),
    );
    let before = hits2.load(Ordering::SeqCst);
    let answers = requests(&client, vip, 60);
    eprintln!("nat lab: rs2 drained: {answers:?}");
    assert_eq!(answers.get("rs1").copied(), Some(60), "{answers:?}");
    assert_eq!(hits2.load(Ordering::SeqCst), before);
}

#[test]
fn a_removed_real_server_with_open_connections_drains_before_it_goes() {
    let NatLab {
        fleet,
        client,
        service,
        hits: [_, hits2],
    } = nat_lab("nat-remove");
    let vip: SocketAddr = VIP.parse().unwrap();
    // Open connections until one is on rs2 (wrr 1:2: within three).
    let mut held = Vec::new();
    while !held.iter().any(|(_, name)| name == "rs2") {
        assert!(held.len() < 6, "no connection reached rs2: {held:?}");
        held.push(held_request(&client, vip));
    }

    let rs2 = real_server_id(&fleet, service, "10.0.2.2");
    fleet.call(
        "DELETE",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers/{rs2}"),
        None,
        204,
    );
    // First weight 0: no new connection, the open one goes on.
    wait_rules(
        &fleet.directors,
        &nat_rules(Some(0)),
        Duration::from_secs(5),
    );
    let before = hits2.load(Ordering::SeqCst);
    let answers = requests(&client, vip, 10);
    assert_eq!(answers.get("rs1").copied(), Some(10), "{answers:?}");
    assert_eq!(hits2.load(Ordering::SeqCst), before);
    // Kept while its connection is open (several drain checks).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fleet.directors[0].ns.rules(), nat_rules(Some(0)));

    // The connections end (reset: IPVS forgets a closed connection after 10 s, rather than
    // the 2 minutes of TIME_WAIT); then rs2 is deleted.
    for (stream, _) in held {
        nix::sys::socket::setsockopt(
            &stream,
            nix::sys::socket::sockopt::Linger,
            &nix::libc::linger {
                l_onoff: 1,
                l_linger: 0,
            },
        )
        .unwrap();
        drop(stream);
    }
    let gone = wait_rules(&fleet.directors, &nat_rules(None), Duration::from_secs(30));
    eprintln!("nat remove: rs2 deleted {gone:?} after its connections ended");
}

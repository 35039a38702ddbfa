//! Health checks with real traffic: two directors check three real servers over HTTP; a real
//! server whose HTTP server stops gets weight 0 (or leaves the table) on both, no client
//! request reaches it, and it comes back when its server does; the sorry server stands in
//! while none is up; and the kernel follows health while lvs-server is down.
//!
//! lb1 carries the traffic: client 172.16.0.2 -> VIP 172.16.0.1:80 -> rsN 10.0.N.2:8080
//! (NAT, the real servers' gateway is lb1). lb2 reaches the real servers through lb1 and
//! only checks them.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_testkit::fleet::Fleet;
use lvs_testkit::{veth, Netns};
use serde_json::{json, Value};

use super::nat::requests;
use super::{wait_rules, CLUSTER};
use crate::run;

/// The checks' interval and fall; detection must take at most fall x interval + 1 s.
const INTERVAL_MS: u64 = 1000;
const FALL: u64 = 2;
const RISE: u64 = 2;

/// An HTTP server on 0.0.0.0:8080 in a namespace answering its name, that can be stopped
/// (its port then refuses connections) and started again.
struct Responder {
    ns: Netns,
    name: &'static str,
    hits: Arc<AtomicUsize>,
    running: Option<Arc<AtomicBool>>,
}

impl Responder {
    fn new(ns: Netns, name: &'static str) -> Responder {
        let mut responder = Responder {
            ns,
            name,
            hits: Arc::default(),
            running: None,
        };
        responder.start();
        responder
    }

    fn start(&mut self) {
        assert!(self.running.is_none(), "{} runs already", self.name);
        let listener = self.ns.enter(|| TcpListener::bind("0.0.0.0:8080").unwrap());
        listener.set_nonblocking(true).unwrap();
        let running = Arc::new(AtomicBool::new(true));
        let (flag, hits, name) = (Arc::clone(&running), Arc::clone(&self.hits), self.name);
        std::thread::spawn(move || {
            while flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut request = Vec::new();
                        let mut buffer = [0; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => request.extend_from_slice(&buffer[..n]),
                            }
                        }
                        // Checks say who they are; only clients count as hits.
                        if !String::from_utf8_lossy(&request).contains("lvs-agent") {
                            hits.fetch_add(1, Ordering::SeqCst);
                        }
                        let _ = write!(
                            stream,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                            name.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            // The listener closes here: the port refuses from now on.
        });
        self.running = Some(running);
    }

    fn stop(&mut self) {
        let running = self.running.take().expect("running");
        running.store(false, Ordering::SeqCst);
        // The accept loop notices within a few milliseconds and closes the port.
        std::thread::sleep(Duration::from_millis(50));
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

struct Lab {
    fleet: Fleet,
    client: Netns,
    service: i64,
    servers: Vec<Responder>,
}

fn lab(test: &str) -> Lab {
    lab_with(test, &[])
}

/// The lab, its agents started with `options` changed (see [`super::fleet_with`]).
fn lab_with(test: &str, options: &[(&str, &str)]) -> Lab {
    let mut fleet = super::fleet_with(test, 2, options);
    let client = Netns::new();
    let mut servers = Vec::new();
    {
        let lb1 = &fleet.directors[0].ns;
        let lb2 = &fleet.directors[1].ns;
        veth(
            lb1,
            "cl0",
            "172.16.0.1/24",
            &client,
            "eth0",
            "172.16.0.2/24",
        );
        for (n, name) in [(1, "rs1"), (2, "rs2"), (3, "rs3"), (9, "sry")] {
            let ns = Netns::new();
            veth(
                lb1,
                name,
                &format!("10.0.{n}.1/24"),
                &ns,
                "eth0",
                &format!("10.0.{n}.2/24"),
            );
            ns.enter(|| {
                run(
                    "ip",
                    &["route", "add", "default", "via", &format!("10.0.{n}.1")],
                )
            });
            servers.push(Responder::new(ns, name));
        }
        veth(lb1, "lb2", "10.0.99.1/24", lb2, "lan0", "10.0.99.2/24");
        lb1.enter(|| run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]));
        lb2.enter(|| run("ip", &["route", "add", "10.0.0.0/16", "via", "10.0.99.1"]));
    }
    fleet.start_agents();
    let service = fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "protocol": "tcp", "address": "172.16.0.1", "port": 80, "scheduler": "rr",
            "health_check": {"kind": "http", "path": "/health", "interval_ms": INTERVAL_MS,
                             "timeout_ms": 500, "fall": FALL, "rise": RISE},
            "real_servers": [
                {"address": "10.0.1.2", "port": 8080, "forwarding": "masq"},
                {"address": "10.0.2.2", "port": 8080, "forwarding": "masq"},
                {"address": "10.0.3.2", "port": 8080, "forwarding": "masq"}
            ]
        })),
        201,
    );
    let service = service["id"].as_i64().unwrap();
    wait_rules(
        &fleet.directors,
        &rules(&[1, 1, 1]),
        Duration::from_secs(20),
    );
    Lab {
        fleet,
        client,
        service,
        servers,
    }
}

/// `ipvsadm -Sn` of the lab with each real server at this weight.
fn rules(weights: &[u32]) -> String {
    rules_of(&weights.iter().map(|w| Some(*w)).collect::<Vec<_>>(), None)
}

/// `ipvsadm -Sn` of the lab: each real server's weight (`None`: not in the table), and the
/// sorry server's.
fn rules_of(weights: &[Option<u32>], sorry: Option<u32>) -> String {
    let mut rules = "-A -t 172.16.0.1:80 -s rr\n".to_owned();
    for (n, weight) in weights.iter().enumerate() {
        if let Some(weight) = weight {
            rules += &format!(
                "-a -t 172.16.0.1:80 -r 10.0.{}.2:8080 -m -w {weight}\n",
                n + 1
            );
        }
    }
    if let Some(weight) = sorry {
        rules += &format!("-a -t 172.16.0.1:80 -r 10.0.9.2:8080 -m -w {weight}\n");
    }
    rules
}

impl Lab {
    /// Waits for `rules` on both directors, within the time health may take to notice.
    fn health_reaches(&self, rules: &str, what: &str, results: u64) {
        self.health_reaches_each([rules, rules], what, results);
    }

    /// [`Lab::health_reaches`] with rules of each director's own.
    fn health_reaches_each(&self, rules: [&str; 2], what: &str, results: u64) {
        let bound = Duration::from_millis(results * INTERVAL_MS + 1000);
        let started = Instant::now();
        for (director, rules) in self.fleet.directors.chunks(1).zip(rules) {
            // The bound is the goal; the wait allows more so that a miss reports its time.
            wait_rules(director, rules, bound * 4);
        }
        let took = started.elapsed();
        eprintln!("health: {what} after {took:?} (goal: within {bound:?})");
        assert!(took <= bound, "{what} took {took:?}, more than {bound:?}");
    }

    /// Polls the lab service's health view until `done` says so (up to 10 s).
    fn wait_health(&self, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_service_health(self.service, done)
    }

    /// Polls a service's health view until `done` says so (up to 10 s).
    fn wait_service_health(&self, service: i64, done: impl Fn(&Value) -> bool) -> Value {
        let path = format!("/api/v1/clusters/{CLUSTER}/services/{service}/health");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let view = self.fleet.call("GET", &path, None, 200);
            if done(&view) {
                return view;
            }
            assert!(Instant::now() < deadline, "the health view stayed {view:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Edits the service and waits until both directors applied it (and so check with the
    /// new settings).
    fn patch_service(&self, patch: Value) {
        let path = format!("/api/v1/clusters/{CLUSTER}/services/{}", self.service);
        self.fleet.call("PATCH", &path, Some(patch), 200);
        let cluster = self
            .fleet
            .call("GET", &format!("/api/v1/clusters/{CLUSTER}"), None, 200);
        let generation = cluster["generation"].as_u64().unwrap();
        super::wait_all_in_sync(&self.fleet, generation);
    }

    fn vip(&self) -> SocketAddr {
        "172.16.0.1:80".parse().unwrap()
    }
}

#[test]
fn a_stopped_real_server_gets_weight_0_on_both_directors_and_comes_back() {
    let mut lab = lab("health-quiesce");
    lab.servers[1].stop();
    lab.health_reaches(&rules(&[1, 0, 1]), "rs2 down (weight 0)", FALL);

    // The server hears of it from both directors, with the reason.
    let health = lab.wait_health(|view| view["real_servers"][1]["down"] == 2);
    let rs2 = &health["real_servers"][1];
    assert_eq!(rs2["key"], "10.0.2.2:8080");
    for director in rs2["directors"].as_array().unwrap() {
        assert_eq!(director["reason"], "connection refused", "{health:#}");
    }
    let events = lab.fleet.call(
        "GET",
        &format!("/api/v1/clusters/{CLUSTER}/health-events"),
        None,
        200,
    );
    let downs = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["real_server"] == "10.0.2.2:8080" && e["health"] == "down")
        .count();
    assert_eq!(downs, 2, "one event per director: {events:#}");

    let before = lab.servers[1].hits();
    let answers = requests(&lab.client, lab.vip(), 30);
    eprintln!("health: rs2 down: {answers:?}");
    assert_eq!(answers.get("rs2"), None, "{answers:?}");
    assert_eq!(answers.values().sum::<usize>(), 30, "{answers:?}");
    assert_eq!(lab.servers[1].hits(), before, "no request reached rs2");

    lab.servers[1].start();
    lab.health_reaches(&rules(&[1, 1, 1]), "rs2 up again", RISE);
    let answers = requests(&lab.client, lab.vip(), 30);
    assert_eq!(answers.get("rs2"), Some(&10), "{answers:?}");
}

#[test]
fn remove_takes_a_dead_real_server_out_and_the_sorry_server_stands_in() {
    let mut lab = lab("health-remove");
    lab.patch_service(json!({
        "health_check": {"on_failure": "remove"},
        "sorry_server": {"address": "10.0.9.2", "port": 8080, "forwarding": "masq"}
    }));
    lab.servers[2].stop();
    lab.health_reaches(
        &rules_of(&[Some(1), Some(1), None], None),
        "rs3 removed",
        FALL,
    );

    lab.servers[0].stop();
    lab.servers[1].stop();
    lab.health_reaches(
        &rules_of(&[None, None, None], Some(1)),
        "sorry server in",
        FALL,
    );
    let answers = requests(&lab.client, lab.vip(), 5);
    assert_eq!(answers.get("sry"), Some(&5), "{answers:?}");

    // The sorry server leaves as anything removed does: at weight 0 until the connections
    // it took are gone (on lb1, which carried them), at once where it has none (lb2).
    lab.servers[0].start();
    let draining = rules_of(&[Some(1), None, None], Some(0));
    let gone = rules_of(&[Some(1), None, None], None);
    lab.health_reaches_each([&draining, &gone], "rs1 back, sorry server out", RISE);
    let answers = requests(&lab.client, lab.vip(), 5);
    assert_eq!(answers.get("rs1"), Some(&5), "{answers:?}");
}

#[test]
fn the_kernel_follows_health_while_the_server_is_down() {
    let mut lab = lab("health-offline");
    lab.fleet.stop_server();
    let started = Instant::now();
    lab.servers[0].stop();
    lab.health_reaches(&rules(&[0, 1, 1]), "rs1 down, server offline", FALL);
    lab.servers[0].start();
    lab.health_reaches(&rules(&[1, 1, 1]), "rs1 up, server offline", RISE);
    eprintln!("health: offline round trip in {:?}", started.elapsed());
}

/// A DNS server on port 53 of `ns` answering every query with NOERROR until `stop` turns
/// true; then the port is unreachable.
fn dns_server(ns: &Netns, stop: Arc<AtomicBool>) {
    let socket = ns.enter(|| std::net::UdpSocket::bind("0.0.0.0:53").unwrap());
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    std::thread::spawn(move || {
        let mut query = [0_u8; 512];
        while !stop.load(Ordering::SeqCst) {
            if let Ok((read, from)) = socket.recv_from(&mut query) {
                let mut answer = query[..read].to_vec();
                answer[2] = 0x81;
                answer[3] = 0x80;
                let _ = socket.send_to(&answer, from);
            }
        }
    });
}

/// Creates a service of the lab's VIP on `port` with rs1 on `rs_port` and `check`; its id.
fn checked_service(lab: &Lab, protocol: &str, port: u16, rs_port: u16, check: &Value) -> i64 {
    let service = lab.fleet.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services"),
        Some(json!({
            "protocol": protocol, "address": "172.16.0.1", "port": port,
            "health_check": check,
            "real_servers": [{"address": "10.0.1.2", "port": rs_port, "forwarding": "masq"}]
        })),
        201,
    );
    service["id"].as_i64().unwrap()
}

/// Whether both directors report the service's real server with this health.
fn on_both(view: &Value, health: &str) -> bool {
    view["real_servers"][0][health] == 2
}

#[test]
fn dns_https_exec_tcp_and_another_port_are_checked_from_both_directors() {
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marker = dir.join("serving");
    std::fs::write(&marker, "").unwrap();
    let program = dir.join("marker-check");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\n[ \"$LVS_RS_PORT\" = 8080 ] && test -e {}\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let scripts_dir = dir.display().to_string();
    let lab = lab_with("health-kinds", &[("--check-scripts-dir", &scripts_dir)]);

    // rs1 also serves DNS on :53 and HTTPS on :8443 (a certificate of the test's own CA).
    let rs1 = &lab.servers[0].ns;
    let dns_stop = Arc::new(AtomicBool::new(false));
    dns_server(rs1, Arc::clone(&dns_stop));
    let tls_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tls_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let tls_path = tls_dir.path().to_owned();
    let ca_file = rs1.enter(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listen: SocketAddr = "10.0.1.2:8443".parse().unwrap();
        let server = runtime.block_on(lvs_testkit::tls::TlsServer::start(&tls_path, listen));
        // Its threads were started in rs1's namespace and serve while the test runs.
        std::mem::forget(runtime);
        server.ca_file
    });

    let timing = json!({"interval_ms": INTERVAL_MS, "timeout_ms": 500, "fall": FALL, "rise": RISE});
    let with = |mut check: Value| {
        let fields = timing.as_object().unwrap().clone();
        check.as_object_mut().unwrap().extend(fields);
        check
    };
    let dns_check = with(json!({"kind": "udp-dns", "dns_name": "health.example"}));
    let dns = checked_service(&lab, "udp", 53, 53, &dns_check);
    let https_check = with(
        json!({"kind": "https", "ca_file": ca_file.display().to_string(),
                                  "expect_body": "tls ok"}),
    );
    let https = checked_service(&lab, "tcp", 443, 8443, &https_check);
    // A SYN from the agent's raw socket, answered by rs1's kernel.
    let tcp = checked_service(&lab, "tcp", 8002, 8080, &with(json!({"kind": "tcp"})));
    let port_check = with(json!({"kind": "tcp", "port": 9999}));
    let other_port = checked_service(&lab, "tcp", 8000, 8080, &port_check);
    let mut exec_check = with(json!({"kind": "exec", "command": program.display().to_string()}));
    // A program starts slowly in the emulated guest of a busy host: within the interval,
    // its exit code, not a timeout, is what the check reports.
    exec_check["timeout_ms"] = json!(INTERVAL_MS * 9 / 10);
    let exec = checked_service(&lab, "tcp", 8001, 8080, &exec_check);

    lab.wait_service_health(dns, |v| on_both(v, "up"));
    lab.wait_service_health(https, |v| on_both(v, "up"));
    lab.wait_service_health(exec, |v| on_both(v, "up"));
    lab.wait_service_health(tcp, |v| on_both(v, "up"));
    // Nothing listens on 9999, though the service's own port 8080 answers.
    let view = lab.wait_service_health(other_port, |v| on_both(v, "down"));
    for director in view["real_servers"][0]["directors"].as_array().unwrap() {
        assert_eq!(director["reason"], "connection refused", "{view:#}");
    }

    dns_stop.store(true, Ordering::SeqCst);
    std::fs::remove_file(&marker).unwrap();
    let view = lab.wait_service_health(dns, |v| on_both(v, "down"));
    eprintln!(
        "health: dns down: {:#}",
        view["real_servers"][0]["directors"]
    );
    let view = lab.wait_service_health(exec, |v| on_both(v, "down"));
    for director in view["real_servers"][0]["directors"].as_array().unwrap() {
        assert_eq!(director["reason"], "exit code 1", "{view:#}");
    }
    // Health reached the kernels: the DNS real server has weight 0 on both directors.
    for director in &lab.fleet.directors {
        let rules = director.ns.rules();
        assert!(
            rules.contains("-a -u 172.16.0.1:53 -r 10.0.1.2:53 -m -w 0"),
            "{}: {rules}",
            director.name
        );
    }
}

//! End to end: the real `lvs-server` and `lvs-agent` binaries, each agent in its own network
//! namespace (one namespace = one director with its own IPVS table), checked with `ipvsadm`.
//!
//! The test thread's own (fresh) namespace is the hub: the server listens there on
//! 0.0.0.0:8080 and every director is wired to it by a veth pair (10.200.N.1 on the hub,
//! 10.200.N.2 on director N). `cargo xtask vm-test` builds `lvs-server` and passes its path
//! in `LVS_TEST_SERVER_BIN`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use serde_json::{json, Value};

use crate::{fresh_netns, run};

const AGENT_BIN: &str = env!("CARGO_BIN_EXE_lvs-agent");
const CLUSTER: &str = "e2e";
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// The server's and the agent's binaries, copied once to the guest's tmpfs: executables on
/// the 9p root are read from the host on every start, which costs seconds for these sizes.
fn binaries() -> &'static (PathBuf, PathBuf) {
    static COPIES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    COPIES.get_or_init(|| {
        let server = std::env::var("LVS_TEST_SERVER_BIN").expect(
            "LVS_TEST_SERVER_BIN: the lvs-server binary (cargo xtask vm-test builds it and sets it)",
        );
        let dir = std::env::temp_dir().join(format!("lvs-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = |from: &str, name: &str| {
            let to = dir.join(name);
            std::fs::copy(from, &to).unwrap_or_else(|e| panic!("cannot copy {from}: {e}"));
            to
        };
        (copy(&server, "lvs-server"), copy(AGENT_BIN, "lvs-agent"))
    })
}

/// A network namespace kept alive by an open descriptor.
struct Netns(File);

impl Netns {
    /// A new namespace with `lo` up.
    fn new() -> Netns {
        std::thread::spawn(|| {
            fresh_netns();
            Netns(File::open("/proc/thread-self/ns/net").unwrap())
        })
        .join()
        .unwrap()
    }

    /// The calling thread's namespace.
    fn current() -> Netns {
        Netns(File::open("/proc/thread-self/ns/net").unwrap())
    }

    /// A path to this namespace usable by `ip ... netns PATH`.
    fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.0.as_raw_fd())
    }

    /// Runs `f` on a thread inside this namespace (processes it spawns stay there).
    fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(&self.0, CloneFlags::CLONE_NEWNET).unwrap();
                    f()
                })
                .join()
                .unwrap()
        })
    }

    /// `ipvsadm -Sn` in this namespace.
    fn rules(&self) -> String {
        self.enter(|| run("ipvsadm", &["-Sn"]))
    }
}

struct Director {
    name: String,
    ns: Netns,
    token: String,
    state_dir: tempfile::TempDir,
    url: String,
    agent: Option<Child>,
    /// Log file of each start of the agent.
    logs: Vec<PathBuf>,
}

impl Director {
    fn start_agent(&mut self, logs_dir: &Path) {
        assert!(self.agent.is_none());
        let log = logs_dir.join(format!("agent-{}-{}.log", self.name, self.logs.len()));
        let file = File::create(&log).unwrap();
        let mut command = Command::new(&binaries().1);
        command
            .args(["--server", &self.url, "--token", &self.token])
            .arg("--state-dir")
            .arg(self.state_dir.path())
            .arg("--reconcile-interval")
            .arg(format!("{}ms", RECONCILE_INTERVAL.as_millis()))
            .args(["--max-backoff", "1s"])
            .args(["--stats-interval", "2s", "--poll-timeout", "30s"])
            .args(["--log-format", "json", "--log", "lvs_agent=debug,info"])
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        self.agent = Some(self.ns.enter(|| command.spawn().unwrap()));
        self.logs.push(log);
    }

    /// SIGTERM, and waits for the agent to exit.
    fn stop_agent(&mut self) {
        if let Some(agent) = self.agent.take() {
            terminate(agent);
        }
    }
}

/// A server in the test thread's namespace and directors wired to it.
struct Lab {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    data: tempfile::TempDir,
    logs: PathBuf,
    server: Option<Child>,
    server_starts: usize,
    directors: Vec<Director>,
}

impl Lab {
    /// Moves the test thread into a fresh namespace, starts the server there with cluster
    /// [`CLUSTER`], and creates `directors` directors (namespaces, veths, tokens) without
    /// starting their agents.
    fn new(test: &str, directors: usize) -> Lab {
        fresh_netns();
        let artifacts = std::env::var_os("LVS_VM_ARTIFACTS")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let logs = artifacts.join(format!("e2e-{test}"));
        std::fs::create_dir_all(&logs).unwrap();
        let mut lab = Lab {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            data: tempfile::tempdir().unwrap(),
            logs,
            server: None,
            server_starts: 0,
            directors: Vec::new(),
        };
        lab.start_server();
        lab.call(
            "POST",
            "/api/v1/clusters",
            Some(json!({"name": CLUSTER})),
            201,
        );
        for n in 1..=directors {
            lab.add_director(&format!("lb{n}"));
        }
        lab
    }

    fn add_director(&mut self, name: &str) {
        let n = self.directors.len() + 1;
        let ns = Netns::new();
        veth(
            &Netns::current(),
            &format!("h{n}"),
            &format!("10.200.{n}.1/24"),
            &ns,
            "up0",
            &format!("10.200.{n}.2/24"),
        );
        self.call(
            "POST",
            &format!("/api/v1/clusters/{CLUSTER}/directors"),
            Some(json!({"name": name})),
            201,
        );
        let token = self.call(
            "POST",
            &format!("/api/v1/clusters/{CLUSTER}/directors/{name}/token"),
            None,
            201,
        )["token"]
            .as_str()
            .unwrap()
            .to_owned();
        self.directors.push(Director {
            name: name.to_owned(),
            ns,
            token,
            state_dir: tempfile::tempdir().unwrap(),
            url: format!("http://10.200.{n}.1:8080"),
            agent: None,
            logs: Vec::new(),
        });
    }

    fn start_agents(&mut self) {
        for director in &mut self.directors {
            director.start_agent(&self.logs);
        }
    }

    fn start_server(&mut self) {
        let log = self.logs.join(format!("server-{}.log", self.server_starts));
        self.server_starts += 1;
        let file = File::create(log).unwrap();
        let child = Command::new(&binaries().0)
            .args(["--listen", "0.0.0.0:8080"])
            .arg("--data-dir")
            .arg(self.data.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self.rt.block_on(async {
                self.http
                    .get("http://127.0.0.1:8080/readyz")
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "lvs-server did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_server(&mut self) {
        if let Some(server) = self.server.take() {
            terminate(server);
        }
    }

    /// An API call that must answer `status`; returns the JSON body (Null when empty).
    fn call(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let url = format!("http://127.0.0.1:8080{path}");
        let (got, text) = self.rt.block_on(async {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let got = response.status().as_u16();
            (got, response.text().await.unwrap())
        });
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    /// Replaces the cluster's desired state; returns the new generation.
    fn put_state(&self, services: &Value) -> u64 {
        let diff = self.call(
            "PUT",
            &format!("/api/v1/clusters/{CLUSTER}/desired-state"),
            Some(json!({"services": services})),
            200,
        );
        diff["to_generation"].as_u64().unwrap()
    }

    fn status(&self, director: &str) -> Value {
        self.call(
            "GET",
            &format!("/api/v1/clusters/{CLUSTER}/directors/{director}"),
            None,
            200,
        )["status"]
            .clone()
    }

    /// Waits until `check` holds for the director's status.
    fn wait_status(&self, director: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.status(director);
            if check(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{director}: never {what}; status {status:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for director in &mut self.directors {
            if let Some(mut agent) = director.agent.take() {
                let _ = agent.kill();
                let _ = agent.wait();
            }
        }
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

/// SIGTERM, then waits (up to 10 s, then SIGKILL) for the process to exit.
fn terminate(mut child: Child) {
    run("kill", &["-TERM", &child.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} ignored SIGTERM for 10 s", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Web on 192.0.2.10:80 (wrr) with two masq real servers of the given weights.
fn web(weights: [u32; 2]) -> Value {
    json!([{
        "protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
        "real_servers": [
            {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": weights[0]},
            {"address": "10.0.0.12", "port": 8080, "forwarding": "masq", "weight": weights[1]}
        ]
    }])
}

/// `ipvsadm -Sn` of [`web`].
fn web_rules(weights: [u32; 2]) -> String {
    format!(
        "-A -t 192.0.2.10:80 -s wrr\n\
         -a -t 192.0.2.10:80 -r 10.0.0.11:8080 -m -w {}\n\
         -a -t 192.0.2.10:80 -r 10.0.0.12:8080 -m -w {}\n",
        weights[0], weights[1]
    )
}

/// Waits until every director's kernel shows `rules`, polling all of them in parallel;
/// returns the longest wait.
fn wait_rules(directors: &[Director], rules: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let waits: Vec<_> = directors
            .iter()
            .map(|director| {
                scope.spawn(move || {
                    setns(&director.ns.0, CloneFlags::CLONE_NEWNET).unwrap();
                    loop {
                        let now = run("ipvsadm", &["-Sn"]);
                        if now == rules {
                            return started.elapsed();
                        }
                        assert!(
                            started.elapsed() < limit,
                            "{}: the kernel did not reach\n{rules}within {limit:?}; it has\n{now}",
                            director.name
                        );
                        std::thread::sleep(Duration::from_millis(10));
                    }
                })
            })
            .collect();
        waits
            .into_iter()
            .map(|wait| wait.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

/// The agent's JSON log lines with this message.
fn log_events(log: &Path, message: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["fields"]["message"] == message)
        .collect()
}

/// Waits until every director's kernel has real servers of exactly these weights (in
/// address order), polling them in parallel over netlink (cheap: spawning `ipvsadm` every
/// few milliseconds on three threads would starve the agents of the guest's one CPU);
/// returns the longest wait.
fn wait_weights(directors: &[Director], weights: &[u32], limit: Duration) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let waits: Vec<_> = directors
            .iter()
            .map(|director| {
                scope.spawn(move || {
                    setns(&director.ns.0, CloneFlags::CLONE_NEWNET).unwrap();
                    let mut ipvs = lvs_ipvs::Ipvs::connect().unwrap();
                    loop {
                        let mut servers: Vec<_> = ipvs
                            .table()
                            .unwrap()
                            .iter()
                            .flat_map(|entry| &entry.destinations)
                            .map(|d| (d.destination.addr, d.destination.weight))
                            .collect();
                        servers.sort_unstable();
                        let now: Vec<u32> = servers.iter().map(|(_, weight)| *weight).collect();
                        if now == weights {
                            return started.elapsed();
                        }
                        assert!(
                            started.elapsed() < limit,
                            "{}: weights {now:?}, not {weights:?}, after {limit:?}",
                            director.name
                        );
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        waits
            .into_iter()
            .map(|wait| wait.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

/// Three directors: API changes reach every kernel within a second; with the server stopped
/// the kernels stay (and drift is still repaired from the cache); the agents reconnect when
/// the server returns. (One test, as every lab costs seconds to set up in the guest.)
#[test]
fn three_directors_follow_the_api_within_a_second_and_outlast_a_server_restart() {
    let mut lab = Lab::new("three-directors", 3);
    lab.start_agents();
    let generation = lab.put_state(&web([1, 1]));
    wait_rules(&lab.directors, &web_rules([1, 1]), Duration::from_secs(20));
    for director in &lab.directors {
        lab.wait_status(&director.name, "in sync", |s| {
            s["sync"] == "in_sync" && s["applied_generation"] == generation
        });
    }
    // The first edit is a warm-up: under emulation, QEMU translates every code path the
    // first time it runs (the agents' edit path, the server's PATCH path), which costs
    // several hundred milliseconds once. It is shown but not held to the limit.
    let mut latencies = Vec::new();
    for weight in 2..=5 {
        let started = Instant::now();
        lab.put_state(&web([1, weight]));
        let api = started.elapsed();
        let latency = wait_weights(&lab.directors, &[1, weight], Duration::from_secs(5));
        eprintln!(
            "propagation{}: API call {:.0} ms, every kernel {:.0} ms after it returned",
            if weight == 2 { " (warm-up)" } else { "" },
            api.as_secs_f64() * 1000.0,
            latency.as_secs_f64() * 1000.0
        );
        if weight > 2 {
            latencies.push(latency);
        }
        for director in &lab.directors {
            assert_eq!(
                director.ns.rules(),
                web_rules([1, weight]),
                "{}",
                director.name
            );
        }
    }
    let worst = latencies.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_secs(1),
        "propagation took {worst:?} (all: {latencies:?})"
    );

    lab.stop_server();
    // Several reconcile periods without the server: nothing changes.
    std::thread::sleep(RECONCILE_INTERVAL * 2 + Duration::from_millis(500));
    for director in &mut lab.directors {
        assert_eq!(director.ns.rules(), web_rules([1, 5]), "{}", director.name);
        assert!(
            director
                .agent
                .as_mut()
                .is_some_and(|a| a.try_wait().unwrap().is_none()),
            "{}: the agent exited without the server",
            director.name
        );
    }
    // Drift repair continues from the last desired state.
    lab.directors[1].ns.enter(|| run("ipvsadm", &["-C"]));
    wait_rules(
        &lab.directors,
        &web_rules([1, 5]),
        RECONCILE_INTERVAL + Duration::from_secs(1),
    );

    lab.start_server();
    let generation = lab.put_state(&web([3, 1]));
    let after = wait_rules(&lab.directors, &web_rules([3, 1]), Duration::from_secs(10));
    eprintln!(
        "reconnect: the first change after the server restart reached every kernel in {after:?}"
    );
    for director in &lab.directors {
        lab.wait_status(&director.name, "in sync", |s| {
            s["sync"] == "in_sync" && s["applied_generation"] == generation
        });
    }
}

#[test]
fn an_agent_restart_against_a_matching_table_writes_nothing() {
    let mut lab = Lab::new("restart", 1);
    lab.start_agents();
    let generation = lab.put_state(&web([1, 2]));
    wait_rules(&lab.directors, &web_rules([1, 2]), Duration::from_secs(20));
    lab.wait_status("lb1", "in sync", |s| s["applied_generation"] == generation);

    let director = &mut lab.directors[0];
    director.stop_agent();
    director.start_agent(&lab.logs);
    let log = director.logs[1].clone();
    // The restarted agent connects, applies and reports (its status shows it again).
    let deadline = Instant::now() + Duration::from_secs(20);
    while log_events(&log, "reconciled").is_empty() {
        assert!(
            Instant::now() < deadline,
            "no reconcile pass in {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Also one periodic pass.
    std::thread::sleep(RECONCILE_INTERVAL + Duration::from_millis(500));
    let passes = log_events(&log, "reconciled");
    assert!(!passes.is_empty());
    for pass in &passes {
        assert_eq!(pass["fields"]["commands"], 0, "a kernel write: {pass}");
    }
    assert!(log_events(&log, "applied").is_empty());
    assert!(log_events(&log, "drift repaired").is_empty());
    assert_eq!(lab.directors[0].ns.rules(), web_rules([1, 2]));
    lab.wait_status("lb1", "in sync", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == generation
    });
}

#[test]
fn a_flushed_table_is_repaired_within_one_reconcile_period_and_reported_as_drift() {
    let mut lab = Lab::new("drift", 1);
    lab.start_agents();
    let generation = lab.put_state(&web([1, 2]));
    wait_rules(&lab.directors, &web_rules([1, 2]), Duration::from_secs(20));
    lab.wait_status("lb1", "in sync", |s| s["applied_generation"] == generation);

    lab.directors[0].ns.enter(|| run("ipvsadm", &["-C"]));
    let repaired = wait_rules(
        &lab.directors,
        &web_rules([1, 2]),
        RECONCILE_INTERVAL + Duration::from_secs(1),
    );
    eprintln!("drift: ipvsadm -C repaired after {repaired:?}");

    // A hand-edited weight too.
    lab.directors[0].ns.enter(|| {
        run(
            "ipvsadm",
            &[
                "-e",
                "-t",
                "192.0.2.10:80",
                "-r",
                "10.0.0.12:8080",
                "-m",
                "-w",
                "9",
            ],
        )
    });
    wait_rules(
        &lab.directors,
        &web_rules([1, 2]),
        RECONCILE_INTERVAL + Duration::from_secs(1),
    );
    let status = lab.wait_status("lb1", "reporting drift", |s| {
        s["drift_repaired"].as_array().is_some_and(|d| d.len() >= 2)
    });
    assert_eq!(status["sync"], "in_sync", "{status:#}");
}

#[test]
fn pre_existing_rules_at_generation_0_are_kept_and_import_adopts_them() {
    let mut lab = Lab::new("import", 1);
    let existing = "\
-A -t 192.0.2.20:443 -s wlc
-a -t 192.0.2.20:443 -r 10.0.0.21:443 -m -w 3
-a -t 192.0.2.20:443 -r 10.0.0.22:443 -m -w 1
-A -u 192.0.2.20:53 -s rr
-a -u 192.0.2.20:53 -r 10.0.0.23:53 -m -w 1
";
    lab.directors[0].ns.enter(|| {
        let mut restore = Command::new("ipvsadm")
            .arg("-R")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        restore
            .stdin
            .take()
            .unwrap()
            .write_all(existing.as_bytes())
            .unwrap();
        assert!(restore.wait().unwrap().success());
    });
    let before = lab.directors[0].ns.rules();
    lab.start_agents();
    let status = lab.wait_status("lb1", "reporting its unmanaged services", |s| {
        s["unmanaged_services"] == 2
    });
    assert_eq!(status["applied_generation"], 0, "{status:#}");
    // Several reconcile periods: still there.
    std::thread::sleep(RECONCILE_INTERVAL + Duration::from_millis(500));
    assert_eq!(lab.directors[0].ns.rules(), before);

    let diff = lab.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/import?from_director=lb1"),
        None,
        200,
    );
    assert_eq!(diff["to_generation"], 1, "{diff:#}");
    let status = lab.wait_status("lb1", "in sync at generation 1", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == 1
    });
    assert_eq!(status["unmanaged_services"], 0, "{status:#}");
    std::thread::sleep(RECONCILE_INTERVAL + Duration::from_millis(500));
    assert_eq!(lab.directors[0].ns.rules(), before);
    let log = lab.directors[0].logs[0].clone();
    assert!(
        log_events(&log, "applied").is_empty(),
        "the import changed the kernel: {:?}",
        log_events(&log, "applied")
    );
}

/// A veth pair: `a_name` with `a_cidr` in `a`, `b_name` with `b_cidr` in `b`, both up
/// (one `ip -batch` per side: every process start is slow under emulation).
fn veth(a: &Netns, a_name: &str, a_cidr: &str, b: &Netns, b_name: &str, b_cidr: &str) {
    let b_path = b.path();
    a.enter(|| {
        ip_batch(&format!(
            "link add {a_name} type veth peer name {b_name} netns {b_path}\n\
             addr add {a_cidr} dev {a_name}\n\
             link set {a_name} up\n"
        ));
    });
    b.enter(|| {
        ip_batch(&format!(
            "addr add {b_cidr} dev {b_name}\nlink set {b_name} up\n"
        ))
    });
}

/// `ip -batch -` with these commands, in the calling thread's namespace.
fn ip_batch(commands: &str) {
    let mut ip = Command::new("ip")
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    ip.stdin
        .take()
        .unwrap()
        .write_all(commands.as_bytes())
        .unwrap();
    assert!(
        ip.wait().unwrap().success(),
        "ip -batch failed:\n{commands}"
    );
}

/// A tiny HTTP server on 0.0.0.0:8080 in `ns` answering `name` to every request, counting
/// them; it keeps each connection until the client closes it. It lives as long as the test
/// process.
fn http_server(ns: &Netns, name: &'static str) -> Arc<AtomicUsize> {
    let listener = ns.enter(|| TcpListener::bind("0.0.0.0:8080").unwrap());
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
fn held_request(client: &Netns, vip: SocketAddr) -> (TcpStream, String) {
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
fn requests(client: &Netns, vip: SocketAddr, count: usize) -> BTreeMap<String, usize> {
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
/// started) and two real servers 10.0.1.2 and 10.0.2.2 answering `rs1` and `rs2` on port
/// 8080, whose default gateway is the director; wrr weights 1 and 2 set through the API
/// and in the kernel.
struct NatLab {
    lab: Lab,
    client: Netns,
    service: i64,
    hits: [Arc<AtomicUsize>; 2],
}

const VIP: &str = "172.16.0.1:80";

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
    let mut lab = Lab::new(test, 1);
    let client = Netns::new();
    let rs1 = Netns::new();
    let rs2 = Netns::new();
    {
        let director = &lab.directors[0].ns;
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
        director.enter(|| run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]));
        rs1.enter(|| run("ip", &["route", "add", "default", "via", "10.0.1.1"]));
        rs2.enter(|| run("ip", &["route", "add", "default", "via", "10.0.2.1"]));
    }
    let hits1 = http_server(&rs1, "rs1");
    let hits2 = http_server(&rs2, "rs2");
    lab.start_agents();

    let service = lab.call(
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
    wait_rules(&lab.directors, &nat_rules(Some(2)), Duration::from_secs(20));
    NatLab {
        lab,
        client,
        service,
        hits: [hits1, hits2],
    }
}

/// The id of a real server of the lab's service, by address.
fn real_server_id(lab: &Lab, service: i64, address: &str) -> i64 {
    let servers = lab.call(
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
        lab,
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
    let rs2_id = real_server_id(&lab, service, "10.0.2.2");
    lab.call(
        "POST",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers/{rs2_id}/drain"),
        None,
        200,
    );
    wait_rules(&lab.directors, &nat_rules(Some(0)), Duration::from_secs(5));
    let before = hits2.load(Ordering::SeqCst);
    let answers = requests(&client, vip, 60);
    eprintln!("nat lab: rs2 drained: {answers:?}");
    assert_eq!(answers.get("rs1").copied(), Some(60), "{answers:?}");
    assert_eq!(hits2.load(Ordering::SeqCst), before);
}

#[test]
fn a_removed_real_server_with_open_connections_drains_before_it_goes() {
    let NatLab {
        lab,
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

    let rs2 = real_server_id(&lab, service, "10.0.2.2");
    lab.call(
        "DELETE",
        &format!("/api/v1/clusters/{CLUSTER}/services/{service}/real-servers/{rs2}"),
        None,
        204,
    );
    // First weight 0: no new connection, the open one goes on.
    wait_rules(&lab.directors, &nat_rules(Some(0)), Duration::from_secs(5));
    let before = hits2.load(Ordering::SeqCst);
    let answers = requests(&client, vip, 10);
    assert_eq!(answers.get("rs1").copied(), Some(10), "{answers:?}");
    assert_eq!(hits2.load(Ordering::SeqCst), before);
    // Kept while its connection is open (several drain checks).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.directors[0].ns.rules(), nat_rules(Some(0)));

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
    let gone = wait_rules(&lab.directors, &nat_rules(None), Duration::from_secs(30));
    eprintln!("nat remove: rs2 deleted {gone:?} after its connections ended");
}

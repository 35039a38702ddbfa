//! (d) Health checks side by side with keepalived: the same 2,000 real servers (500
//! services x 4, an HTTP responder on 2,000 addresses in a namespace of their own) checked
//! every 2 s by `lvs-agent` in one director namespace and by Debian's keepalived (its
//! checker process alone, configured from the same desired state) in another.
//!
//! - CPU per 1,000 checks over a window, each process's user + system time (keepalived's
//!   parent and checker child together); goal: at most half of keepalived's.
//! - Detection: a responder stopped (its port refuses) until weight 0 in each kernel, over
//!   several deaths; goal: p99 within fall x interval + 200 ms (keepalived: `retry 2` after
//!   the first failure, so the same three failed attempts) and no worse than keepalived's.
//! - CPU with 10% of the real servers dead against all healthy; goal: within 1.5x. Their
//!   addresses are gone, so their checks time out, as a dead host's do.
//! - Resident memory of each.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lvs_testkit::fleet::{Binaries, Fleet};
use lvs_testkit::{ip_batch, run, veth, Netns};
use serde_json::{json, Value};

use crate::cpu;
use crate::figures::{percentile, show, Figures};

const SERVICES: usize = 500;
const PER_SERVICE: usize = 4;
const REAL_SERVERS: usize = SERVICES * PER_SERVICE;
const INTERVAL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(1);
const FALL: u32 = 3;
const WINDOW: Duration = Duration::from_secs(30);
const DEATHS: usize = 10;
const DEAD_SHARE: usize = 10;

fn real_server(i: usize) -> String {
    format!("10.1.{}.{}", i / 250, i % 250 + 1)
}

fn vip(s: usize) -> String {
    format!("172.16.{}.{}", s / 250, s % 250 + 1)
}

fn services() -> Value {
    let check = json!({"kind": "http", "path": "/", "interval_ms": INTERVAL.as_millis() as u64,
                       "timeout_ms": TIMEOUT.as_millis() as u64, "fall": FALL, "rise": 2});
    let services: Vec<Value> = (0..SERVICES)
        .map(|s| {
            let servers: Vec<Value> = (0..PER_SERVICE)
                .map(|j| {
                    json!({"address": real_server(s * PER_SERVICE + j), "port": 80,
                           "forwarding": "masq", "weight": 1})
                })
                .collect();
            json!({"protocol": "tcp", "address": vip(s), "port": 80, "scheduler": "wlc",
                   "health_check": check, "real_servers": servers})
        })
        .collect();
    Value::Array(services)
}

/// keepalived's configuration of the same services and checks: weight 0 on failure
/// (`inhibit_on_failure`, as `quiesce`), three failed attempts before it.
fn keepalived_conf() -> String {
    let mut conf = "global_defs {\n  router_id bench\n}\n".to_owned();
    for s in 0..SERVICES {
        let _ = write!(
            conf,
            "virtual_server {} 80 {{\n  delay_loop {}\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n",
            vip(s),
            INTERVAL.as_secs()
        );
        for j in 0..PER_SERVICE {
            let _ = write!(
                conf,
                "  real_server {} 80 {{\n    weight 1\n    inhibit_on_failure\n    HTTP_GET {{\n      \
                 url {{\n        path /\n        status_code 200\n      }}\n      connect_timeout {}\n      \
                 retry {}\n      delay_before_retry {}\n    }}\n  }}\n",
                real_server(s * PER_SERVICE + j),
                TIMEOUT.as_secs(),
                FALL - 1,
                INTERVAL.as_secs()
            );
        }
        conf.push_str("}\n");
    }
    conf
}

/// HTTP servers on port 80 of each real server's address in a namespace of their own, each
/// stoppable (its port then refuses, as a stopped server's does).
struct Responders {
    runtime: tokio::runtime::Handle,
    running: std::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Responders {
    fn start(ns: &Netns) -> Responders {
        let runtime = ns.enter(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let handle = runtime.handle().clone();
            // Its thread was started in the namespace and serves while the benchmark runs.
            std::mem::forget(runtime);
            handle
        });
        let responders = Responders {
            runtime,
            running: std::sync::Mutex::default(),
        };
        for i in 0..REAL_SERVERS {
            responders.revive(ns, &real_server(i));
        }
        responders
    }

    /// Starts answering on `address` (again); the socket is made in `ns`, where the
    /// address is.
    fn revive(&self, ns: &Netns, address: &str) {
        let listen = format!("{address}:80");
        let listener = ns.enter(|| std::net::TcpListener::bind(&listen).unwrap());
        listener.set_nonblocking(true).unwrap();
        let _runtime = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let task = self.runtime.spawn(serve(listener));
        self.running
            .lock()
            .unwrap()
            .insert(address.to_owned(), task);
    }

    /// Stops answering on `address`: its port refuses from now on.
    fn kill(&self, address: &str) {
        if let Some(task) = self.running.lock().unwrap().remove(address) {
            task.abort();
        }
        // The abort takes effect on the runtime's thread; the port closes with the task.
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn serve(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        // Out of descriptors for a moment is no reason to stop answering.
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(async move {
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await;
            let _ = stream
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
        });
    }
}

/// As many descriptors as the system allows: the responders hold a connection per check
/// in flight, thousands a second.
fn raise_open_files() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE to its maximum");
}

/// How many real servers of `ns`'s table have weight 0.
fn quiesced(ns: &Netns) -> usize {
    ns.rules().lines().filter(|l| l.ends_with(" -w 0")).count()
}

/// The weight of real server `address` of service `vip` in `ns`'s table: one service read,
/// so that watching costs the guest little.
fn weight_in(ns: &Netns, vip: &str, address: &str) -> Option<u32> {
    let listing = ns.enter(|| run("ipvsadm", &["-Ln", "-t", &format!("{vip}:80")]));
    let needle = format!("-> {address}:80 ");
    listing
        .lines()
        .find(|l| l.contains(&needle))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|w| w.parse().ok())
}

/// Waits until `done` holds for both directors (up to `limit`).
fn wait_both(directors: [&Netns; 2], limit: Duration, done: impl Fn(&str) -> bool) {
    let started = Instant::now();
    for ns in directors {
        loop {
            if done(&ns.rules()) {
                break;
            }
            assert!(
                started.elapsed() < limit,
                "the tables did not get there within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// keepalived's parent and checker processes.
struct Keepalived {
    child: Child,
    checker_pid_file: std::path::PathBuf,
}

impl Keepalived {
    fn start(ns: &Netns, dir: &Path) -> Keepalived {
        let conf = dir.join("keepalived.conf");
        std::fs::write(&conf, keepalived_conf()).unwrap();
        let checker_pid_file = dir.join("checkers.pid");
        let log = std::fs::File::create(dir.join("keepalived.log")).unwrap();
        let child = ns.enter(|| {
            Command::new("keepalived")
                .args(["--dont-fork", "--check", "--use-file"])
                .arg(&conf)
                .arg("--pid")
                .arg(dir.join("keepalived.pid"))
                .arg("--checkers_pid")
                .arg(&checker_pid_file)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("keepalived (Debian package keepalived) runs")
        });
        Keepalived {
            child,
            checker_pid_file,
        }
    }

    fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        if let Some(pid) = std::fs::read_to_string(&self.checker_pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            pids.push(pid);
        }
        pids
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cpu_of(pids: &[u32]) -> Duration {
    pids.iter().map(|&pid| cpu::process_time(pid)).sum()
}

fn rss_mb(pids: &[u32]) -> f64 {
    let kb: u64 = pids
        .iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    kb as f64 / 1024.0
}

/// CPU per 1,000 checks of each over [`WINDOW`]: (agent, keepalived) in milliseconds.
fn cpu_per_thousand(agent: &[u32], keepalived: &[u32]) -> (f64, f64) {
    let (a0, k0) = (cpu_of(agent), cpu_of(keepalived));
    std::thread::sleep(WINDOW);
    let (a1, k1) = (cpu_of(agent), cpu_of(keepalived));
    let thousands = (REAL_SERVERS as f64 * WINDOW.as_secs_f64() / INTERVAL.as_secs_f64()) / 1000.0;
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / thousands;
    (per(a1 - a0), per(k1 - k0))
}

pub fn measure(binaries: &Binaries, figures: &mut Figures) {
    let mut fleet = Fleet::with_local_logs(
        "bench-health",
        "bench",
        binaries,
        // Statistics off: keepalived sends none, and the CPU compared is the checks'.
        &[
            "--log-format",
            "json",
            "--log",
            "info",
            "--stats-interval",
            "3600s",
        ],
    );
    raise_open_files();
    fleet.add_director("lb1");
    let keepalived_ns = Netns::new();
    let rs = Netns::new();
    let agent_ns = &fleet.directors[0].ns;
    veth(agent_ns, "rs0", "10.9.1.1/24", &rs, "a0", "10.9.1.2/24");
    veth(
        &keepalived_ns,
        "rs0",
        "10.9.2.1/24",
        &rs,
        "k0",
        "10.9.2.2/24",
    );
    agent_ns.enter(|| run("ip", &["route", "add", "10.1.0.0/16", "via", "10.9.1.2"]));
    keepalived_ns.enter(|| run("ip", &["route", "add", "10.1.0.0/16", "via", "10.9.2.2"]));
    let mut addresses = "link add rs type dummy\nlink set rs up\n".to_owned();
    for i in 0..REAL_SERVERS {
        let _ = writeln!(addresses, "addr add {}/32 dev rs", real_server(i));
    }
    rs.enter(|| ip_batch(&addresses));
    let responders = Responders::start(&rs);

    fleet.put_state(&services());
    fleet.start_agent(0);
    let dir = tempfile::tempdir().unwrap();
    let keepalived = Keepalived::start(&keepalived_ns, dir.path());
    let agent_pid = fleet.directors[0]
        .agent()
        .map(|a| a.id())
        .expect("the agent runs");
    let directors = [&fleet.directors[0].ns, &keepalived_ns];
    let all_up =
        |rules: &str| rules.lines().filter(|l| l.ends_with(" -w 1")).count() == REAL_SERVERS;
    wait_both(directors, Duration::from_secs(300), all_up);
    // Both have run a few rounds of checks.
    std::thread::sleep(INTERVAL * 3);

    let agent = [agent_pid];
    let keepalived_pids = keepalived.pids();
    let (agent_cpu, keepalived_cpu) = cpu_per_thousand(&agent, &keepalived_pids);
    figures.goal(
        "health: CPU per 1,000 HTTP checks, lvs-agent",
        format!("{agent_cpu:.1} ms (keepalived {keepalived_cpu:.1} ms)"),
        "at most half of keepalived's",
        agent_cpu <= keepalived_cpu / 2.0,
    );
    figures.info(
        "health: resident memory with 2,000 checks",
        format!(
            "lvs-agent {:.1} MB, keepalived {:.1} MB (parent and checker)",
            rss_mb(&agent),
            rss_mb(&keepalived_pids)
        ),
    );

    // Deaths, one at a time: the address goes, so its checks time out.
    let (mut agent_times, mut keepalived_times) = (Vec::new(), Vec::new());
    for death in 0..DEATHS {
        let index = death * 97 % REAL_SERVERS;
        let (address, service_vip) = (real_server(index), vip(index / PER_SERVICE));
        responders.kill(&address);
        let died = Instant::now();
        let mut seen = [None, None];
        while seen.iter().any(Option::is_none) {
            for (k, ns) in directors.iter().enumerate() {
                if seen[k].is_none() && weight_in(ns, &service_vip, &address) == Some(0) {
                    seen[k] = Some(died.elapsed());
                }
            }
            let waited = died.elapsed();
            assert!(waited < Duration::from_secs(60), "{address}: {seen:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        agent_times.push(seen[0].unwrap_or_default());
        keepalived_times.push(seen[1].unwrap_or_default());
        responders.revive(&rs, &address);
        for ns in directors {
            let back = Instant::now();
            while weight_in(ns, &service_vip, &address) != Some(1) {
                let waited = back.elapsed();
                assert!(
                    waited < Duration::from_secs(60),
                    "{address} did not come back"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let bound = INTERVAL * FALL + Duration::from_millis(200);
    let (agent_p99, keepalived_p99) = (
        percentile(&agent_times, 99.0),
        percentile(&keepalived_times, 99.0),
    );
    figures.goal(
        "health: detection, death to weight 0, lvs-agent p50 / p99",
        format!(
            "{} / {} (keepalived {} / {})",
            show(percentile(&agent_times, 50.0)),
            show(agent_p99),
            show(percentile(&keepalived_times, 50.0)),
            show(keepalived_p99)
        ),
        &format!("p99 within {} and no worse than keepalived's", show(bound)),
        agent_p99 <= bound && agent_p99 <= keepalived_p99,
    );

    // One in ten dead for good: timeouts all the time.
    let dead: Vec<String> = (0..REAL_SERVERS)
        .filter(|i| i % DEAD_SHARE == 0)
        .map(real_server)
        .collect();
    let mut commands = String::new();
    for address in &dead {
        let _ = writeln!(commands, "addr del {address}/32 dev rs");
    }
    rs.enter(|| ip_batch(&commands));
    let gone = dead.len();
    let started = Instant::now();
    while directors.iter().any(|ns| quiesced(ns) < gone) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the dead were not all quiesced"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (agent_dead, keepalived_dead) = cpu_per_thousand(&agent, &keepalived_pids);
    let ratio = agent_dead / agent_cpu.max(f64::MIN_POSITIVE);
    figures.goal(
        "health: CPU with 10% dead (timeouts) against all healthy, lvs-agent",
        format!(
            "{ratio:.2}x: {agent_dead:.1} ms per 1,000 checks (keepalived {:.2}x: {keepalived_dead:.1} ms)",
            keepalived_dead / keepalived_cpu.max(f64::MIN_POSITIVE)
        ),
        "at most 1.5x",
        ratio <= 1.5,
    );
    drop(keepalived);
}

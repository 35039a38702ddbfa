//! End to end: the real `lvs-server` and `lvs-agent` binaries, each agent in its own network
//! namespace (one namespace = one director with its own IPVS table), checked with `ipvsadm`
//! and over netlink.
//!
//! Each test's thread moves into a fresh namespace, the hub: the server listens there on
//! 0.0.0.0:8080 and every director is wired to it by a veth pair (see
//! `lvs_testkit::fleet`). `cargo xtask vm-test` builds `lvs-server` and passes its path in
//! `LVS_TEST_SERVER_BIN`.

mod auth;
mod conn_sync;
mod health;
mod host;
mod nat;
mod real_server;
mod stats;
mod sync;
mod tls;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lvs_testkit::fleet::{log_events, AgentHost, Binaries, Fleet};
use serde_json::{json, Value};

use crate::run;

pub const CLUSTER: &str = "e2e";
pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// The server's and the agent's binaries, copied once to the guest's tmpfs.
fn binaries() -> &'static Binaries {
    static COPIES: OnceLock<Binaries> = OnceLock::new();
    COPIES.get_or_init(|| {
        let server = std::env::var("LVS_TEST_SERVER_BIN").expect(
            "LVS_TEST_SERVER_BIN: the lvs-server binary (cargo xtask vm-test builds it and sets it)",
        );
        Binaries::copied(server.as_ref(), env!("CARGO_BIN_EXE_lvs-agent").as_ref())
    })
}

/// A fleet for `test` with `directors` directors (`lb1`, `lb2`, ...) whose agents are not
/// started yet. The agents reconcile every [`RECONCILE_INTERVAL`], back off at most 1 s,
/// send statistics every 2 s, hold a long-poll for 30 s and log JSON at debug level;
/// `changed` replaces some of these options (`("--stats-interval", "1s")`).
pub fn fleet_with(test: &str, directors: usize, changed: &[(&str, &str)]) -> Fleet {
    fleet_started_by(Fleet::new, test, directors, changed)
}

/// [`fleet`] over HTTPS: the agents verify the server with `--ca-file`.
pub fn fleet_with_tls(test: &str, directors: usize) -> Fleet {
    fleet_started_by(Fleet::with_tls, test, directors, &[])
}

/// How [`Fleet::new`] and [`Fleet::with_tls`] start a fleet.
type Start = fn(&str, &str, &Binaries, &[&str]) -> Fleet;

fn fleet_started_by(start: Start, test: &str, directors: usize, changed: &[(&str, &str)]) -> Fleet {
    let reconcile = format!("{}ms", RECONCILE_INTERVAL.as_millis());
    let mut options = [
        ("--reconcile-interval", reconcile.as_str()),
        ("--max-backoff", "1s"),
        ("--stats-interval", "2s"),
        ("--poll-timeout", "30s"),
        ("--drain-timeout", "300s"),
        ("--log-format", "json"),
        ("--log", "lvs_agent=debug,info"),
        // exec health checks refused unless a test gives its own directory.
        ("--check-scripts-dir", "/nonexistent/check-scripts"),
    ];
    for (name, value) in changed {
        let option = options
            .iter_mut()
            .find(|(known, _)| known == name)
            .unwrap_or_else(|| panic!("{name} is not one of the fleet's agent options"));
        option.1 = value;
    }
    let args: Vec<&str> = options.iter().flat_map(|(n, v)| [*n, *v]).collect();
    let mut fleet = start(&format!("e2e-{test}"), CLUSTER, binaries(), &args);
    for n in 1..=directors {
        fleet.add_director(&format!("lb{n}"));
    }
    fleet
}

/// [`fleet_with`] the default options.
pub fn fleet(test: &str, directors: usize) -> Fleet {
    fleet_with(test, directors, &[])
}

/// Waits (up to `limit`) for the first JSON log event with this message in `log`.
pub fn wait_for_event(log: &Path, message: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(event) = log_events(log, message).into_iter().next() {
            return event;
        }
        assert!(
            Instant::now() < deadline,
            "no {message:?} in {} within {limit:?}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to 20 s for `check` to hold.
#[track_caller]
pub fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "not within 20 s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Web on 192.0.2.10:80 (wrr) with two masq real servers of the given weights.
pub fn web(weights: [u32; 2]) -> Value {
    json!([{
        "protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
        "real_servers": [
            {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": weights[0]},
            {"address": "10.0.0.12", "port": 8080, "forwarding": "masq", "weight": weights[1]}
        ]
    }])
}

/// `ipvsadm -Sn` of [`web`].
pub fn web_rules(weights: [u32; 2]) -> String {
    format!(
        "-A -t 192.0.2.10:80 -s wrr\n\
         -a -t 192.0.2.10:80 -r 10.0.0.11:8080 -m -w {}\n\
         -a -t 192.0.2.10:80 -r 10.0.0.12:8080 -m -w {}\n",
        weights[0], weights[1]
    )
}

/// Puts [`web`] with `weights` and waits until every kernel shows it and lb1 reports it
/// applied; returns its generation.
pub fn put_web_and_wait(fleet: &Fleet, weights: [u32; 2]) -> u64 {
    let generation = fleet.put_state(&web(weights));
    wait_rules(
        &fleet.directors,
        &web_rules(weights),
        Duration::from_secs(20),
    );
    fleet.wait_status("lb1", "in sync", |s| s["applied_generation"] == generation);
    generation
}

/// Waits until every director reports `generation` applied and in sync.
pub fn wait_all_in_sync(fleet: &Fleet, generation: u64) {
    for director in &fleet.directors {
        fleet.wait_status(&director.name, "in sync", |s| {
            s["sync"] == "in_sync" && s["applied_generation"] == generation
        });
    }
}

/// Waits until every director's kernel shows `rules`, polling all of them in parallel;
/// returns the longest wait.
pub fn wait_rules(directors: &[AgentHost], rules: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    longest_wait(directors, |director| loop {
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
    })
}

/// Waits until every director's kernel has real servers of exactly these weights (in
/// address order), polling them in parallel over netlink (cheap: spawning `ipvsadm` every
/// few milliseconds on three threads would starve the agents of the guest's one CPU);
/// returns the longest wait.
pub fn wait_weights(directors: &[AgentHost], weights: &[u32], limit: Duration) -> Duration {
    let started = Instant::now();
    longest_wait(directors, |director| {
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
}

/// Runs `wait` for every director at once, each on a thread inside its namespace; returns
/// the longest wait.
fn longest_wait(directors: &[AgentHost], wait: impl Fn(&AgentHost) -> Duration + Sync) -> Duration {
    let wait = &wait;
    std::thread::scope(|scope| {
        let waits: Vec<_> = directors
            .iter()
            .map(|director| {
                scope.spawn(move || {
                    director.ns.join();
                    wait(director)
                })
            })
            .collect();
        waits
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .max()
            .unwrap_or_default()
    })
}

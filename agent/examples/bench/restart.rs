//! (c) An agent restart against a kernel that already holds its cluster's 5,000 x 10
//! table: the time from starting the process to its first pass with the server's state
//! (in sync), which must write nothing, against `ipvsadm -Ln` of the same table in the same
//! guest.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lvs_agent::kernel_map;
use lvs_ipvs::Ipvs;
use lvs_testkit::fleet::{log_events, Binaries, Fleet};

use crate::figures::{median, show, Figures};
use crate::inside::parse_timestamp;
use crate::tables;

const SERVICES: usize = 5000;
const GOAL: f64 = 3.0;

pub fn measure(binaries: &Binaries, figures: &mut Figures) {
    let mut fleet = Fleet::new(
        "bench-agent-restart",
        "bench",
        binaries,
        &[
            "--log-format",
            "json",
            "--log",
            "info,lvs_agent::worker=debug",
        ],
    );
    fleet.add_director("lb1");
    let services = tables::services(SERVICES, 1);
    let stored = Instant::now();
    let generation = fleet.put_state(&services);
    figures.info(
        &format!("server: store the {SERVICES} x 10 desired state (PUT)"),
        show(stored.elapsed()),
    );
    // The kernel gets the table straight from the library: what the agent finds is then
    // exactly what it would have programmed.
    let desired = tables::parse(&tables::document(SERVICES, 1, generation));
    fleet.directors[0].ns.enter(|| {
        let report = Ipvs::connect()
            .expect("IPVS in the guest")
            .apply(&kernel_map::load_commands(&desired))
            .expect("loading the table");
        assert!(report.is_ok(), "{:?}", report.failures().next());
    });

    let cold = start_in_sync(&mut fleet);
    figures.info(
        "first start (no state cache) against the matching table",
        show(cold),
    );
    fleet.directors[0].stop_agent();
    // The reference is taken just before and just after the restart, with no agent
    // running: emulation speed drifts with the host's load.
    let mut listings: Vec<Duration> = (0..2)
        .map(|_| fleet.directors[0].ns.enter(ipvsadm_list))
        .collect();
    let started_at = SystemTime::now();
    let restart = start_in_sync(&mut fleet);
    let log = fleet.directors[0].log().to_owned();
    fleet.wait_status("lb1", "in sync", |s| {
        s["sync"] == "in_sync" && s["applied_generation"] == generation
    });
    fleet.directors[0].stop_agent();
    listings.extend((0..2).map(|_| fleet.directors[0].ns.enter(ipvsadm_list)));
    let listing = median(&listings);
    figures.info("restart: where the time went", breakdown(&log, started_at));
    let writes = kernel_writes(&log);
    figures.goal(
        &format!("restart against a matching {SERVICES} x 10 table: kernel writes"),
        writes.to_string(),
        "0",
        writes == 0,
    );
    let ratio = restart.as_secs_f64() / listing.as_secs_f64();
    figures.goal(
        "restart to in sync vs ipvsadm -Ln of the same table",
        format!("{} vs {} ({ratio:.2}x)", show(restart), show(listing)),
        &format!("< {GOAL}x"),
        ratio < GOAL,
    );
}

/// Starts lb1's agent and waits for its first pass (the log's `reconciled` event, which
/// follows the server's answer); returns the time from the start.
fn start_in_sync(fleet: &mut Fleet) -> Duration {
    let started = Instant::now();
    fleet.start_agent(0);
    let log = fleet.directors[0].log().to_owned();
    let deadline = started + Duration::from_secs(300);
    loop {
        if !log_events(&log, "reconciled").is_empty() {
            return started.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "no pass within 300 s: see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Commands the agent sent to the kernel, by its own log: every pass's `commands` and
/// every `applied` or refused object.
fn kernel_writes(log: &Path) -> u64 {
    let passes: u64 = log_events(log, "reconciled")
        .iter()
        .map(|pass| {
            pass["fields"]["commands"]
                .as_u64()
                .expect("a pass logs its commands")
        })
        .sum();
    let objects = ["applied", "kernel refused"]
        .iter()
        .map(|message| log_events(log, message).len() as u64)
        .sum::<u64>();
    passes.max(objects)
}

/// `ipvsadm -Ln` of the calling thread's namespace, output discarded.
fn ipvsadm_list() -> Duration {
    let started = Instant::now();
    let status = Command::new("ipvsadm")
        .args(["-L", "-n"])
        .stdout(Stdio::null())
        .status()
        .expect("run ipvsadm");
    assert!(status.success(), "ipvsadm -Ln failed with {status}");
    started.elapsed()
}

/// From the agent's log: when it had read its state cache (its first line), when it had
/// the server's state, and how long its first pass took.
fn breakdown(log: &Path, started_at: SystemTime) -> String {
    let after = |message: &str| {
        log_events(log, message)
            .first()
            .and_then(|e| e["timestamp"].as_str().and_then(parse_timestamp))
            .and_then(|at| at.duration_since(started_at).ok())
            .map_or_else(|| "?".to_owned(), show)
    };
    let pass = log_events(log, "reconciled")
        .first()
        .and_then(|e| e["fields"]["elapsed_us"].as_u64())
        .map_or_else(|| "?".to_owned(), |us| show(Duration::from_micros(us)));
    format!(
        "cache read {}, server's state {}, full pass {pass}",
        after(&format!("lvs-agent {} starting", lvs_agent::AGENT_VERSION)),
        after("connected to the server"),
    )
}

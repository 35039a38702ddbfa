//! (a) Propagation: from the API call that changes one real server's weight returning, to
//! the new weight in the kernel of every director, with 10 and with 50 directors, each a
//! real `lvs-agent` in a network namespace of its own, against the real `lvs-server`.
//!
//! The change is timed to the moment the last agent's kernel update returned: IPVS
//! acknowledges a netlink write once the table holds it, so the new weight is visible from
//! then on (the agents' logs give the moment, on the guest's clock). The watcher reads every
//! director's kernel from outside and must see the new weight everywhere before the next
//! change; its own figure is longer by its polling round, because it runs at low priority on
//! the same emulated CPU as the server and every agent.

use std::time::{Duration, Instant, SystemTime};

use lvs_testkit::fleet::{Binaries, Fleet};
use serde_json::json;

use crate::cpu;
use crate::figures::{percentile, show, Figures};
use crate::inside::AgentLogs;
use crate::memory;
use crate::tables;
use crate::threads::ThreadTimes;
use crate::watcher::Watcher;

/// Agents running for each measurement; the directors of the first are reused by the next.
const SIZES: [usize; 2] = [10, 50];
/// Changes not counted: QEMU translates each code path the first time it runs.
const WARMUP: usize = 5;
const SAMPLES: usize = 100;
/// The cluster's table: 10 services x 10 real servers.
const SERVICES: usize = 10;
/// Pause between one change being everywhere and the next (the agents' reports settle).
const SETTLE: Duration = Duration::from_millis(100);
const LIMIT: Duration = Duration::from_secs(20);
const GOAL_AT_10: Duration = Duration::from_millis(100);
/// How long the CPU load is measured with the agents idle, before each measurement: one
/// statistics interval of the agents (10 s by default).
const IDLE: Duration = Duration::from_secs(10);

pub fn measure(binaries: &Binaries, figures: &mut Figures) {
    let mut fleet = Fleet::with_local_logs(
        "bench-agent-propagation",
        "bench",
        binaries,
        &[
            "--log-format",
            "json",
            "--log",
            "info,lvs_agent::worker=debug,lvs_agent::client=debug",
        ],
    );
    let most = SIZES[SIZES.len() - 1];
    for n in 1..=most {
        fleet.add_director(&format!("lb{n}"));
    }
    let mut weight = 1;
    fleet.put_state(&tables::services(SERVICES, weight));
    let path = real_server_path(&fleet);
    let (service, server) = tables::changing(SERVICES);
    let mut watcher = Watcher::new(&fleet.directors, service, server);

    let mut p99_at_first = None;
    let mut running = 0;
    for size in SIZES {
        // Ten at a time, each ten in sync before the next start: a fleet's agents do not
        // all start in the same second, and their first full passes and reports would
        // hold the server's writer for many seconds under emulation.
        while running < size {
            let batch = (running + 10).min(size);
            for index in running..batch {
                fleet.start_agent(index);
            }
            running = batch;
            watcher.wait(running, weight, Instant::now(), Duration::from_secs(60));
        }
        let agent_pids: Vec<u32> = fleet.directors[..size]
            .iter_mut()
            .filter_map(|d| d.agent().map(|a| a.id()))
            .collect();
        let server_pid = fleet.server_pid().expect("the server runs");
        let idle = Idle::measure(server_pid, &agent_pids);
        figures.info(
            &format!("propagation, {size} agents: idle guest CPU busy (server / agents)"),
            format!(
                "{:.0}% ({:.0}% / {:.0}%)",
                idle.busy, idle.server, idle.agents
            ),
        );
        // Every change bumps the generation by one: the agents' logs name it.
        let before = fleet.call("GET", &fleet.cluster_path(""), None, 200)["generation"]
            .as_u64()
            .expect("the cluster's generation");
        let cpu_before: Vec<Duration> = agent_pids.iter().map(|p| cpu::process_time(*p)).collect();
        let server_before = cpu::process_time(server_pid);
        let bench_before = cpu::process_time(std::process::id());
        let agent_threads = ThreadTimes::read(&agent_pids);
        let server_threads = ThreadTimes::read(&[server_pid]);
        let mut seen = Vec::with_capacity(SAMPLES);
        let mut api = Vec::with_capacity(SAMPLES);
        let mut changes = Vec::with_capacity(SAMPLES);
        for sample in 0..WARMUP + SAMPLES {
            weight = weight % 1000 + 1;
            let called = Instant::now();
            fleet.call("PATCH", &path, Some(json!({"weight": weight})), 200);
            let returned = Instant::now();
            let returned_at = SystemTime::now();
            let everywhere = watcher.wait(size, weight, returned, LIMIT);
            if sample >= WARMUP {
                api.push(returned - called);
                seen.push(everywhere);
                changes.push((before + 1 + sample as u64, returned_at));
            }
            std::thread::sleep(SETTLE);
        }
        let changes_made = (WARMUP + SAMPLES) as u32;
        let agents_cpu: Duration = agent_pids
            .iter()
            .zip(&cpu_before)
            .map(|(pid, before)| cpu::process_time(*pid).saturating_sub(*before))
            .sum();
        let server_cpu = cpu::process_time(server_pid).saturating_sub(server_before);
        let bench_cpu = cpu::process_time(std::process::id()).saturating_sub(bench_before);
        figures.info(
            &format!("propagation, {size} agents: watcher and API client CPU per change"),
            show(bench_cpu / changes_made),
        );
        figures.info(
            &format!("propagation, {size} agents: CPU per change, server / each agent"),
            format!(
                "{} / {}",
                show(server_cpu / changes_made),
                show(agents_cpu / changes_made / size as u32)
            ),
        );
        figures.info(
            &format!("propagation, {size} agents: each agent's CPU per change, by thread"),
            ThreadTimes::read(&agent_pids).since(&agent_threads, changes_made * size as u32),
        );
        figures.info(
            &format!("propagation, {size} agents: server CPU per change, by thread"),
            ThreadTimes::read(&[server_pid]).since(&server_threads, changes_made),
        );
        figures.info(
            &format!("propagation, {size} agents: API call (PATCH) p50 / p99"),
            format!(
                "{} / {}",
                show(percentile(&api, 50.0)),
                show(percentile(&api, 99.0))
            ),
        );
        figures.info(
            &format!("propagation, {size} agents: seen by the watcher p50 / p99"),
            format!(
                "{} / {}",
                show(percentile(&seen, 50.0)),
                show(percentile(&seen, 99.0))
            ),
        );
        let logs = AgentLogs::read(&fleet.directors[..size], changes[0].0);
        let latency = logs
            .applied_everywhere(&changes)
            .expect("every agent logged every update (lvs_agent::worker=debug)");
        let p99 = percentile(&latency, 99.0);
        figures.info(
            &format!("propagation, {size} agents: p50 ({SAMPLES} changes)"),
            show(percentile(&latency, 50.0)),
        );
        match p99_at_first {
            None => {
                figures.goal(
                    &format!("propagation, {size} agents: p99"),
                    show(p99),
                    &format!("< {}", show(GOAL_AT_10)),
                    p99 < GOAL_AT_10,
                );
                p99_at_first = Some(p99);
            }
            Some(first) => {
                let ratio = p99.as_secs_f64() / first.as_secs_f64();
                figures.goal(
                    &format!("propagation, {size} agents: p99 (vs {} agents)", SIZES[0]),
                    format!("{} ({ratio:.2}x)", show(p99)),
                    "<= 2x",
                    ratio <= 2.0,
                );
            }
        }
        figures.info(
            &format!("propagation, {size} agents: agent has the state p50 / p99"),
            logs.fan_out(&changes),
        );
        figures.info(
            &format!("propagation, {size} agents: inside each agent (medians)"),
            logs.steps(),
        );
        figures.info(
            &format!("propagation, {size} agents: statistics or a full pass beside a change"),
            logs.beside_background(&changes),
        );
    }
    figures.info(
        "propagation: watcher round (resolution)",
        show(watcher.finish()),
    );
    let pids: Vec<u32> = fleet
        .directors
        .iter_mut()
        .filter_map(|d| d.agent().map(|a| a.id()))
        .collect();
    figures.info(
        &format!("memory with {most} agents and the server"),
        memory::describe(&pids, fleet.server_pid()),
    );
}

/// The CPU load with the agents idle (statistics, heartbeats, periodic passes), in percent
/// of one CPU.
struct Idle {
    busy: f64,
    server: f64,
    agents: f64,
}

impl Idle {
    fn measure(server_pid: u32, agent_pids: &[u32]) -> Idle {
        let agents_time = || -> Duration { agent_pids.iter().map(|p| cpu::process_time(*p)).sum() };
        let (server0, agents0) = (cpu::process_time(server_pid), agents_time());
        let busy = cpu::busy_over(IDLE);
        let percent = |used: Duration| 100.0 * used.as_secs_f64() / IDLE.as_secs_f64();
        Idle {
            busy,
            server: percent(cpu::process_time(server_pid).saturating_sub(server0)),
            agents: percent(agents_time().saturating_sub(agents0)),
        }
    }
}

/// The API path of the changing real server.
fn real_server_path(fleet: &Fleet) -> String {
    let (service_key, server) = tables::changing(SERVICES);
    let lvs_ipvs::ServiceKey::Inet { addr, .. } = service_key else {
        unreachable!("the tables hold inet services")
    };
    let services = fleet.call(
        "GET",
        &fleet.cluster_path(&format!("/services?address={addr}&port=80")),
        None,
        200,
    );
    let service = services["items"][0]["id"]
        .as_i64()
        .expect("the changing service");
    let servers = fleet.call(
        "GET",
        &fleet.cluster_path(&format!("/services/{service}/real-servers?limit=1000")),
        None,
        200,
    );
    let id = servers["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["address"] == server.ip().to_string())
        .and_then(|s| s["id"].as_i64())
        .expect("the changing real server");
    fleet.cluster_path(&format!("/services/{service}/real-servers/{id}"))
}

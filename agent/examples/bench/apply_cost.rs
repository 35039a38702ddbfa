//! (b) The cost of one weight change inside the agent, on a table of 5,000 services x 10
//! real servers against one of 10 services: its own update path (`Reconciler::update`,
//! timed in its two steps: the in-memory comparison with the state applied last, and the
//! apply proper, which reads and writes only the changed service), each table in a
//! director namespace of its own. Also what surrounds it for every change: parsing the
//! document (the server sends the whole state), the state cache write, and the full pass
//! the agent makes at start and for every drift check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_agent::state_cache::StateCache;
use lvs_agent::{kernel, Reconciler};
use lvs_ipvs::Ipvs;
use lvs_model::DesiredState;
use lvs_testkit::{ip_batch, Netns};

use crate::figures::{median, show, Figures};
use crate::tables;

const SMALL: usize = 10;
const LARGE: usize = 5000;
/// Changes on each table, taking turns one by one (emulation speed drifts, and the
/// kernel's estimator timer walks every counter of the large table every 2 s): medians.
const CHANGES: usize = 200;
/// Changes not counted: QEMU translates each code path the first time it runs.
const WARMUP: usize = 10;
const GOAL: f64 = 1.2;

/// A director with its table loaded, and two states one weight apart.
struct Table {
    /// The director's namespace (its socket keeps it alive too).
    _ns: Netns,
    services: usize,
    reconciler: Reconciler,
    states: [Arc<DesiredState>; 2],
    /// Which of `states` the kernel holds.
    current: usize,
    document_bytes: usize,
}

impl Table {
    fn load(services: usize, figures: &mut Figures) -> Table {
        let documents = [
            tables::document(services, 1, 10),
            tables::document(services, 7, 11),
        ];
        let parses: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                tables::parse(&documents[0]);
                started.elapsed()
            })
            .collect();
        figures.info(
            &format!(
                "receive: parse the {services}-service document ({} kB)",
                documents[0].len() / 1024
            ),
            show(median(&parses)),
        );
        let states = [tables::parse(&documents[0]), tables::parse(&documents[1])];
        let ns = Netns::new();
        let (mut reconciler, took) = ns.enter(|| {
            ip_batch("link add d0 type dummy\naddr add 10.255.0.1/16 dev d0\nlink set d0 up\n");
            let mut reconciler = Reconciler::new(
                Ipvs::connect().expect("IPVS in the guest"),
                Duration::from_secs(300),
                None,
            );
            let started = Instant::now();
            let result = reconciler.update(&states[0]).expect("the initial load");
            assert!(
                result.succeeded(),
                "initial load: {:?}",
                result.report.outcomes
            );
            (reconciler, started.elapsed())
        });
        figures.info(
            &format!("initial load of {services} x 10 (a full pass into an empty table)"),
            show(took),
        );
        let started = Instant::now();
        let full = reconciler.pass(&states[0]).expect("a full pass");
        assert_eq!(full.commands, 0, "the loaded table matches");
        figures.info(
            &format!("full pass (start, drift check) over {services} x 10, nothing to do"),
            show(started.elapsed()),
        );
        Table {
            _ns: ns,
            services,
            reconciler,
            states,
            current: 0,
            document_bytes: documents[0].len(),
        }
    }

    /// One single-weight change through the update path: the comparison's and the
    /// apply's times.
    fn change(&mut self) -> (Duration, Duration) {
        let next = Arc::clone(&self.states[1 - self.current]);
        let started = Instant::now();
        let changes = self
            .reconciler
            .changes_to(&next)
            .expect("a baseline after a complete pass");
        let compared = Instant::now();
        let result = self
            .reconciler
            .apply_changes(&next, &changes)
            .expect("an update");
        let applied = compared.elapsed();
        assert!(result.succeeded(), "{:?}", result.report);
        assert!(result.incremental, "an update, not a full pass");
        assert_eq!(
            (result.commands, result.services_read),
            (1, 1),
            "{:?}",
            result.report
        );
        self.current = 1 - self.current;
        (compared - started, applied)
    }

    /// Reading the changed service from the kernel alone, as an update does first, and
    /// writing the changed real server alone (its weight as it is).
    fn read_and_write(&mut self) -> (Duration, Duration) {
        let (key, server) = tables::changing(self.services);
        let ipvs = self.reconciler.ipvs();
        let started = Instant::now();
        let read = kernel::read_services(ipvs, [key]).expect("a read");
        let read_time = started.elapsed();
        let dest = read[0]
            .destinations
            .iter()
            .find(|d| d.destination.addr == server)
            .expect("the changing real server")
            .destination;
        let started = Instant::now();
        ipvs.edit_destination(&key, &dest).expect("a write");
        (read_time, started.elapsed())
    }
}

pub fn measure(figures: &mut Figures) {
    let mut small = Table::load(SMALL, figures);
    let mut large = Table::load(LARGE, figures);
    let mut samples: [Vec<(Duration, Duration)>; 2] = [Vec::new(), Vec::new()];
    let mut kernel_io: [Vec<(Duration, Duration)>; 2] = [Vec::new(), Vec::new()];
    for change in 0..WARMUP + CHANGES {
        let (l, s) = (large.change(), small.change());
        let (lk, sk) = (large.read_and_write(), small.read_and_write());
        if change >= WARMUP {
            samples[0].push(l);
            samples[1].push(s);
            kernel_io[0].push(lk);
            kernel_io[1].push(sk);
        }
    }
    let step = |table: usize, apply: bool| {
        let times: Vec<Duration> = samples[table]
            .iter()
            .map(|(compare, applied)| if apply { *applied } else { *compare })
            .collect();
        median(&times)
    };
    let (large_apply, small_apply) = (step(0, true), step(1, true));
    let ratio = large_apply.as_secs_f64() / small_apply.as_secs_f64();
    figures.goal(
        &format!("apply one weight change: {LARGE} vs {SMALL} services"),
        format!(
            "{} vs {} ({ratio:.2})",
            show(large_apply),
            show(small_apply)
        ),
        &format!("ratio <= {GOAL}"),
        ratio <= GOAL,
    );
    let io = |table: usize, write: bool| {
        let times: Vec<Duration> = kernel_io[table]
            .iter()
            .map(|(read, written)| if write { *written } else { *read })
            .collect();
        show(median(&times))
    };
    figures.info(
        &format!("  of which reading the changed service: {LARGE} vs {SMALL}"),
        format!("{} vs {}", io(0, false), io(1, false)),
    );
    figures.info(
        &format!("  of which writing the changed server: {LARGE} vs {SMALL}"),
        format!("{} vs {}", io(0, true), io(1, true)),
    );
    figures.info(
        &format!("compare with the state applied last: {LARGE} vs {SMALL}"),
        format!("{} vs {}", show(step(0, false)), show(step(1, false))),
    );
    for table in [&small, &large] {
        cache_writes(table, figures);
    }
}

/// The state cache write the agent makes before applying a new state (serialise, write,
/// fsync, rename, fsync the directory): on the guest's tmpfs, where the agents keep it in
/// this benchmark, and on the 9p share of the host's disk, where an fsync reaches a disk.
fn cache_writes(table: &Table, figures: &mut Figures) {
    let state = &table.states[0];
    let artifacts = std::env::var_os("LVS_VM_ARTIFACTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmpfs = tempfile::tempdir().expect("a directory on tmpfs");
    let on_disk = artifacts.join(format!("state-cache-{}", table.services));
    let mut times = Vec::new();
    for dir in [tmpfs.path(), on_disk.as_path()] {
        let cache = StateCache::new(dir);
        let samples: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                cache
                    .store_state(Some(state.generation), state)
                    .expect("a state cache write");
                started.elapsed()
            })
            .collect();
        times.push(median(&samples));
    }
    let _ = std::fs::remove_dir_all(&on_disk);
    figures.info(
        &format!(
            "state cache write, {} services ({} kB document): tmpfs / 9p disk",
            table.services,
            table.document_bytes / 1024
        ),
        format!("{} / {}", show(times[0]), show(times[1])),
    );
}

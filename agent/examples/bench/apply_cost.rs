//! (b) The cost of one weight change inside the agent, on a table of 5,000 services x 10
//! real servers against one of 10 services, each table in a director namespace of its own:
//! everything the agent does between receiving the server's answer and being ready for the
//! next one. That is: parsing the changes the server sends (the diff, not the document),
//! applying them to the desired state held, updating the kernel (reading and writing only
//! the changed service) and recording the diff in the state cache's journal. Also, for
//! comparison, what the whole document costs to parse, and the full pass the agent makes
//! at start and for every drift check.

use std::time::{Duration, Instant};

use lvs_agent::state_cache::{StateCache, Unsaved};
use lvs_agent::touched::Touched;
use lvs_agent::{kernel, Reconciler};
use lvs_ipvs::Ipvs;
use lvs_model::agent::DesiredStateChanges;
use lvs_model::{DesiredState, Diff, DiffSpec, Weight};
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

/// A director with its table loaded, the agent's state of it, and its state cache.
struct Table {
    /// The director's namespace (its socket keeps it alive too).
    _ns: Netns,
    services: usize,
    reconciler: Reconciler,
    desired: DesiredState,
    cache: StateCache,
    /// The cache's directory, on the guest's tmpfs as the agents' in this benchmark.
    _cache_dir: tempfile::TempDir,
}

/// One change's steps inside the agent.
#[derive(Debug, Clone, Copy)]
struct Steps {
    parse: Duration,
    apply_to_state: Duration,
    kernel: Duration,
    record: Duration,
}

/// One of the steps' times.
type Pick = fn(&Steps) -> Duration;

impl Steps {
    fn total(&self) -> Duration {
        self.parse + self.apply_to_state + self.kernel + self.record
    }
}

impl Table {
    fn load(services: usize, figures: &mut Figures) -> Table {
        let document = tables::document(services, 1, 1);
        let parses: Vec<Duration> = (0..5)
            .map(|_| {
                let started = Instant::now();
                tables::parse(&document);
                started.elapsed()
            })
            .collect();
        figures.info(
            &format!(
                "for comparison: parse the whole {services}-service document ({} kB)",
                document.len() / 1024
            ),
            show(median(&parses)),
        );
        let desired = tables::parse(&document);
        let ns = Netns::new();
        let (mut reconciler, took) = ns.enter(|| {
            ip_batch("link add d0 type dummy\naddr add 10.255.0.1/16 dev d0\nlink set d0 up\n");
            let mut reconciler = Reconciler::new(
                Ipvs::connect().expect("IPVS in the guest"),
                Duration::from_secs(300),
                None,
            );
            let started = Instant::now();
            let result = reconciler.pass(&desired).expect("the initial load");
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
        let full = reconciler.pass(&desired).expect("a full pass");
        assert_eq!(full.commands, 0, "the loaded table matches");
        figures.info(
            &format!("full pass (start, drift check) over {services} x 10, nothing to do"),
            show(started.elapsed()),
        );
        let cache_dir = tempfile::tempdir().expect("a directory on tmpfs");
        let mut cache = StateCache::new(cache_dir.path());
        let started = Instant::now();
        cache
            .store(reconciler.applied_generation(), &desired)
            .expect("a snapshot");
        figures.info(
            &format!("state cache snapshot of {services} x 10 (at start; folds)"),
            show(started.elapsed()),
        );
        Table {
            _ns: ns,
            services,
            reconciler,
            desired,
            cache,
            _cache_dir: cache_dir,
        }
    }

    /// The server's answer to the agent's long-poll after the changing real server's
    /// weight was set to `weight`: the stored diff, as JSON.
    fn answer(&self, weight: u32) -> Vec<u8> {
        let (key, server) = tables::changing(self.services);
        let key = lvs_model_key(key);
        let service = self.desired.service(&key).expect("the changing service");
        let old = service
            .real_server(&(server.ip(), server.port()))
            .expect("the changing real server")
            .clone();
        let new = old.with_weight(Weight::parse(i64::from(weight)).expect("a weight"));
        let mut diff = Diff::real_server_changed(key, old, new);
        diff.from_generation = self.desired.generation;
        diff.to_generation = self.desired.generation + 1;
        let changes = DesiredStateChanges {
            from_generation: diff.from_generation,
            generation: diff.to_generation,
            diffs: vec![DiffSpec::from(&diff)],
        };
        serde_json::to_vec(&changes).expect("serialise the changes")
    }

    /// One weight change, as the agent handles it from the server's answer on.
    fn change(&mut self, weight: u32) -> Steps {
        let answer = self.answer(weight);
        let started = Instant::now();
        let changes: DesiredStateChanges = serde_json::from_slice(&answer).expect("changes");
        let diffs = changes.parse().expect("valid changes");
        let parsed = Instant::now();
        let mut changed = Touched::none_since(self.desired.generation);
        for diff in &diffs {
            diff.apply_in_place(&mut self.desired)
                .expect("the diff fits the state held");
            changed.add(diff);
        }
        let applied_to_state = Instant::now();
        let result = self
            .reconciler
            .update(&self.desired, &changed)
            .expect("an update");
        let kernel_done = Instant::now();
        self.cache
            .record(
                self.reconciler.applied_generation(),
                &self.desired,
                &Unsaved::Diffs(diffs),
            )
            .expect("a journal line");
        let recorded = Instant::now();
        assert!(result.succeeded(), "{:?}", result.report);
        assert!(result.incremental, "an update, not a full pass");
        assert_eq!(
            (result.commands, result.services_read),
            (1, 1),
            "{:?}",
            result.report
        );
        Steps {
            parse: parsed - started,
            apply_to_state: applied_to_state - parsed,
            kernel: kernel_done - applied_to_state,
            record: recorded - kernel_done,
        }
    }

    /// Reading the changed service from the kernel alone, as an update of its real servers
    /// does first (the destinations; the settings are taken as set), and writing the
    /// changed real server alone (its weight as it is).
    fn read_and_write(&mut self) -> (Duration, Duration) {
        let (key, server) = tables::changing(self.services);
        let ipvs = self.reconciler.ipvs();
        let settings = ipvs.service(&key).expect("the changing service").service;
        let started = Instant::now();
        let read = kernel::read_services(ipvs, [(key, Some(settings))]).expect("a read");
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

fn lvs_model_key(key: lvs_ipvs::ServiceKey) -> lvs_model::ServiceKey {
    let lvs_ipvs::ServiceKey::Inet { addr, port, .. } = key else {
        unreachable!("the tables hold inet services")
    };
    lvs_model::ServiceKey::parse(&format!("tcp:{addr}:{port}")).expect("a service key")
}

pub fn measure(figures: &mut Figures) {
    let mut tables = [Table::load(LARGE, figures), Table::load(SMALL, figures)];
    let mut steps: [Vec<Steps>; 2] = [Vec::new(), Vec::new()];
    let mut kernel_io: [Vec<(Duration, Duration)>; 2] = [Vec::new(), Vec::new()];
    for change in 0..WARMUP + CHANGES {
        // Weights 2..=1000 and back, never the one the table already has.
        let weight = 2 + (change % 999) as u32;
        for (i, table) in tables.iter_mut().enumerate() {
            let taken = table.change(weight);
            let io = table.read_and_write();
            if change >= WARMUP {
                steps[i].push(taken);
                kernel_io[i].push(io);
            }
        }
    }
    let step = |table: usize, pick: Pick| {
        let times: Vec<Duration> = steps[table].iter().map(pick).collect();
        median(&times)
    };
    let (large, small) = (step(0, Steps::total), step(1, Steps::total));
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    figures.goal(
        &format!("one weight change in the agent: {LARGE} vs {SMALL} services"),
        format!("{} vs {} ({ratio:.2})", show(large), show(small)),
        &format!("ratio <= {GOAL}"),
        ratio <= GOAL,
    );
    let parts: [(&str, Pick); 4] = [
        ("parse the changes", |s| s.parse),
        ("apply them to the state held", |s| s.apply_to_state),
        ("update the kernel", |s| s.kernel),
        ("journal line in the state cache", |s| s.record),
    ];
    for (what, pick) in parts {
        figures.info(
            &format!("  of which {what}: {LARGE} vs {SMALL}"),
            format!("{} vs {}", show(step(0, pick)), show(step(1, pick))),
        );
    }
    let io = |table: usize, write: bool| {
        let times: Vec<Duration> = kernel_io[table]
            .iter()
            .map(|(read, written)| if write { *written } else { *read })
            .collect();
        show(median(&times))
    };
    figures.info(
        &format!("  kernel alone: read the changed service, {LARGE} vs {SMALL}"),
        format!("{} vs {}", io(0, false), io(1, false)),
    );
    figures.info(
        &format!("  kernel alone: write the changed server, {LARGE} vs {SMALL}"),
        format!("{} vs {}", io(0, true), io(1, true)),
    );
}

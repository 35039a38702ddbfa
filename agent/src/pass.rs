//! Reconcile passes on the real kernel: [`Reconciler`] holds one director's netlink socket,
//! the drains in progress and the generation applied, and runs the planner
//! ([`crate::planner`]) against what it reads. Synchronous: it owns a netlink socket, opened in the namespace of the thread that
//! connected it.
//!
//! Two kinds of pass. A full pass ([`Reconciler::pass`]) reads the whole table, plans and
//! applies: at start, for drift checks and while something drains. An update
//! ([`Reconciler::update`]) trusts that the kernel still holds the state the last pass
//! brought it to, and reads and writes only the services that differ from it (the
//! [`Touched`] since that state), so a change costs the same on a table of 5,000 services
//! as on one of 10; drift elsewhere is found by the next full pass.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lvs_ipvs::Ipvs;
use lvs_model::agent::{ApplyReport, ObjectOutcome};
use lvs_model::DesiredState;

use crate::drain::{DrainKey, Drains};
use crate::health::Book;
use crate::host::prep::HostOutcome;
use crate::host::{HostIndex, HostPrep, Wanted};
use crate::kernel;
use crate::kernel_map;
use crate::observed::Observed;
use crate::planner::{self, Context, Plan};
use crate::touched::Touched;

/// The agent's version, as reported.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug)]
pub struct Reconciler {
    ipvs: Ipvs,
    drains: Drains,
    /// The last generation a pass applied completely; `None` when none did (nor any
    /// before the start, as the state cache says).
    applied_generation: Option<u64>,
    baseline: Baseline,
    drain_timeout: Duration,
    kernel_version: String,
    /// Real servers' health: passes apply the effective state it makes of the desired one.
    health: Book,
    /// Host preparation (VIPs, forwarding, sysctls), when the agent manages the host.
    host: Option<HostState>,
}

/// Host preparation and what it last brought about.
#[derive(Debug)]
struct HostState {
    prep: HostPrep,
    /// What the desired state held wants; `None` until a full pass builds it.
    index: Option<HostIndex>,
    /// What the last reconcile of the host brought about completely.
    done: Option<Wanted>,
}

/// What an update may start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baseline {
    /// Nothing known: at start, after a pass that failed, and at generation 0 (where the
    /// kernel may hold unmanaged services). The next pass is a full one.
    Unknown,
    /// The last pass brought the kernel to this generation completely.
    Complete(u64),
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct PassResult {
    pub report: ApplyReport,
    /// Commands sent to the kernel (0 when the kernel already matched).
    pub commands: usize,
    /// Objects still draining after the pass.
    pub draining: usize,
    /// Services read from the kernel: the whole table, or only those that changed.
    pub services_read: usize,
    /// Whether only the changed services were read (an update, not a full pass).
    pub incremental: bool,
}

impl PassResult {
    pub fn succeeded(&self) -> bool {
        self.report.succeeded()
    }
}

impl Reconciler {
    /// `applied_generation`: the generation applied before (from the state cache), if any.
    pub fn new(ipvs: Ipvs, drain_timeout: Duration, applied_generation: Option<u64>) -> Self {
        Reconciler {
            ipvs,
            drains: Drains::default(),
            applied_generation,
            baseline: Baseline::Unknown,
            drain_timeout,
            kernel_version: kernel::kernel_version(),
            health: Book::default(),
            host: None,
        }
    }

    /// Also prepares the host (VIPs, forwarding, sysctls) as each desired state asks.
    pub fn with_host(mut self, prep: HostPrep) -> Self {
        self.host = Some(HostState {
            prep,
            index: None,
            done: None,
        });
        self
    }

    /// What the agent added to the host, when it manages the host.
    pub fn host_owned(&self) -> Option<&crate::host::owned::Owned> {
        self.host.as_ref().map(|h| h.prep.owned())
    }

    pub fn applied_generation(&self) -> Option<u64> {
        self.applied_generation
    }

    /// The health book, which the reconcile thread keeps up to date.
    pub fn health(&mut self) -> &mut Book {
        &mut self.health
    }

    /// Objects draining now.
    pub fn draining(&self) -> usize {
        self.drains.len()
    }

    /// A full pass: reads the whole table, plans and applies the difference to `desired`.
    /// `Err` only when the kernel could not be read or written at all; refused commands
    /// are outcomes.
    pub fn pass(&mut self, desired: &DesiredState) -> Result<PassResult, lvs_ipvs::Error> {
        self.pass_at(desired, Instant::now())
    }

    /// [`Reconciler::pass`] with an explicit clock, for tests of drain timeouts.
    pub fn pass_at(
        &mut self,
        desired: &DesiredState,
        now: Instant,
    ) -> Result<PassResult, lvs_ipvs::Error> {
        self.baseline = Baseline::Unknown;
        let (observed, table) = kernel::read(&mut self.ipvs)?;
        let effective = self.health.effective_state(desired);
        for service in effective.services() {
            self.remove_unhealthy_at_once(service.key());
        }
        let plan = planner::plan(&observed, &effective, &self.context(now), &mut self.drains);
        let host = self.prepare_host(desired, None);
        self.finish(desired, plan, host, table.len(), false)
    }

    /// Brings the kernel to `desired`, which differs by `changes` from the state it
    /// replaces: an incremental pass when the kernel was brought to that state completely
    /// (by the last pass), a full pass otherwise.
    pub fn update(
        &mut self,
        desired: &DesiredState,
        changes: &Touched,
    ) -> Result<PassResult, lvs_ipvs::Error> {
        let incremental =
            self.baseline == Baseline::Complete(changes.from_generation) && desired.generation != 0;
        if incremental {
            self.apply_changes(desired, changes)
        } else {
            self.pass(desired)
        }
    }

    /// Reads only the services `changes` names, plans them against `desired` and applies.
    fn apply_changes(
        &mut self,
        desired: &DesiredState,
        changes: &Touched,
    ) -> Result<PassResult, lvs_ipvs::Error> {
        self.baseline = Baseline::Unknown;
        let keys: HashSet<lvs_ipvs::ServiceKey> = changes
            .services
            .iter()
            .map(kernel_map::service_key)
            .collect();
        // Services where only real servers changed keep the settings the last pass left:
        // only their destinations are read.
        let reads = changes.services.iter().map(|key| {
            let settings = changes
                .members_only
                .contains(key)
                .then(|| desired.service(key))
                .flatten()
                .map(|service| kernel_map::service(service.service()));
            (kernel_map::service_key(key), settings)
        });
        let table = kernel::read_services(&mut self.ipvs, reads)?;
        // Unchanged timeouts are taken as set, so they cost no read.
        let timeouts = if changes.timeouts {
            self.ipvs.timeouts()?
        } else {
            kernel_map::timeouts(&desired.timeouts)
        };
        let observed = Observed::from_table(&table, timeouts);
        for key in &changes.services {
            self.remove_unhealthy_at_once(key);
        }
        let part = DesiredState::new(
            desired.generation,
            desired.timeouts,
            changes
                .services
                .iter()
                .filter_map(|key| desired.service(key))
                .map(|service| self.health.effective(service).into_owned()),
        )
        .expect("the services of one state have distinct keys");
        let mut context = self.context(Instant::now());
        if changes.health {
            // Health changed the table at the same generation: what differs is the
            // checks' doing, not drift.
            context.applied_generation = None;
        }
        let plan = planner::plan_part(&observed, &part, &context, &mut self.drains, |key| {
            keys.contains(key)
        });
        let host = self.prepare_host(desired, Some(changes));
        self.finish(desired, plan, host, table.len(), true)
    }

    /// Brings the host to what `desired` wants: in a full pass (`changes` `None`) always,
    /// which repairs drift; in an update only when what it wants changed, found at the cost
    /// of the services `changes` names.
    fn prepare_host(&mut self, desired: &DesiredState, changes: Option<&Touched>) -> HostOutcome {
        let Some(host) = &mut self.host else {
            return HostOutcome::default();
        };
        let wanted = match (&mut host.index, changes) {
            (Some(index), Some(changes)) => {
                // The cost of the change: the host is looked at only when what it should
                // hold may differ, or the last look did not bring it there.
                if !index.update(desired, &changes.services) && host.done.is_some() {
                    return HostOutcome::default();
                }
                index.wanted()
            }
            (index, _) => index.insert(HostIndex::of(desired)).wanted(),
        };
        let mut outcome = host.prep.reconcile(&wanted);
        host.prep
            .sync_daemons(&mut self.ipvs, wanted.sync.as_ref(), &mut outcome);
        host.done = outcome.succeeded().then_some(wanted);
        outcome
    }

    /// Real servers that health removes (`on_failure: remove`) go without draining: their
    /// connections are dead already.
    fn remove_unhealthy_at_once(&mut self, service: &lvs_model::ServiceKey) {
        for (address, port) in self.health.removed(service) {
            self.drains.remove_at_once(DrainKey::RealServer(
                kernel_map::service_key(service),
                std::net::SocketAddr::new(address, port),
            ));
        }
    }

    /// The client, for reading statistics on the same socket.
    pub fn ipvs(&mut self) -> &mut Ipvs {
        &mut self.ipvs
    }

    fn context(&self, now: Instant) -> Context {
        Context {
            applied_generation: self.applied_generation,
            drain_timeout: self.drain_timeout,
            now,
        }
    }

    /// Applies `plan`, logs and reports what happened, and records `desired` as applied
    /// when everything succeeded.
    fn finish(
        &mut self,
        desired: &DesiredState,
        plan: Plan,
        host: HostOutcome,
        services_read: usize,
        incremental: bool,
    ) -> Result<PassResult, lvs_ipvs::Error> {
        let mut outcomes = kernel::apply(&mut self.ipvs, &plan)?;
        outcomes.extend(host.outcomes);
        let mut drift = plan.drift;
        drift.extend(host.drift);
        log_outcomes(&outcomes, &drift);
        let report = ApplyReport {
            applied_generation: desired.generation,
            outcomes,
            drift_repaired: drift,
            unmanaged_services: plan.unmanaged,
            unmanaged_timeouts: plan.unmanaged_timeouts,
            agent_version: AGENT_VERSION.to_owned(),
            kernel_version: self.kernel_version.clone(),
        };
        if report.succeeded() {
            self.applied_generation = Some(desired.generation);
            self.baseline = if desired.generation == 0 {
                Baseline::Unknown
            } else {
                Baseline::Complete(desired.generation)
            };
        }
        Ok(PassResult {
            commands: plan.steps.len(),
            draining: self.drains.len(),
            services_read,
            incremental,
            report,
        })
    }
}

fn log_outcomes(outcomes: &[ObjectOutcome], drift: &[lvs_model::agent::DriftRepair]) {
    for outcome in outcomes {
        match &outcome.error {
            None => {
                tracing::info!(object = %outcome.object, action = %outcome.action, "applied");
            }
            Some(error) => tracing::warn!(
                object = %outcome.object, action = %outcome.action, %error, "kernel refused"
            ),
        }
    }
    for drift in drift {
        tracing::warn!(object = %drift.object, found = %drift.found, "drift repaired");
    }
}

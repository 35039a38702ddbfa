//! The planner: from what the kernel holds and what it should hold, the fewest commands that
//! get it there. Pure (no I/O, the clock is an argument), so every rule is tested on the host.
//!
//! - The kernel table is read into a model state and compared with the model's own
//!   `Diff::between`; changes the kernel cannot see (names, descriptions, a drained server's
//!   remembered weight) are dropped with the model's `kernel_settings_differ` helpers, so a
//!   kernel that matches gives an empty plan.
//! - Everything that can be edited is edited in place (a weight change is one destination
//!   edit, a scheduler or flag change one service edit); nothing is ever flushed.
//! - Removals drain first (see [`crate::drain`]).
//! - At generation 0 (the cluster's state was never set) nothing found in the kernel is
//!   removed: it is reported as unmanaged, for the server to import.
//! - When the agent is already at the generation it applied, every change is drift: someone
//!   changed the kernel behind its back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs_ipvs::{Command, Destination, ServiceKey};
use lvs_model::agent::{DriftRepair, ObjectOutcome};
use lvs_model::spec::{ServiceSpec, TimeoutsSpec};
use lvs_model::{
    DesiredService, DesiredState, Diff, Protocol, RealServer, RealServerChange, ServiceChange,
    ServiceUpdate, VirtualService,
};

use crate::drain::{DrainKey, Drains, Verdict};
use crate::kernel_map;
use crate::observed::{real_server_object, service_object, ForeignService, Observed};

/// Everything the planner needs besides the two states.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The last generation a pass applied completely, if any.
    pub applied_generation: Option<u64>,
    pub drain_timeout: Duration,
    pub now: Instant,
}

/// One kernel command and what to report about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: Command,
    /// The object and action; the error is filled in once the kernel answered.
    pub outcome: ObjectOutcome,
}

/// What a pass should do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Differences the agent did not cause, which the steps repair.
    pub drift: Vec<DriftRepair>,
    /// Services left alone at generation 0.
    pub unmanaged: Vec<ServiceSpec>,
    /// At generation 0, the kernel's timeouts that the cluster does not set (and the pass
    /// leaves alone); `None` above generation 0.
    pub unmanaged_timeouts: Option<TimeoutsSpec>,
}

impl Plan {
    pub fn commands(&self) -> Vec<Command> {
        self.steps.iter().map(|s| s.command.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// Plans the commands that take the kernel from `observed` to `desired`, updating the
/// drain bookkeeping.
pub fn plan(
    observed: &Observed,
    desired: &DesiredState,
    context: &Context,
    drains: &mut Drains,
) -> Plan {
    let plan = plan_unfinished(observed, desired, context, drains);
    drains.finish_pass();
    plan
}

/// [`plan`] for part of the table: `observed` and `desired` hold only the services
/// `looked_at` names (read from the kernel just before), so the drains of every other
/// service are left as they are.
pub fn plan_part(
    observed: &Observed,
    desired: &DesiredState,
    context: &Context,
    drains: &mut Drains,
    looked_at: impl Fn(&ServiceKey) -> bool,
) -> Plan {
    let plan = plan_unfinished(observed, desired, context, drains);
    drains.finish_partial_pass(looked_at);
    plan
}

fn plan_unfinished(
    observed: &Observed,
    desired: &DesiredState,
    context: &Context,
    drains: &mut Drains,
) -> Plan {
    let mut planner = Planner {
        observed,
        context,
        drains,
        drift_possible: context.applied_generation == Some(desired.generation),
        plan: Plan::default(),
    };
    planner.timeouts(desired);
    let adopting = desired.generation == 0;
    if adopting {
        planner.plan.unmanaged_timeouts = Some(unmanaged_timeouts(observed, desired));
    }
    let mut foreign: HashMap<ServiceKey, &ForeignService> =
        observed.foreign.iter().map(|f| (f.key, f)).collect();
    let diff = Diff::between(&observed.state, desired);
    for change in &diff.services {
        match change {
            ServiceChange::Added(service) => {
                let key = kernel_map::service_key(service.key());
                match foreign.remove(&key) {
                    Some(found) => planner.replace_foreign(found, service),
                    None => planner.add_service(service),
                }
            }
            ServiceChange::Removed(service) if adopting => {
                planner.plan.unmanaged.push(service.to_spec());
            }
            ServiceChange::Removed(service) => {
                let udp = service.key().protocol() == Some(Protocol::Udp);
                planner.remove_service(kernel_map::service_key(service.key()), udp);
            }
            ServiceChange::Changed(update) => planner.update_service(update),
        }
    }
    let mut left: Vec<&ForeignService> = foreign.into_values().collect();
    left.sort_by_key(|f| f.key);
    for found in left {
        if adopting {
            planner.plan.unmanaged.push(found.spec.clone());
        } else {
            let udp = matches!(
                found.key,
                ServiceKey::Inet {
                    protocol: lvs_ipvs::Protocol::Udp,
                    ..
                }
            );
            planner.remove_service(found.key, udp);
        }
    }
    planner.plan
}

/// The kernel's timeouts for the fields `desired` leaves unset (a field it sets is the
/// cluster's, and this pass sets it); 0, which the kernel never holds, is left out.
fn unmanaged_timeouts(observed: &Observed, desired: &DesiredState) -> TimeoutsSpec {
    let have = observed.timeouts;
    let want = desired.timeouts;
    let found = |set: bool, seconds: u32| (!set && seconds != 0).then(|| i64::from(seconds));
    TimeoutsSpec {
        tcp: found(want.tcp.is_some(), have.tcp),
        tcpfin: found(want.tcpfin.is_some(), have.tcp_fin),
        udp: found(want.udp.is_some(), have.udp),
    }
}

struct Planner<'a> {
    observed: &'a Observed,
    context: &'a Context,
    drains: &'a mut Drains,
    /// The agent applied this generation before: any difference is drift.
    drift_possible: bool,
    plan: Plan,
}

impl Planner<'_> {
    fn step(&mut self, command: Command, object: String, action: &str) {
        self.plan.steps.push(Step {
            command,
            outcome: ObjectOutcome {
                object,
                action: action.to_owned(),
                error: None,
            },
        });
    }

    fn drift(&mut self, object: String, found: impl Into<String>) {
        if self.drift_possible {
            self.plan.drift.push(DriftRepair {
                object,
                found: found.into(),
            });
        }
    }

    /// Sets the timeouts the cluster sets and the kernel does not have.
    fn timeouts(&mut self, desired: &DesiredState) {
        let want = kernel_map::timeouts(&desired.timeouts);
        let have = self.observed.timeouts;
        let differing: Vec<String> = [
            ("tcp", want.tcp, have.tcp),
            ("tcpfin", want.tcp_fin, have.tcp_fin),
            ("udp", want.udp, have.udp),
        ]
        .into_iter()
        .filter(|(_, want, have)| *want != 0 && want != have)
        .map(|(name, want, have)| format!("{name} {have} instead of {want}"))
        .collect();
        if !differing.is_empty() {
            self.step(Command::SetTimeouts(want), "timeouts".into(), "set");
            self.drift("timeouts".into(), differing.join(", "));
        }
    }

    fn add_service(&mut self, service: &DesiredService) {
        let key = kernel_map::service_key(service.key());
        let object = service_object(&key);
        self.step(
            Command::AddService(kernel_map::service(service.service())),
            object.clone(),
            "add",
        );
        self.drift(object, "missing");
        // Its real servers were missing too (a flushed table), and are drift as much.
        for server in service.real_servers() {
            self.add_real_server(key, server, true);
        }
    }

    fn add_real_server(&mut self, key: ServiceKey, server: &RealServer, drift: bool) {
        let dest = kernel_map::destination(server);
        let object = real_server_object(&key, dest.addr);
        self.step(Command::AddDestination(key, dest), object.clone(), "add");
        if drift {
            self.drift(object, "missing");
        }
    }

    /// A kernel service the model cannot read, under a desired key: edited into shape.
    fn replace_foreign(&mut self, found: &ForeignService, service: &DesiredService) {
        let key = found.key;
        let object = service_object(&key);
        self.step(
            Command::EditService(kernel_map::service(service.service())),
            object.clone(),
            "edit",
        );
        self.drift(object, found.reason.clone());
        let kernel = self.observed.destinations.get(&key);
        for server in service.real_servers() {
            let dest = kernel_map::destination(server);
            let present = kernel.is_some_and(|d| d.iter().any(|e| e.destination.addr == dest.addr));
            if present {
                let object = real_server_object(&key, dest.addr);
                self.step(Command::EditDestination(key, dest), object, "edit");
            } else {
                self.add_real_server(key, server, true);
            }
        }
        let udp = service.key().protocol() == Some(Protocol::Udp);
        for entry in kernel.into_iter().flatten() {
            let addr = entry.destination.addr;
            if service.real_server(&(addr.ip(), addr.port())).is_none() {
                self.remove_real_server(key, addr, udp);
            }
        }
    }

    /// A service that should go: drained, then deleted.
    fn remove_service(&mut self, key: ServiceKey, udp: bool) {
        let drain_key = DrainKey::Service(key);
        let was_draining = self.drains.is_draining(&drain_key);
        let connections = self.observed.service_connections(&key);
        let object = service_object(&key);
        let verdict = self.drains.decide(
            drain_key,
            connections,
            udp,
            self.context.now,
            self.context.drain_timeout,
        );
        if !was_draining {
            self.drift(object.clone(), "unexpected");
        }
        match verdict {
            Verdict::Delete(_) => self.step(Command::DeleteService(key), object, "delete"),
            Verdict::Start => {
                let dests: Vec<Destination> = self
                    .observed
                    .destinations
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .map(|e| e.destination)
                    .filter(|d| d.weight != 0)
                    .collect();
                for dest in dests {
                    self.drain_destination(key, dest);
                }
            }
            Verdict::Wait => {}
        }
    }

    /// A real server that should go: drained, then deleted.
    fn remove_real_server(&mut self, key: ServiceKey, addr: SocketAddr, udp: bool) {
        let drain_key = DrainKey::RealServer(key, addr);
        let was_draining = self.drains.is_draining(&drain_key);
        let object = real_server_object(&key, addr);
        let verdict = self.drains.decide(
            drain_key,
            self.observed.connections(&key, addr),
            udp,
            self.context.now,
            self.context.drain_timeout,
        );
        if !was_draining {
            self.drift(object.clone(), "unexpected");
        }
        match verdict {
            Verdict::Delete(_) => {
                self.step(Command::DeleteDestination(key, addr), object, "delete");
            }
            Verdict::Start => {
                if let Some(entry) = self.observed.destination(&key, addr) {
                    if entry.destination.weight != 0 {
                        self.drain_destination(key, entry.destination);
                    }
                }
            }
            Verdict::Wait => {}
        }
    }

    fn drain_destination(&mut self, key: ServiceKey, mut dest: Destination) {
        dest.weight = 0;
        let object = real_server_object(&key, dest.addr);
        self.step(Command::EditDestination(key, dest), object, "drain");
    }

    fn update_service(&mut self, update: &ServiceUpdate) {
        let key = kernel_map::service_key(&update.key);
        if let Some(change) = &update.settings {
            if change.old.kernel_settings_differ(&change.new) {
                let object = service_object(&key);
                self.step(
                    Command::EditService(kernel_map::service(&change.new)),
                    object.clone(),
                    "edit",
                );
                self.drift(object, describe_service(&change.old, &change.new));
            }
        }
        let udp = update.key.protocol() == Some(Protocol::Udp);
        for change in &update.real_servers {
            match change {
                RealServerChange::Added(server) => self.add_real_server(key, server, true),
                RealServerChange::Removed(server) => {
                    let addr = SocketAddr::new(server.address(), server.port());
                    self.remove_real_server(key, addr, udp);
                }
                RealServerChange::Changed(change) => {
                    if change.old.kernel_settings_differ(&change.new) {
                        let dest = kernel_map::destination(&change.new);
                        let object = real_server_object(&key, dest.addr);
                        self.step(Command::EditDestination(key, dest), object.clone(), "edit");
                        self.drift(object, describe_real_server(&change.old, &change.new));
                    }
                }
            }
        }
    }
}

/// What differs in a service, for drift reports: `scheduler rr instead of wrr`.
fn describe_service(found: &VirtualService, wanted: &VirtualService) -> String {
    let mut parts = Vec::new();
    if found.scheduler() != wanted.scheduler() {
        parts.push(format!(
            "scheduler {} instead of {}",
            scheduler_text(found),
            scheduler_text(wanted)
        ));
    }
    if found.persistence() != wanted.persistence() {
        let text = |s: &VirtualService| {
            s.persistence().map_or("off".to_owned(), |p| {
                format!("{}s/{}", p.timeout(), p.prefix_len())
            })
        };
        parts.push(format!(
            "persistence {} instead of {}",
            text(found),
            text(wanted)
        ));
    }
    if found.one_packet() != wanted.one_packet() {
        parts.push(format!(
            "one_packet {} instead of {}",
            found.one_packet(),
            wanted.one_packet()
        ));
    }
    if found.persistence_engine() != wanted.persistence_engine() {
        parts.push("persistence engine differs".to_owned());
    }
    parts.join(", ")
}

fn scheduler_text(service: &VirtualService) -> String {
    let scheduler = service.scheduler();
    let flags = scheduler.flags();
    if flags.is_empty() {
        scheduler.name().to_string()
    } else {
        let flags: Vec<String> = flags.iter().map(ToString::to_string).collect();
        format!("{} ({})", scheduler.name(), flags.join(","))
    }
}

/// What differs in a real server, for drift reports: `weight 3 instead of 5`.
fn describe_real_server(found: &RealServer, wanted: &RealServer) -> String {
    let mut parts = Vec::new();
    let (have, want) = (found.effective_weight(), wanted.effective_weight());
    if have != want {
        parts.push(format!("weight {} instead of {}", have.get(), want.get()));
    }
    if found.forwarding() != wanted.forwarding() {
        parts.push(format!(
            "forwarding {} instead of {}",
            found.forwarding().method(),
            wanted.forwarding().method()
        ));
    }
    if found.thresholds() != wanted.thresholds() {
        parts.push(format!(
            "thresholds {}/{} instead of {}/{}",
            found.thresholds().upper(),
            found.thresholds().lower(),
            wanted.thresholds().upper(),
            wanted.thresholds().lower()
        ));
    }
    parts.join(", ")
}

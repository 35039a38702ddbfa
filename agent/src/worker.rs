//! The reconcile thread. It owns the [`Reconciler`] (the netlink socket, which blocks on
//! the kernel), the desired state held and the state cache: an update on every new desired
//! state (only what it touched), and a full pass every reconcile interval and every
//! drain-check interval while something drains.
//!
//! A change travels at the cost of the change: the long-poll sends the diffs since the
//! generation held, the thread applies them to its state in place, updates only the
//! services they name, hands the report over (through [`Applied`]), and only then records
//! the diffs in the state cache's journal. After each pass it tells the long-poll, through
//! [`Handoff`], what it took in and what the next poll announces as applied.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_model::{DesiredState, Diff};
use tokio::sync::{mpsc, watch, Notify};

use crate::applied::{Announce, Applied};
use crate::health::report::HealthUpdate;
use crate::health::{Engine, Transition};
use crate::pass::Reconciler;
use crate::reports::PassReport;
use crate::state_cache::{StateCache, Unsaved};
use crate::touched::Touched;

/// How often the thread passes over the kernel without being asked.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub reconcile: Duration,
    /// While something drains.
    pub drain_check: Duration,
}

/// The other ends of a started thread.
#[derive(Debug)]
pub struct Started {
    pub thread: std::thread::JoinHandle<()>,
    /// For the long-poll.
    pub handoff: Handoff,
    pub stop: Stop,
    /// The reports of the passes, for the report loop.
    pub reports: mpsc::UnboundedReceiver<PassReport>,
    /// Turns true once the first pass is over (statistics wait for it).
    pub first_pass: watch::Receiver<bool>,
    /// Asks the long-poll for the whole state, when changes did not fit the one held.
    pub resync: Arc<Notify>,
    /// For the health engine's flips.
    pub health: HealthInbox,
}

/// Starts the thread with `reconciler` and `cache`; it waits for a desired state.
pub fn spawn(
    reconciler: Reconciler,
    cache: StateCache,
    intervals: Intervals,
    engine: Engine,
    health_updates: mpsc::UnboundedSender<HealthUpdate>,
) -> std::io::Result<Started> {
    let (messages_tx, messages) = std_mpsc::channel();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let (first_pass_tx, first_pass) = watch::channel(false);
    let (passed_tx, passed) = watch::channel(Passed::default());
    let resync = Arc::new(Notify::new());
    let worker = Worker {
        reconciler,
        cache,
        received: 0,
        passed: passed_tx,
        desired: None,
        next: NextPass::Full,
        unsaved: Unsaved::Replaced,
        recorded: None,
        resync: Arc::clone(&resync),
        reports: reports_tx,
        applied: Applied::default(),
        first_pass: first_pass_tx,
        intervals,
        engine,
        health_updates,
    };
    let thread = std::thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || worker.run(&messages))?;
    Ok(Started {
        thread,
        health: HealthInbox(messages_tx.clone()),
        handoff: Handoff {
            worker: messages_tx.clone(),
            sent: 0,
            passed,
        },
        stop: Stop(messages_tx),
        reports,
        first_pass,
        resync,
    })
}

/// What the reconcile thread tells the long-poll after each pass.
#[derive(Debug, Clone, Copy, Default)]
struct Passed {
    /// How many of the messages sent to the thread the passes so far have taken in.
    messages: u64,
    announce: Announce,
}

#[derive(Debug)]
enum Message {
    /// A whole desired state: from the server, or from the state cache at start.
    Document(DesiredState),
    /// Diffs from the generation the thread holds on.
    Changes(Vec<Diff>),
    /// Flips of real servers' health, from the engine.
    Health(Vec<Transition>),
    Stop,
}

/// What the next pass does.
#[derive(Debug)]
enum NextPass {
    /// Reads and plans the whole table: at start, on the reconcile and drain-check
    /// intervals, and after the first state.
    Full,
    /// Reads and plans only what the states received since the last pass touched.
    Update(Touched),
}

/// See the module documentation.
struct Worker {
    reconciler: Reconciler,
    cache: StateCache,
    /// Documents and changes received so far.
    received: u64,
    passed: watch::Sender<Passed>,
    /// The state passes work from; `None` until the first comes (from the server or the
    /// state cache).
    desired: Option<DesiredState>,
    next: NextPass,
    /// What the state cache lacks of `desired`.
    unsaved: Unsaved,
    /// The (generation, applied generation) last recorded in the cache.
    recorded: Option<(u64, Option<u64>)>,
    resync: Arc<Notify>,
    reports: mpsc::UnboundedSender<PassReport>,
    applied: Applied,
    first_pass: watch::Sender<bool>,
    intervals: Intervals,
    /// Runs the checks the desired state asks for.
    engine: Engine,
    /// Changes of health, for the health report loop.
    health_updates: mpsc::UnboundedSender<HealthUpdate>,
}

impl Worker {
    fn run(mut self, messages: &std_mpsc::Receiver<Message>) {
        let mut due = Instant::now() + self.intervals.reconcile;
        loop {
            let wait = due.saturating_duration_since(Instant::now());
            match messages.recv_timeout(wait) {
                Ok(Message::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                Ok(message) => self.receive(message),
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            }
            // Everything queued meanwhile goes into the same pass.
            loop {
                match messages.try_recv() {
                    Ok(Message::Stop) => return,
                    Ok(message) => self.receive(message),
                    Err(_) => break,
                }
            }
            due = self.pass();
            self.tell_health();
            self.record();
            // Once the thread is done: the long-poll's wake-up then switches threads once.
            self.passed.send_replace(Passed {
                messages: self.received,
                announce: self.applied.announce(),
            });
        }
    }

    fn receive(&mut self, message: Message) {
        // The long-poll counts what it sent, and health is not its.
        if matches!(message, Message::Document(_) | Message::Changes(_)) {
            self.received += 1;
        }
        match message {
            Message::Document(state) => self.replace(state),
            Message::Changes(diffs) => self.apply(diffs),
            Message::Health(transitions) => self.health(&transitions),
            Message::Stop => {}
        }
    }

    /// Flips of health: the services they change are looked at in the next pass.
    fn health(&mut self, transitions: &[Transition]) {
        let Some(desired) = &self.desired else { return };
        let mut touched = Touched::none_since(desired.generation);
        for transition in transitions {
            let services = self.reconciler.health().record(transition);
            match &transition.failure {
                Some(failure) => tracing::warn!(
                    target = %transition.target, %failure, services = services.len(), "real server down"
                ),
                None => tracing::info!(
                    target = %transition.target, services = services.len(), "real server up"
                ),
            }
            touched.add_health(services);
        }
        if !touched.is_empty() {
            self.note(touched);
        }
    }

    /// Hands what health changed, now applied, to the report loop.
    fn tell_health(&mut self) {
        let Some(desired) = &self.desired else { return };
        let (real_servers, services) = self.reconciler.health().take_changes(desired);
        let update = HealthUpdate {
            real_servers,
            services,
        };
        if !update.is_empty() {
            let _ = self.health_updates.send(update);
        }
    }

    /// Starts and stops the checks of the services `touched` names (all of them when
    /// `touched` is `None`: a first state).
    fn track_checks(&mut self, touched: Option<&Touched>) {
        let Some(desired) = &self.desired else { return };
        let book = self.reconciler.health();
        let delta = match touched {
            None => book.set_state(desired),
            Some(touched) => {
                let mut delta = crate::health::Delta::default();
                for key in &touched.services {
                    delta.extend(match desired.service(key) {
                        Some(service) => book.set_service(service),
                        None => book.remove_service(key),
                    });
                }
                delta
            }
        };
        if !delta.start.is_empty() || !delta.stop.is_empty() {
            tracing::debug!(
                started = delta.start.len(),
                stopped = delta.stop.len(),
                targets = book.targets(),
                "health checks changed"
            );
        }
        self.engine.apply(delta);
    }

    /// A whole new state: what it touched is found by comparing it with the one it
    /// replaces.
    fn replace(&mut self, state: DesiredState) {
        tracing::info!(generation = state.generation, "new desired state");
        let Some(old) = self.desired.replace(state) else {
            self.unsaved = Unsaved::Replaced;
            self.track_checks(None);
            return;
        };
        let new = self.desired.as_ref().expect("just set");
        let diff = Diff::between(&old, new);
        let mut touched = Touched::none_since(old.generation);
        touched.add(&diff);
        self.track_checks(Some(&touched));
        self.note(touched);
        // The journal holds diffs that move forwards; anything else is a new snapshot.
        match &mut self.unsaved {
            Unsaved::Diffs(unsaved) if diff.to_generation > diff.from_generation => {
                unsaved.push(diff);
            }
            Unsaved::Diffs(_) if diff.is_empty() && diff.to_generation == diff.from_generation => {}
            _ => self.unsaved = Unsaved::Replaced,
        }
    }

    /// Diffs from the state held; if they do not fit it, the whole state is asked for.
    fn apply(&mut self, diffs: Vec<Diff>) {
        let Some(state) = &mut self.desired else {
            self.resync.notify_one();
            return;
        };
        let mut touched = Touched::none_since(state.generation);
        for diff in diffs {
            if let Err(error) = diff.apply_in_place(state) {
                tracing::warn!(
                    %error,
                    "the server's changes do not fit the desired state held; asking for the whole state"
                );
                self.resync.notify_one();
                break;
            }
            touched.add(&diff);
            if let Unsaved::Diffs(unsaved) = &mut self.unsaved {
                unsaved.push(diff);
            }
        }
        tracing::info!(generation = state.generation, "new desired state");
        self.track_checks(Some(&touched));
        self.note(touched);
    }

    /// Adds `touched` to what the next pass looks at.
    fn note(&mut self, touched: Touched) {
        match &mut self.next {
            NextPass::Update(next) => next.extend(&touched),
            NextPass::Full => self.next = NextPass::Update(touched),
        }
    }

    /// One pass; returns when the next one is due.
    fn pass(&mut self) -> Instant {
        let intervals = self.intervals;
        let Some(desired) = &self.desired else {
            return Instant::now() + intervals.reconcile;
        };
        let started = Instant::now();
        let result = match std::mem::replace(&mut self.next, NextPass::Full) {
            NextPass::Update(touched) => self.reconciler.update(desired, &touched),
            NextPass::Full => self.reconciler.pass(desired),
        };
        self.first_pass.send_replace(true);
        match result {
            Ok(result) => {
                tracing::debug!(
                    generation = desired.generation,
                    commands = result.commands,
                    draining = result.draining,
                    incremental = result.incremental,
                    services_read = result.services_read,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "reconciled"
                );
                if let Some(report) = self.applied.pass_ended(result.report, Instant::now()) {
                    let _ = self.reports.send(report);
                }
                let next = if result.draining > 0 {
                    intervals.drain_check.min(intervals.reconcile)
                } else {
                    intervals.reconcile
                };
                Instant::now() + next
            }
            Err(error) => {
                tracing::error!(%error, "cannot reconcile the kernel");
                self.applied.pass_failed();
                Instant::now() + intervals.drain_check.min(intervals.reconcile)
            }
        }
    }

    /// Records the state in the cache when it or the applied generation changed: the
    /// diffs since the last record as a journal line, or a snapshot.
    fn record(&mut self) {
        let Some(desired) = &self.desired else { return };
        let now = (desired.generation, self.reconciler.applied_generation());
        let up_to_date = matches!(&self.unsaved, Unsaved::Diffs(diffs) if diffs.is_empty());
        if up_to_date && self.recorded == Some(now) {
            return;
        }
        let started = Instant::now();
        match self.cache.record(now.1, desired, &self.unsaved) {
            Ok(written) => {
                self.unsaved = Unsaved::Diffs(Vec::new());
                self.recorded = Some(now);
                tracing::debug!(
                    generation = now.0,
                    ?written,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "state cache written"
                );
            }
            Err(error) => tracing::warn!("{error:#}"),
        }
    }
}

/// Stops the thread after the pass in progress.
#[derive(Debug)]
pub struct Stop(std_mpsc::Sender<Message>);

impl Stop {
    pub fn send(self) {
        let _ = self.0.send(Message::Stop);
    }
}

/// The health engine's way into the reconcile thread.
#[derive(Debug, Clone)]
pub struct HealthInbox(std_mpsc::Sender<Message>);

impl HealthInbox {
    /// Flips for the next pass; `Err` once the thread is gone.
    pub fn send(&self, transitions: Vec<Transition>) -> Result<(), Gone> {
        self.0.send(Message::Health(transitions)).map_err(|_| Gone)
    }
}

/// The long-poll's side of the reconcile thread.
#[derive(Debug)]
pub struct Handoff {
    worker: std_mpsc::Sender<Message>,
    /// Messages sent so far.
    sent: u64,
    passed: watch::Receiver<Passed>,
}

/// The reconcile thread is gone.
#[derive(Debug)]
pub struct Gone;

impl Handoff {
    /// A whole desired state, for the next pass.
    pub fn document(&mut self, state: DesiredState) -> Result<(), Gone> {
        self.send(Message::Document(state))
    }

    /// Diffs from the generation the thread holds, for the next pass.
    pub fn changes(&mut self, diffs: Vec<Diff>) -> Result<(), Gone> {
        self.send(Message::Changes(diffs))
    }

    fn send(&mut self, message: Message) -> Result<(), Gone> {
        self.worker.send(message).map_err(|_| Gone)?;
        self.sent += 1;
        Ok(())
    }

    /// Waits for a pass that took in every message sent; what the next poll announces.
    pub async fn passed(&mut self) -> Result<Announce, Gone> {
        let sent = self.sent;
        let passed = self.passed.wait_for(|p| p.messages >= sent).await;
        passed.map(|p| p.announce).map_err(|_| Gone)
    }
}

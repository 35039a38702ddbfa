//! The agent's loops: the long-poll for the desired state, the reconcile worker (its own
//! thread: it owns the netlink socket and blocks on the kernel), reports, statistics, and
//! shutdown on SIGTERM/SIGINT.
//!
//! When the server is unreachable nothing happens to the kernel because of it: the worker
//! keeps the last desired state (from the server, or from the state cache at start) and
//! keeps repairing drift from it.
//!
//! A change travels at the cost of the change: the server sends the diffs since the
//! generation the agent holds, the worker applies them to its state in place, updates only
//! the services they name, hands the report over, and only then records the diffs in the
//! state cache's journal.
//!
//! The next long-poll waits for the pass that applied what the last one brought. When that
//! pass has nothing to report but its generation (a plain report, see `reports.rs`), the
//! poll carries it (`applied=G`): the server learns it at once, and no report is sent.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lvs_ipvs::Ipvs;
use lvs_model::agent::ApplyReport;
use lvs_model::{DesiredState, Diff};
use tokio::sync::{mpsc, watch, Notify};

use crate::backoff::Backoff;
use crate::changes::Changes;
use crate::client::{Client, ClientError, Poll};
use crate::config::Config;
use crate::reconciler::Reconciler;
use crate::reports::PassReport;
use crate::state_cache::StateCache;
use crate::{random, reports, stats, telemetry};

/// Runs the agent until SIGTERM/SIGINT, or one pass with `--once`. `Ok(false)` when a
/// `--once` pass had failures.
pub async fn run(config: Config) -> anyhow::Result<bool> {
    let token = config.token()?;
    let client = Client::new(
        &config.server,
        token,
        config.poll_timeout,
        config.request_timeout,
    )?;
    let mut cache = StateCache::new(&config.state_dir);
    let cached = cache.load().unwrap_or_else(|error| {
        tracing::warn!("ignoring the state cache: {error:#}");
        None
    });
    let ipvs = Ipvs::connect().context("cannot open the kernel's IPVS interface")?;
    let applied = cached.as_ref().and_then(|c| c.applied_generation);
    let reconciler = Reconciler::new(ipvs, config.drain_timeout, applied);
    tracing::info!(
        server = %config.server,
        cached_generation = cached.as_ref().map(|c| c.desired.generation),
        applied_generation = applied,
        "lvs-agent {} starting",
        crate::reconciler::AGENT_VERSION
    );
    if config.once {
        return once(&client, reconciler, cache).await;
    }

    let (shutdown_tx, shutdown) = watch::channel(false);
    let (worker_tx, worker_rx) = std_mpsc::channel();
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let (first_pass_tx, first_pass) = watch::channel(false);
    let (passed_tx, passed) = watch::channel(Passed::default());
    let resync = Arc::new(Notify::new());
    let worker = Worker {
        reconciler,
        cache,
        received: 0,
        passed: passed_tx,
        desired: None,
        pending: None,
        unsaved: None,
        recorded: None,
        resync: Arc::clone(&resync),
        reports: report_tx,
        reported: None,
        announced: None,
        first_pass: first_pass_tx,
        reconcile_interval: config.reconcile_interval,
        drain_check_interval: config.drain_check_interval,
    };
    let worker = std::thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || worker.run(&worker_rx))
        .context("cannot start the reconcile thread")?;
    let stats_ipvs = Ipvs::connect().context("cannot open the kernel's IPVS interface")?;
    let tasks = [
        tokio::spawn(poll_loop(
            client.clone(),
            Handoff {
                worker: worker_tx.clone(),
                sent: 0,
                passed,
            },
            cached.map(|c| c.desired),
            resync,
            config.max_backoff,
            shutdown.clone(),
        )),
        tokio::spawn(reports::report_loop(
            client.clone(),
            report_rx,
            config.report_delay,
            config.max_backoff,
            shutdown.clone(),
        )),
        tokio::spawn(stats_loop(
            client,
            stats_ipvs,
            config.stats_interval,
            first_pass,
            shutdown,
        )),
    ];
    telemetry::shutdown_signal().await;
    let _ = shutdown_tx.send(true);
    let _ = worker_tx.send(Message::Stop);
    for task in tasks {
        let _ = task.await;
    }
    tokio::task::spawn_blocking(move || worker.join())
        .await
        .ok()
        .and_then(Result::ok);
    tracing::info!("stopped; the kernel is left as it is");
    Ok(true)
}

/// `--once`: fetch, apply, report, exit.
async fn once(
    client: &Client,
    mut reconciler: Reconciler,
    mut cache: StateCache,
) -> anyhow::Result<bool> {
    let desired = match client.desired_state(None, None).await {
        Ok(Poll::Changed(state)) => state,
        Ok(Poll::Unchanged | Poll::Changes { .. }) => {
            anyhow::bail!("the server sent no desired state")
        }
        Err(error) => return Err(error).context("cannot fetch the desired state"),
    };
    let (reconciler, desired, result) = tokio::task::spawn_blocking(move || {
        let result = reconciler.pass(&desired);
        (reconciler, desired, result)
    })
    .await?;
    if let Err(error) = cache.store(reconciler.applied_generation(), &desired) {
        tracing::warn!("{error:#}");
    }
    let result = result.context("cannot reconcile the kernel")?;
    if let Err(error) = client.report(&result.report).await {
        tracing::warn!("cannot send the report: {error}");
    }
    if result.draining > 0 {
        tracing::warn!(
            draining = result.draining,
            "objects are draining (weight 0); a later run deletes them once their connections are gone"
        );
    }
    tracing::info!(
        generation = desired.generation,
        commands = result.commands,
        succeeded = result.succeeded(),
        "applied once"
    );
    Ok(result.succeeded())
}

/// What the reconcile thread tells the long-poll after each pass.
#[derive(Debug, Clone, Copy, Default)]
struct Passed {
    /// How many of the messages sent to the thread the passes so far have taken in.
    messages: u64,
    /// The generation for the long-poll to announce as applied (`Worker::announced`).
    applied: Option<u64>,
}

enum Message {
    /// A whole desired state: from the server, or from the state cache at start.
    Document(DesiredState),
    /// Diffs from the generation the worker holds on.
    Changes(Vec<Diff>),
    Stop,
}

/// The reconcile thread: an update on every new desired state (only what changed), and a
/// full pass every reconcile interval and every drain-check interval while something
/// drains.
struct Worker {
    reconciler: Reconciler,
    cache: StateCache,
    /// Documents and changes received so far.
    received: u64,
    passed: watch::Sender<Passed>,
    desired: Option<DesiredState>,
    /// What changed since the state the last pass worked from, when a state arrived since;
    /// `None` makes the next pass a full one.
    pending: Option<Changes>,
    /// The diffs applied to `desired` since it was last recorded in the cache; `None`
    /// when it was replaced whole (the next record is a snapshot).
    unsaved: Option<Vec<Diff>>,
    /// The (generation, applied generation) last recorded in the cache.
    recorded: Option<(u64, Option<u64>)>,
    /// Asks the long-poll for the whole state, when changes did not fit the one held.
    resync: Arc<Notify>,
    reports: mpsc::UnboundedSender<PassReport>,
    /// The last report handed to the report loop.
    reported: Option<ApplyReport>,
    /// The generation the long-poll announces as applied: that of the last report handed
    /// over, when it was plain; `None` after any other report or a failed pass, when the
    /// report loop tells the server.
    announced: Option<u64>,
    /// Set once the first pass is over (statistics wait for it).
    first_pass: watch::Sender<bool>,
    reconcile_interval: Duration,
    drain_check_interval: Duration,
}

impl Worker {
    fn run(mut self, messages: &std_mpsc::Receiver<Message>) {
        let mut due = Instant::now() + self.reconcile_interval;
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
            self.record();
            // Once the thread is done: the long-poll's wake-up then switches threads once.
            self.passed.send_replace(Passed {
                messages: self.received,
                applied: self.announced,
            });
        }
    }

    fn receive(&mut self, message: Message) {
        if !matches!(message, Message::Stop) {
            self.received += 1;
        }
        match message {
            Message::Document(state) => self.replace(state),
            Message::Changes(diffs) => self.apply(diffs),
            Message::Stop => {}
        }
    }

    /// A whole new state: what changed is found by comparing it with the one it replaces.
    fn replace(&mut self, state: DesiredState) {
        tracing::info!(generation = state.generation, "new desired state");
        let Some(old) = self.desired.replace(state) else {
            self.unsaved = None;
            return;
        };
        let new = self.desired.as_ref().expect("just set");
        let diff = Diff::between(&old, new);
        let mut changes = Changes::none_since(old.generation);
        changes.add(&diff);
        self.note(changes);
        // The journal holds diffs that move forwards; anything else is a new snapshot.
        match &mut self.unsaved {
            Some(unsaved) if diff.to_generation > diff.from_generation => unsaved.push(diff),
            Some(_) if diff.is_empty() && diff.to_generation == diff.from_generation => {}
            _ => self.unsaved = None,
        }
    }

    /// Diffs from the state held; if they do not fit it, the whole state is asked for.
    fn apply(&mut self, diffs: Vec<Diff>) {
        let Some(state) = &mut self.desired else {
            self.resync.notify_one();
            return;
        };
        let mut changes = Changes::none_since(state.generation);
        for diff in diffs {
            if let Err(error) = diff.apply_in_place(state) {
                tracing::warn!(
                    %error,
                    "the server's changes do not fit the desired state held; asking for the whole state"
                );
                self.resync.notify_one();
                break;
            }
            changes.add(&diff);
            if let Some(unsaved) = &mut self.unsaved {
                unsaved.push(diff);
            }
        }
        tracing::info!(generation = state.generation, "new desired state");
        self.note(changes);
    }

    /// Adds `changes` to those the next pass applies.
    fn note(&mut self, changes: Changes) {
        match &mut self.pending {
            Some(pending) => pending.extend(&changes),
            None => self.pending = Some(changes),
        }
    }

    /// One pass; returns when the next one is due.
    fn pass(&mut self) -> Instant {
        let Some(desired) = &self.desired else {
            return Instant::now() + self.reconcile_interval;
        };
        let started = Instant::now();
        let result = match self.pending.take() {
            Some(changes) => self.reconciler.update(desired, &changes),
            None => self.reconciler.pass(desired),
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
                self.report(result.report);
                let next = if result.draining > 0 {
                    self.drain_check_interval.min(self.reconcile_interval)
                } else {
                    self.reconcile_interval
                };
                Instant::now() + next
            }
            Err(error) => {
                tracing::error!(%error, "cannot reconcile the kernel");
                self.announced = None;
                Instant::now() + self.drain_check_interval.min(self.reconcile_interval)
            }
        }
    }

    /// Hands `report` to the report loop, unless the pass did nothing and the server
    /// already has the same report: a periodic pass over a matching kernel says nothing
    /// new, and every report is a write on the server. A plain report's generation is
    /// announced by the long-poll; any other report says it itself, so that the status
    /// never shows the new generation beside the old errors, versions or unmanaged
    /// services and timeouts.
    fn report(&mut self, report: ApplyReport) {
        let nothing_new = report.outcomes.is_empty()
            && report.drift_repaired.is_empty()
            && self.reported.as_ref() == Some(&report);
        if nothing_new {
            return;
        }
        let plain = self
            .reported
            .as_ref()
            .is_some_and(|before| is_plain(before, &report));
        self.announced = plain.then_some(report.applied_generation);
        self.reported = Some(report.clone());
        let _ = self.reports.send(PassReport {
            report,
            plain,
            at: std::time::Instant::now(),
        });
    }

    /// Records the state in the cache when it or the applied generation changed: the
    /// diffs since the last record as a journal line, or a snapshot.
    fn record(&mut self) {
        let Some(desired) = &self.desired else { return };
        let now = (desired.generation, self.reconciler.applied_generation());
        let diffs = self.unsaved.as_deref();
        if diffs.is_some_and(<[Diff]>::is_empty) && self.recorded == Some(now) {
            return;
        }
        let started = Instant::now();
        match self.cache.record(now.1, desired, diffs) {
            Ok(written) => {
                self.unsaved = Some(Vec::new());
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

/// Whether `report` tells the server nothing but its generation, after `before`: both
/// succeeded, it repaired no drift, and the versions and unmanaged services and timeouts are
/// the same.
fn is_plain(before: &ApplyReport, report: &ApplyReport) -> bool {
    before.succeeded()
        && report.succeeded()
        && report.drift_repaired.is_empty()
        && report.agent_version == before.agent_version
        && report.kernel_version == before.kernel_version
        && report.unmanaged_services == before.unmanaged_services
        && report.unmanaged_timeouts == before.unmanaged_timeouts
}

/// The long-poll's side of the reconcile thread.
struct Handoff {
    worker: std_mpsc::Sender<Message>,
    /// Messages sent so far.
    sent: u64,
    passed: watch::Receiver<Passed>,
}

impl Handoff {
    fn send(&mut self, message: Message) -> Result<(), ()> {
        self.worker.send(message).map_err(drop)?;
        self.sent += 1;
        Ok(())
    }

    /// Waits for a pass that took in every message sent; its applied generation. `Err`
    /// when the thread is gone.
    async fn passed(&mut self) -> Result<Option<u64>, ()> {
        let sent = self.sent;
        let passed = self.passed.wait_for(|p| p.messages >= sent).await;
        passed.map(|p| p.applied).map_err(drop)
    }
}

/// Long-polls the desired state (the changes since the generation held, once one is);
/// on failure backs off (jittered) and, the first time, falls back to the cached state so
/// drift repair can start without the server. `resync` asks for the whole state again.
/// Each poll waits for the pass that applied what the last one brought, and carries the
/// generation it applied.
async fn poll_loop(
    client: Client,
    mut worker: Handoff,
    mut fallback: Option<DesiredState>,
    resync: Arc<Notify>,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = None;
    let mut backoff = Backoff::new(max_backoff);
    loop {
        let applied = tokio::select! {
            passed = worker.passed() => match passed {
                Ok(applied) => applied,
                Err(()) => return,
            },
            _ = shutdown.changed() => return,
        };
        let result = tokio::select! {
            result = client.desired_state(after, applied) => result,
            () = resync.notified() => {
                after = None;
                continue;
            }
            _ = shutdown.changed() => return,
        };
        let message = match result {
            Ok(Poll::Changed(state)) => {
                if after.is_none() || fallback.is_some() {
                    tracing::info!(generation = state.generation, "connected to the server");
                }
                after = Some(state.generation);
                Some(Message::Document(state))
            }
            Ok(Poll::Changes { generation, diffs }) => {
                after = Some(generation);
                Some(Message::Changes(diffs))
            }
            Ok(Poll::Unchanged) => None,
            Err(error) => {
                match error {
                    ClientError::Unauthorized { .. } => {
                        tracing::error!(%error, "fix the token (--token / --token-file); retrying");
                    }
                    // Changes that do not parse or chain: the whole state next time.
                    ClientError::Invalid(_) => {
                        tracing::warn!(%error, "asking for the whole desired state; retrying");
                        after = None;
                    }
                    _ => tracing::warn!(%error, "cannot get the desired state; retrying"),
                }
                if let Some(state) = fallback.take() {
                    tracing::info!(
                        generation = state.generation,
                        "using the cached desired state until the server answers"
                    );
                    if worker.send(Message::Document(state)).is_err() {
                        return;
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = shutdown.changed() => return,
                }
                continue;
            }
        };
        backoff.reset();
        fallback = None;
        if let Some(message) = message {
            if worker.send(message).is_err() {
                return;
            }
        }
    }
}

/// Reads the table's counters every interval and sends them; a failed send is dropped (the
/// next one carries fresher numbers).
async fn stats_loop(
    client: Client,
    mut ipvs: Ipvs,
    interval: Duration,
    mut first_pass: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Statistics start after the first pass: until then the reconcile thread reads the
    // whole table, and two full reads at once double the time to get in sync. Then at a
    // random point of the interval, so that a fleet's agents started together do not all
    // read and send at the same moment.
    tokio::select! {
        done = first_pass.wait_for(|done| *done) => if done.is_err() { return },
        _ = shutdown.changed() => return,
    }
    let phase = interval.mul_f64(random::fraction());
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + phase, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let started = Instant::now();
        let read = tokio::task::spawn_blocking(move || {
            let table = ipvs.table();
            (ipvs, table)
        })
        .await;
        let read_us = started.elapsed().as_micros() as u64;
        let table = match read {
            Ok((back, table)) => {
                ipvs = back;
                table
            }
            Err(error) => {
                tracing::error!(%error, "the statistics reader failed");
                return;
            }
        };
        match table {
            Ok(table) => match client.stats(&stats::report(&table)).await {
                // When a pass or a change was slow, this says whether statistics ran beside it.
                Ok(()) => tracing::debug!(
                    services = table.len(),
                    read_us,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "statistics sent"
                ),
                Err(error) => tracing::warn!(%error, "cannot send statistics"),
            },
            Err(error) => tracing::warn!(%error, "cannot read the kernel's statistics"),
        }
    }
}

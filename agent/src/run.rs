//! The agent's loops: the long-poll for the desired state, the reconcile worker (its own
//! thread: it owns the netlink socket and blocks on the kernel), reports, statistics, and
//! shutdown on SIGTERM/SIGINT.
//!
//! When the server is unreachable nothing happens to the kernel because of it: the worker
//! keeps the last desired state (from the server, or from the state cache at start) and
//! keeps repairing drift from it.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lvs_ipvs::Ipvs;
use lvs_model::agent::ApplyReport;
use lvs_model::DesiredState;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::client::{Client, ClientError, Poll};
use crate::config::Config;
use crate::reconciler::Reconciler;
use crate::state_cache::{Cached, StateCache};
use crate::{stats, telemetry};

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
    let cache = StateCache::new(&config.state_dir);
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
        return once(&client, reconciler, &cache).await;
    }

    let (shutdown_tx, shutdown) = watch::channel(false);
    let (worker_tx, worker_rx) = std_mpsc::channel();
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let (first_pass_tx, first_pass) = watch::channel(false);
    let worker = Worker {
        reconciler,
        cache,
        desired: None,
        fresh: false,
        stored: cached
            .as_ref()
            .map(|c| (c.desired.generation, c.applied_generation)),
        reports: report_tx,
        reported: None,
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
            worker_tx.clone(),
            cached.map(|c| c.desired),
            config.max_backoff,
            shutdown.clone(),
        )),
        tokio::spawn(report_loop(
            client.clone(),
            report_rx,
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
    cache: &StateCache,
) -> anyhow::Result<bool> {
    let desired = match client.desired_state(None).await {
        Ok(Poll::Changed(state)) => state,
        Ok(Poll::Unchanged) => anyhow::bail!("the server sent no desired state"),
        Err(error) => return Err(error).context("cannot fetch the desired state"),
    };
    let mut cached = Cached {
        applied_generation: reconciler.applied_generation(),
        desired,
    };
    if let Err(error) = cache.store(&cached) {
        tracing::warn!("{error:#}");
    }
    let desired = Arc::new(cached.desired);
    let (reconciler, desired, result) = tokio::task::spawn_blocking(move || {
        let result = reconciler.pass(&desired);
        (reconciler, desired, result)
    })
    .await?;
    let desired = Arc::unwrap_or_clone(desired);
    let result = result.context("cannot reconcile the kernel")?;
    cached = Cached {
        applied_generation: reconciler.applied_generation(),
        desired,
    };
    if let Err(error) = cache.store(&cached) {
        tracing::warn!("{error:#}");
    }
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
        generation = cached.desired.generation,
        commands = result.commands,
        succeeded = result.succeeded(),
        "applied once"
    );
    Ok(result.succeeded())
}

enum Message {
    Desired(Arc<DesiredState>),
    Stop,
}

/// The reconcile thread: an update on every new desired state (only what changed), and a
/// full pass every reconcile interval and every drain-check interval while something
/// drains.
struct Worker {
    reconciler: Reconciler,
    cache: StateCache,
    desired: Option<Arc<DesiredState>>,
    /// A desired state arrived since the last pass.
    fresh: bool,
    /// The (generation, applied generation) last written to the cache.
    stored: Option<(u64, Option<u64>)>,
    reports: mpsc::UnboundedSender<ApplyReport>,
    /// The last report handed to the report loop.
    reported: Option<ApplyReport>,
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
                Ok(Message::Desired(desired)) => self.set_desired(desired),
                Ok(Message::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            }
            // Only the newest of several queued states matters.
            loop {
                match messages.try_recv() {
                    Ok(Message::Desired(desired)) => self.set_desired(desired),
                    Ok(Message::Stop) => return,
                    Err(_) => break,
                }
            }
            due = self.pass();
        }
    }

    fn set_desired(&mut self, desired: Arc<DesiredState>) {
        tracing::info!(generation = desired.generation, "new desired state");
        self.desired = Some(desired);
        self.fresh = true;
        self.store();
    }

    /// One pass; returns when the next one is due.
    fn pass(&mut self) -> Instant {
        let Some(desired) = self.desired.clone() else {
            return Instant::now() + self.reconcile_interval;
        };
        let started = Instant::now();
        let result = if std::mem::take(&mut self.fresh) {
            self.reconciler.update(&desired)
        } else {
            self.reconciler.pass(&desired)
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
                self.store();
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
                Instant::now() + self.drain_check_interval.min(self.reconcile_interval)
            }
        }
    }

    /// Hands `report` to the report loop, unless the pass did nothing and the server
    /// already has the same report: a periodic pass over a matching kernel says nothing
    /// new, and every report is a write on the server.
    fn report(&mut self, report: ApplyReport) {
        let nothing_new = report.outcomes.is_empty()
            && report.drift_repaired.is_empty()
            && self.reported.as_ref() == Some(&report);
        if nothing_new {
            return;
        }
        self.reported = Some(report.clone());
        let _ = self.reports.send(report);
    }

    /// Writes the cache when the desired or applied generation changed.
    fn store(&mut self) {
        let Some(desired) = &self.desired else { return };
        let now = (desired.generation, self.reconciler.applied_generation());
        if self.stored == Some(now) {
            return;
        }
        let started = Instant::now();
        match self.cache.store_state(now.1, desired) {
            Ok(()) => {
                self.stored = Some(now);
                tracing::debug!(
                    generation = now.0,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "state cache written"
                );
            }
            Err(error) => tracing::warn!("{error:#}"),
        }
    }
}

/// Long-polls the desired state; on failure backs off (jittered) and, the first time, falls
/// back to the cached state so drift repair can start without the server.
async fn poll_loop(
    client: Client,
    worker: std_mpsc::Sender<Message>,
    mut fallback: Option<DesiredState>,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut after = None;
    let mut backoff = Backoff::new(max_backoff);
    loop {
        let result = tokio::select! {
            result = client.desired_state(after) => result,
            _ = shutdown.changed() => return,
        };
        match result {
            Ok(Poll::Changed(state)) => {
                if after.is_none() || fallback.is_some() {
                    tracing::info!(generation = state.generation, "connected to the server");
                }
                backoff.reset();
                fallback = None;
                after = Some(state.generation);
                if worker.send(Message::Desired(Arc::new(state))).is_err() {
                    return;
                }
                continue;
            }
            Ok(Poll::Unchanged) => {
                backoff.reset();
                continue;
            }
            Err(error @ ClientError::Unauthorized { .. }) => {
                tracing::error!(%error, "fix the token (--token / --token-file); retrying");
            }
            Err(error) => tracing::warn!(%error, "cannot get the desired state; retrying"),
        }
        if let Some(state) = fallback.take() {
            tracing::info!(
                generation = state.generation,
                "using the cached desired state until the server answers"
            );
            if worker.send(Message::Desired(Arc::new(state))).is_err() {
                return;
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Sends every pass's report; while the server is unreachable only the newest is kept.
async fn report_loop(
    client: Client,
    mut reports: mpsc::UnboundedReceiver<ApplyReport>,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(max_backoff);
    let mut pending: Option<ApplyReport> = None;
    loop {
        let report = match pending.take() {
            Some(report) => report,
            None => tokio::select! {
                report = reports.recv() => match report {
                    Some(report) => report,
                    None => return,
                },
                _ = shutdown.changed() => return,
            },
        };
        match client.report(&report).await {
            Ok(()) => backoff.reset(),
            Err(error) => {
                tracing::warn!(%error, "cannot send the apply report; retrying");
                pending = Some(report);
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    newer = reports.recv() => if let Some(newer) = newer {
                        pending = Some(newer);
                    },
                    _ = shutdown.changed() => return,
                }
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
    // Statistics start one interval after the first pass: until then the reconcile thread
    // reads the whole table, and two full reads at once double the time to get in sync.
    tokio::select! {
        done = first_pass.wait_for(|done| *done) => if done.is_err() { return },
        _ = shutdown.changed() => return,
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let read = tokio::task::spawn_blocking(move || {
            let table = ipvs.table();
            (ipvs, table)
        })
        .await;
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
            Ok(table) => {
                if let Err(error) = client.stats(&stats::report(&table)).await {
                    tracing::warn!(%error, "cannot send statistics");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the kernel's statistics"),
        }
    }
}

//! The agent's tasks, wired: the long-poll for the desired state (`poll.rs`), the
//! reconcile thread (`worker.rs`: it owns the netlink socket and blocks on the kernel), the
//! report loop (`reports.rs`), statistics, and shutdown on SIGTERM/SIGINT. Or, with
//! `--once`, one fetch, pass and report.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lvs_ipvs::Ipvs;
use tokio::sync::{mpsc, watch};

use crate::applied::Announce;
use crate::client::{Ask, Client, Poll};
use crate::config::Config;
use crate::health::{Engine, Transition};
use crate::host::HostPrep;
use crate::pass::Reconciler;
use crate::state_cache::StateCache;
use crate::worker::{HealthInbox, Intervals};
use crate::{health, poll, random, reports, stats, worker};

/// Runs the agent until SIGTERM/SIGINT, or one pass with `--once`. `Ok(false)` when a
/// `--once` pass had failures.
pub async fn run(config: Config) -> anyhow::Result<bool> {
    let token = config.token()?;
    let client = Client::with_trust(
        &config.server,
        token,
        config.poll_timeout,
        config.request_timeout,
        &config.trust(),
    )?;
    if config.role == crate::config::Role::RealServer {
        return crate::real_server::run(config, client).await;
    }
    let mut cache = StateCache::new(&config.state_dir);
    let cached = cache.load().unwrap_or_else(|error| {
        tracing::warn!("ignoring the state cache: {error:#}");
        None
    });
    let ipvs = Ipvs::connect().context("cannot open the kernel's IPVS interface")?;
    let applied = cached.as_ref().and_then(|c| c.applied_generation);
    let reconciler = Reconciler::new(ipvs, config.drain_timeout, applied)
        .with_host(HostPrep::new(&config.state_dir));
    tracing::info!(
        server = %config.server,
        cached_generation = cached.as_ref().map(|c| c.desired.generation),
        applied_generation = applied,
        "lvs-agent {} starting",
        crate::pass::AGENT_VERSION
    );
    if config.once {
        return once(&client, reconciler, cache).await;
    }
    // Installed now: a SIGTERM from here on stops the agent in order.
    let stopped = lvs_telemetry::shutdown_signal("stopping");

    let (shutdown_tx, shutdown) = watch::channel(false);
    let intervals = Intervals {
        reconcile: config.reconcile_interval,
        drain_check: config.drain_check_interval,
    };
    let (transitions_tx, transitions) = mpsc::unbounded_channel();
    let shared = health::probe::Shared::new(config.exec_policy()?, config.tcp_checks);
    let engine =
        Engine::new(shared, transitions_tx).context("cannot start the health-check thread")?;
    let engine_status = engine.status();
    let (health_updates_tx, health_updates) = mpsc::unbounded_channel();
    let worker = worker::spawn(reconciler, cache, intervals, engine, health_updates_tx)
        .context("cannot start the reconcile thread")?;
    let health = tokio::spawn(forward_health(transitions, worker.health));
    let stats_ipvs = Ipvs::connect().context("cannot open the kernel's IPVS interface")?;
    let setup = poll::Setup {
        fallback: cached.map(|c| c.desired),
        resync: worker.resync,
        max_backoff: config.max_backoff,
    };
    let tasks = [
        tokio::spawn(poll::poll_loop(
            client.clone(),
            worker.handoff,
            setup,
            shutdown.clone(),
        )),
        tokio::spawn(health::report::report_loop(
            client.clone(),
            health_updates,
            engine_status,
            health::report::Timing {
                delay: config.report_delay,
                interval: config.health_report_interval,
                full_every: HEALTH_FULL_EVERY,
            },
            shutdown.clone(),
        )),
        tokio::spawn(reports::report_loop(
            client.clone(),
            worker.reports,
            config.report_delay,
            config.max_backoff,
            shutdown.clone(),
        )),
        tokio::spawn(stats_loop(
            client,
            stats_ipvs,
            config.stats_interval,
            worker.first_pass,
            shutdown,
        )),
    ];
    stopped.await;
    let _ = shutdown_tx.send(true);
    worker.stop.send();
    for task in tasks {
        let _ = task.await;
    }
    health.abort();
    let thread = worker.thread;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .ok()
        .and_then(Result::ok);
    tracing::info!("stopped; the kernel is left as it is");
    Ok(true)
}

/// Every this many health report intervals the report is full (a minute at the default).
const HEALTH_FULL_EVERY: u32 = 6;

/// Hands the engine's flips to the reconcile thread, those that came together in one
/// message (one pass).
async fn forward_health(mut transitions: mpsc::UnboundedReceiver<Transition>, inbox: HealthInbox) {
    while let Some(first) = transitions.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = transitions.try_recv() {
            batch.push(more);
        }
        if inbox.send(batch).is_err() {
            return;
        }
    }
}

/// `--once`: fetch, apply, report, exit; health checks do not run.
async fn once(
    client: &Client,
    mut reconciler: Reconciler,
    mut cache: StateCache,
) -> anyhow::Result<bool> {
    let desired = match client.desired_state(Ask::Document, Announce::Nothing).await {
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

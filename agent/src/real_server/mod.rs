//! `lvs-agent --role real-server`: prepares a real server's host for the direct-routing
//! and tunnel services that use it. It long-polls what the host needs
//! ([`RealServerNeeds`]), turns it into what the host should hold ([`wanted`]) and lets
//! [`HostPrep`] do it, touching only what it added (recorded in
//! `real-server-host.json` in the state directory). Every pass is reported when it has
//! something new to say; a periodic pass repairs drift.

mod linger;
pub mod wanted;

use std::time::{Duration, Instant};

use lvs_host::Sysctl;
use lvs_model::real_server_host::{RealServerNeeds, RealServerReport};
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::client::{Client, ClientError};
use crate::config::Config;
use crate::host::owned::OwnedFile;
use crate::host::HostPrep;
use crate::pass::AGENT_VERSION;

use linger::Linger;

/// Runs until SIGTERM/SIGINT, or one pass with `--once`. `Ok(false)` when a `--once` pass
/// had failures.
pub async fn run(config: Config, client: Client) -> anyhow::Result<bool> {
    let file = OwnedFile::at(config.state_dir.join(OwnedFile::REAL_SERVER_NAME));
    let mut prep = Some(HostPrep::recording_in(file));
    tracing::info!(server = %config.server, "lvs-agent {AGENT_VERSION} starting as a real server");
    if config.once {
        let needs = client.real_server_needs(None).await?.unwrap_or_default();
        let report = pass(&mut prep, needs).await?;
        client.real_server_report(&report).await?;
        log_failures(&report);
        return Ok(report.succeeded());
    }
    let stopped = lvs_telemetry::shutdown_signal("stopping");
    tokio::pin!(stopped);
    let (needs_tx, mut needs_rx) = watch::channel(None::<RealServerNeeds>);
    let poller = tokio::spawn(poll_loop(client.clone(), needs_tx, config.max_backoff));
    let mut repair = tokio::time::interval(config.reconcile_interval);
    repair.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent: Option<RealServerReport> = None;
    let mut linger = Linger::new(config.drain_timeout);
    let mut current: Option<RealServerNeeds> = None;
    loop {
        tokio::select! {
            () = &mut stopped => break,
            changed = needs_rx.changed() => if changed.is_err() { break },
            _ = repair.tick() => {}
        }
        // Nothing is done before the server has said what the host needs.
        let Some(needs) = needs_rx.borrow_and_update().clone() else {
            continue;
        };
        let now = Instant::now();
        if current.as_ref() != Some(&needs) {
            linger.needs_changed(current.as_ref(), &needs, now);
            current = Some(needs.clone());
        }
        let needs = linger.with_leaving(&needs, now);
        let report = pass(&mut prep, needs).await?;
        log_failures(&report);
        // Not sent: a pass that says what the last report said (the same errors, retried),
        // or changed nothing after a report of the same version that succeeded.
        let quiet = report.outcomes.is_empty() && report.drift_repaired.is_empty();
        let same = last_sent
            .as_ref()
            .is_some_and(|sent| sent.version == report.version && sent.succeeded());
        if (quiet && same) || last_sent.as_ref() == Some(&report) {
            continue;
        }
        match client.real_server_report(&report).await {
            Ok(()) => last_sent = Some(report),
            Err(error) => {
                tracing::warn!("cannot report the pass (sent with the next one): {error}");
                last_sent = None;
            }
        }
    }
    poller.abort();
    tracing::info!("stopped; the host is left as it is");
    Ok(true)
}

/// Long-polls the needs and hands each new version on, reconnecting with backoff.
async fn poll_loop(
    client: Client,
    needs: watch::Sender<Option<RealServerNeeds>>,
    max_backoff: Duration,
) {
    let mut backoff = Backoff::new(max_backoff);
    loop {
        let after = needs.borrow().as_ref().map(|n| n.version.clone());
        match client.real_server_needs(after.as_deref()).await {
            Ok(Some(new)) => {
                backoff.reset();
                tracing::info!(version = %new.version, vips = new.vips.len(), "new needs");
                needs.send_replace(Some(new));
            }
            Ok(None) => backoff.reset(),
            Err(error) => {
                let delay = backoff.next_delay();
                match &error {
                    ClientError::Unauthorized { .. } => tracing::error!(
                        "{error}; create a real-server host token with POST \
                         /api/v1/real-server-hosts/{{host}}/token (retrying in {delay:?})"
                    ),
                    _ => tracing::warn!("{error} (retrying in {delay:?})"),
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// One pass over the host, on a blocking thread (netlink and /proc/sys block).
async fn pass(
    prep: &mut Option<HostPrep>,
    needs: RealServerNeeds,
) -> anyhow::Result<RealServerReport> {
    let mut taken = prep.take().expect("one pass at a time");
    let (taken, report) = tokio::task::spawn_blocking(move || {
        let report = pass_now(&mut taken, &needs);
        (taken, report)
    })
    .await?;
    *prep = Some(taken);
    Ok(report)
}

fn pass_now(prep: &mut HostPrep, needs: &RealServerNeeds) -> RealServerReport {
    const ALL_RP_FILTER: &str = "net.ipv4.conf.all.rp_filter";
    let all_rp_filter = match prep.owned().sysctls.get(ALL_RP_FILTER) {
        Some(set) => Some(set.original.clone()),
        None => Sysctl::dotted(ALL_RP_FILTER).read().ok(),
    };
    let wanted = wanted::wanted(needs, all_rp_filter.as_deref());
    let outcome = prep.reconcile(&wanted);
    RealServerReport {
        version: needs.version.clone(),
        outcomes: outcome.outcomes,
        drift_repaired: outcome.drift,
        agent_version: AGENT_VERSION.to_owned(),
        kernel_version: crate::kernel::kernel_version(),
    }
}

fn log_failures(report: &RealServerReport) {
    for failed in report.outcomes.iter().filter(|o| o.error.is_some()) {
        tracing::warn!(object = %failed.object, action = %failed.action,
            error = failed.error.as_deref().unwrap_or_default(), "host change failed");
    }
}

//! Sending apply reports to the server. A report waits `--report-delay` before it goes, and
//! the reports of passes made meanwhile are merged into it: a burst of changes costs the
//! server one write per director, and the reports of a change do not compete for the server
//! with the change's own fan-out to the other directors. While the server is unreachable,
//! reports keep merging into the one that waits, so nothing they say is lost.
//!
//! A plain report (nothing but "applied generation G, like the one before") is left to the
//! long-poll, except while a report was in flight: see [`crate::applied`], which holds the
//! rule, and the protocol in [`lvs_model::agent`].

use std::collections::HashSet;
use std::time::Duration;

use lvs_model::agent::ApplyReport;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::applied::LastAttempt;
pub use crate::applied::PassReport;
use crate::backoff::Backoff;
use crate::client::{Client, ClientError};

impl PassReport {
    /// One report for two passes, `self` then `later` (see [`merge`]): plain if both
    /// were, from the time of the older.
    fn merge(self, later: PassReport) -> PassReport {
        PassReport {
            report: merge(self.report, later.report),
            teller: self.teller.merge(later.teller),
            at: self.at.min(later.at),
        }
    }
}

/// Sends the reports `reports` yields, each at least `delay` after the oldest pass it
/// covers, until the channel closes or `shutdown` turns true; a report still waiting then
/// is sent at once. Plain reports are dropped (see [`LastAttempt::must_send`]).
pub async fn report_loop(
    client: Client,
    mut reports: mpsc::UnboundedReceiver<PassReport>,
    delay: Duration,
    max_backoff: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(max_backoff);
    let mut waiting: Option<PassReport> = None;
    // Passes the waiting report covers, for the log.
    let mut passes = 0_u32;
    let mut due = Instant::now();
    let mut last_attempt = LastAttempt::None;
    loop {
        let Some(report) = waiting.take() else {
            tokio::select! {
                report = reports.recv() => match report {
                    Some(report) => {
                        waiting = Some(report);
                        passes = 1;
                        due = Instant::now() + delay;
                    }
                    None => return,
                },
                _ = shutdown.changed() => return,
            }
            continue;
        };
        let (report, stopping) = tokio::select! {
            () = tokio::time::sleep_until(due) => (report, false),
            later = reports.recv() => match later {
                Some(later) => {
                    waiting = Some(report.merge(later));
                    passes += 1;
                    continue;
                }
                None => (report, true),
            },
            _ = shutdown.changed() => (report, true),
        };
        if stopping {
            // Shutdown waits for this attempt: an unreachable server must not hold it up.
            let last = send(&client, &report.report, passes);
            match tokio::time::timeout(LAST_ATTEMPT, last).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "cannot send the last apply report"),
                Err(_) => tracing::warn!(
                    "the server did not take the last apply report within {LAST_ATTEMPT:?}"
                ),
            }
            return;
        }
        if !last_attempt.must_send(&report) {
            tracing::debug!(
                generation = report.report.applied_generation,
                passes,
                "report left to the long-poll"
            );
            continue;
        }
        let sent = send(&client, &report.report, passes).await;
        last_attempt = LastAttempt::EndedAt(std::time::Instant::now());
        match sent {
            Ok(()) => backoff.reset(),
            Err(error) => {
                tracing::warn!(%error, "cannot send the apply report; retrying");
                waiting = Some(report);
                due = Instant::now() + backoff.next_delay();
            }
        }
    }
}

/// How long a report waiting at shutdown may take to send.
const LAST_ATTEMPT: Duration = Duration::from_secs(2);

async fn send(client: &Client, report: &ApplyReport, passes: u32) -> Result<(), ClientError> {
    let started = std::time::Instant::now();
    client.report(report).await?;
    tracing::debug!(
        generation = report.applied_generation,
        passes,
        elapsed_us = started.elapsed().as_micros() as u64,
        "report sent"
    );
    Ok(())
}

/// One report for two passes, `earlier` then `later`: the state `later` left (its
/// generation, versions and unmanaged services), and what both did. An outcome of `later`
/// replaces `earlier`'s for the same object, and when `later` succeeded, `earlier`'s
/// failures are over: a pass after a failure is a full one, which retried them.
pub fn merge(earlier: ApplyReport, later: ApplyReport) -> ApplyReport {
    let redone: HashSet<&str> = later.outcomes.iter().map(|o| o.object.as_str()).collect();
    let later_succeeded = later.succeeded();
    let mut outcomes: Vec<_> = earlier
        .outcomes
        .into_iter()
        .filter(|o| !redone.contains(o.object.as_str()))
        .filter(|o| !(later_succeeded && o.error.is_some()))
        .collect();
    outcomes.extend(later.outcomes);
    let mut drift_repaired = earlier.drift_repaired;
    drift_repaired.extend(later.drift_repaired);
    ApplyReport {
        applied_generation: later.applied_generation,
        outcomes,
        drift_repaired,
        unmanaged_services: later.unmanaged_services,
        unmanaged_timeouts: later.unmanaged_timeouts,
        agent_version: later.agent_version,
        kernel_version: later.kernel_version,
    }
}

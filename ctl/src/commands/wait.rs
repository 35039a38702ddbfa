//! `--wait`: until every director of a cluster has applied a generation.

use std::time::Duration;

use lvs_model::agent::ObjectOutcome;
use tokio::time::Instant;

use super::get::{list_directors, typed};
use super::resources::Director;
use super::Context;
use crate::exit::{Exit, Failure, Outcome};

/// How often the directors' state is read while waiting; agents report within a second
/// of applying, so this is what a waiting script adds at most.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where one director stands against the generation waited for.
enum Standing {
    Applied,
    Failed,
    Pending,
}

fn standing(director: &Director, generation: u64) -> Standing {
    let status = &director.status;
    match status.applied_generation {
        Some(applied) if applied >= generation => {
            if status.sync == "error" {
                Standing::Failed
            } else {
                Standing::Applied
            }
        }
        _ => Standing::Pending,
    }
}

/// Why a director has not applied it yet, in a few words.
fn pending_reason(director: &Director) -> String {
    let status = &director.status;
    let at = status
        .applied_generation
        .map_or("nothing applied".into(), |g| format!("at generation {g}"));
    match (status.online, &status.last_seen) {
        (_, None) => format!("{}: never seen", director.name),
        (false, Some(seen)) => format!("{}: offline, last seen {seen}, {at}", director.name),
        (true, Some(_)) => format!("{}: {at}", director.name),
    }
}

/// Waits until every director of `cluster` has applied `generation` (or a later one):
/// [`Exit::Ok`], [`Exit::DirectorErrors`] if one reported errors doing so, or
/// [`Exit::Timeout`] after `timeout`, naming the directors still behind and why.
pub async fn until_applied(
    context: &Context,
    cluster: &str,
    generation: u64,
    timeout: Duration,
) -> Outcome<Exit> {
    let deadline = Instant::now() + timeout;
    let mut last_progress = String::new();
    loop {
        let directors = list_directors(context, cluster)
            .await?
            .into_iter()
            .map(typed::<Director>)
            .collect::<Outcome<Vec<_>>>()?;
        if directors.is_empty() {
            eprintln!("cluster {cluster} has no directors: nothing to wait for");
            return Ok(Exit::Ok);
        }
        let (mut applied, mut failed, mut pending) = (0, Vec::new(), Vec::new());
        for director in &directors {
            match standing(director, generation) {
                Standing::Applied => applied += 1,
                Standing::Failed => failed.push(director),
                Standing::Pending => pending.push(director),
            }
        }
        let total = directors.len();
        let progress = format!(
            "generation {generation}: {applied} of {total} directors applied{}",
            pending
                .iter()
                .map(|d| format!("; {}", pending_reason(d)))
                .collect::<String>()
        );
        if progress != last_progress {
            eprintln!("{progress}");
            last_progress = progress;
        }
        if pending.is_empty() {
            if failed.is_empty() {
                return Ok(Exit::Ok);
            }
            let mut message = format!(
                "{} of {total} directors reported errors applying generation {generation}:",
                failed.len()
            );
            for director in failed {
                message.push_str(&format!("\n  {}:", director.name));
                for error in &director.status.last_errors {
                    message.push_str(&format!("\n    {}", error_text(error)));
                }
            }
            return Err(Failure::new(Exit::DirectorErrors, message));
        }
        if Instant::now() >= deadline {
            let reasons: Vec<String> = pending.iter().map(|d| pending_reason(d)).collect();
            return Err(Failure::new(
                Exit::Timeout,
                format!(
                    "timed out after {}s waiting for generation {generation}: {applied} of \
                     {total} directors applied; {}",
                    timeout.as_secs(),
                    reasons.join("; ")
                ),
            ));
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - Instant::now())).await;
    }
}

/// A director's reported error: `add service tcp:10.0.0.1:80: File exists`.
fn error_text(outcome: &ObjectOutcome) -> String {
    let error = outcome.error.as_deref().unwrap_or("failed");
    format!("{} {}: {error}", outcome.action, outcome.object)
}

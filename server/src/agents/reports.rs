//! Agents' apply reports, written as group commits by one task: when the agents a change
//! wakes have more to report than the generation (which their next long-poll carries:
//! errors, drift, new versions), they report within moments of each other, and one
//! transaction for all of them takes the single writer connection once instead of once per
//! agent.
//!
//! The task takes the first report queued, then every other one already queued (it never
//! waits for more), writes them in order in one transaction and commits; only then is each
//! request answered, with its own outcome.

use std::sync::Arc;

use lvs_model::agent::DriftRepair;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::{director_status, Db, Tx};

/// The repaired drifts kept per director, newest first.
pub const MAX_DRIFT_REPAIRED: usize = 50;

/// A report's drifts as stored, at most [`MAX_DRIFT_REPAIRED`]: when it has more (a
/// flushed table repaired), the last one kept says how many more were repaired, so none is
/// dropped without a word.
pub fn stored_drift(drift: &[DriftRepair], now: i64) -> Vec<StoredDrift> {
    let listed = if drift.len() > MAX_DRIFT_REPAIRED {
        MAX_DRIFT_REPAIRED - 1
    } else {
        drift.len()
    };
    let mut stored: Vec<StoredDrift> = drift[..listed]
        .iter()
        .map(|DriftRepair { object, found }| StoredDrift {
            object: object.clone(),
            found: found.clone(),
            at: now,
        })
        .collect();
    let left_out = drift.len() - listed;
    if left_out > 0 {
        stored.push(StoredDrift {
            object: format!("{left_out} more objects"),
            found: format!(
                "repaired in the same pass, not listed: a director keeps its latest \
                 {MAX_DRIFT_REPAIRED} drifts"
            ),
            at: now,
        });
    }
    stored
}

/// The most reports one transaction writes.
const MAX_BATCH: usize = 256;

/// Reports queued for the writer; beyond this, a request waits for room.
const QUEUE: usize = 1024;

/// A validated report, as stored in the director's `director_status` row.
#[derive(Debug)]
pub struct Report {
    pub director_id: i64,
    /// When it was received, Unix milliseconds.
    pub now: i64,
    pub applied_generation: i64,
    pub ok: bool,
    /// JSON array of the failed changes; `None` keeps the stored ones.
    pub errors: Option<String>,
    /// The drifts it repaired, newest first; empty keeps the stored ones as they are.
    pub drift_repaired: Vec<StoredDrift>,
    pub agent_version: String,
    pub kernel_version: String,
    /// JSON array.
    pub unmanaged_services: String,
    /// JSON object; `None` when the report had none.
    pub unmanaged_timeouts: Option<String>,
}

pub use crate::db::director_status::StoredDrift;

/// Why a report was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReportError {
    /// The director was deleted after the request was authenticated.
    #[error("the director was deleted")]
    DirectorGone,
    /// The transaction failed; every report in it shares the error.
    #[error("writing reports failed")]
    Failed(#[source] Arc<sqlx::Error>),
    /// The writer task is gone (the server is stopping).
    #[error("the report writer stopped")]
    Stopped,
}

/// The queue to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Reports {
    queue: mpsc::Sender<Queued>,
}

#[derive(Debug)]
struct Queued {
    report: Report,
    done: oneshot::Sender<Result<(), ReportError>>,
}

impl Reports {
    /// Starts the writer task. It ends once every [`Reports`] is dropped; the server aborts
    /// it after its last request (nothing can be queued then).
    pub fn spawn(db: Db) -> (Reports, JoinHandle<()>) {
        let (queue, queued) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(db, queued));
        (Reports { queue }, task)
    }

    /// Stores `report`; returns once it is committed.
    pub async fn write(&self, report: Report) -> Result<(), ReportError> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Queued { report, done })
            .await
            .map_err(|_| ReportError::Stopped)?;
        outcome.await.map_err(|_| ReportError::Stopped)?
    }
}

async fn run(db: Db, mut queued: mpsc::Receiver<Queued>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queued.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcomes = match write_batch(&db, &batch).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let error = ReportError::Failed(Arc::new(error));
                vec![Err(error); batch.len()]
            }
        };
        for (queued, outcome) in batch.drain(..).zip(outcomes) {
            // Its request may have been dropped meanwhile (the client went away).
            let _ = queued.done.send(outcome);
        }
    }
}

/// Writes the reports in order in one transaction: each one's outcome, or the error that
/// failed them all.
async fn write_batch(
    db: &Db,
    batch: &[Queued],
) -> Result<Vec<Result<(), ReportError>>, sqlx::Error> {
    let mut tx = db.write().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for queued in batch {
        let outcome = match write(&mut tx, &queued.report).await {
            Ok(()) => Ok(()),
            // The failed statement is undone and the transaction goes on without it.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(ReportError::DirectorGone)
            }
            Err(error) => return Err(error),
        };
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Writes one report. Its drifts go before the stored ones (read in this transaction, so
/// two reports of one director in a batch merge as if written one after the other).
async fn write(tx: &mut Tx, report: &Report) -> Result<(), sqlx::Error> {
    let director_id = report.director_id;
    let drift = if report.drift_repaired.is_empty() {
        None
    } else {
        let stored: Vec<StoredDrift> = director_status::drift_repaired(tx, director_id)
            .await?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        let drift: Vec<&StoredDrift> = report
            .drift_repaired
            .iter()
            .chain(&stored)
            .take(MAX_DRIFT_REPAIRED)
            .collect();
        Some(serde_json::to_string(&drift).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    };
    let row = director_status::Report {
        now: report.now,
        applied_generation: report.applied_generation,
        ok: report.ok,
        errors: report.errors.as_deref(),
        drift_repaired: drift.as_deref(),
        agent_version: &report.agent_version,
        kernel_version: &report.kernel_version,
        unmanaged_services: &report.unmanaged_services,
        unmanaged_timeouts: report.unmanaged_timeouts.as_deref(),
    };
    director_status::record_report(tx, director_id, &row).await
}

//! The long-poll for the desired state: the whole document at first, then the changes since
//! the generation held, each handed to the reconcile thread.
//!
//! When the server is unreachable nothing happens to the kernel because of it: the thread
//! keeps the last desired state (from the server, or from the state cache at start) and
//! keeps repairing drift from it.
//!
//! Each poll waits for the pass that applied what the last one brought, and carries what
//! [`crate::applied::Applied`] says of it (`applied=G` after a plain report): the server
//! learns the generation at once, and no report is sent.

use std::sync::Arc;
use std::time::Duration;

use lvs_model::DesiredState;
use tokio::sync::{watch, Notify};

use crate::backoff::Backoff;
use crate::client::{Ask, Client, ClientError, Poll};
use crate::worker::Handoff;

/// What the long-poll needs besides the client and the thread.
#[derive(Debug)]
pub struct Setup {
    /// The state cache's state, handed to the thread if the server does not answer the
    /// first poll.
    pub fallback: Option<DesiredState>,
    /// Asks for the whole state again.
    pub resync: Arc<Notify>,
    pub max_backoff: Duration,
}

/// Long-polls until `shutdown` turns true or the thread is gone; on failure backs off
/// (jittered) and, the first time, falls back to the cached state so drift repair can
/// start without the server.
pub async fn poll_loop(
    client: Client,
    mut worker: Handoff,
    setup: Setup,
    mut shutdown: watch::Receiver<bool>,
) {
    let Setup {
        mut fallback,
        resync,
        max_backoff,
    } = setup;
    let mut ask = Ask::Document;
    let mut backoff = Backoff::new(max_backoff);
    loop {
        let announce = tokio::select! {
            passed = worker.passed() => match passed {
                Ok(announce) => announce,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let result = tokio::select! {
            result = client.desired_state(ask, announce) => result,
            () = resync.notified() => {
                ask = Ask::Document;
                continue;
            }
            _ = shutdown.changed() => return,
        };
        let handed = match result {
            Ok(Poll::Changed(state)) => {
                if ask == Ask::Document || fallback.is_some() {
                    tracing::info!(generation = state.generation, "connected to the server");
                }
                ask = Ask::After(state.generation);
                worker.document(state)
            }
            Ok(Poll::Changes { generation, diffs }) => {
                ask = Ask::After(generation);
                worker.changes(diffs)
            }
            Ok(Poll::Unchanged) => Ok(()),
            Err(error) => {
                match error {
                    ClientError::Unauthorized { .. } => {
                        tracing::error!(%error, "fix the token (--token / --token-file); retrying");
                    }
                    ClientError::Untrusted { .. } => {
                        tracing::error!(%error, "retrying");
                    }
                    // Changes that do not parse or chain: the whole state next time.
                    ClientError::Invalid(_) => {
                        tracing::warn!(%error, "asking for the whole desired state; retrying");
                        ask = Ask::Document;
                    }
                    _ => tracing::warn!(%error, "cannot get the desired state; retrying"),
                }
                if let Some(state) = fallback.take() {
                    tracing::info!(
                        generation = state.generation,
                        "using the cached desired state until the server answers"
                    );
                    if worker.document(state).is_err() {
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
        if handed.is_err() {
            return;
        }
    }
}

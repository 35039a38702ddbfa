//! The server's side of the applied-generation protocol (specified in `lvs_model::agent`):
//! what each director's agent last said it applied on a long-poll (`applied=G`), kept in
//! memory at the time the poll came and persisted with the heartbeats.
//!
//! The other parts of the rule on the server: `api/agent.rs` takes `applied` from the
//! long-poll and stores reports, `db/director_status.rs` writes both to the director's row,
//! and `api/directors.rs` shows a poll's word over an older report
//! ([`Applied::is_after_report`]) and derives the sync state from it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::db::{director_status, Generation, Tx};

/// A generation an agent applied completely, as its long-poll said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub generation: Generation,
    /// When the poll came, Unix milliseconds.
    pub at: i64,
    /// Whether the database has it.
    saved: bool,
}

impl Applied {
    /// Whether this word is newer than the director's last stored report (`reported_at`),
    /// and so stands for it: the status shows it like a report that succeeded.
    pub fn is_after_report(&self, reported_at: Option<i64>) -> bool {
        reported_at.is_none_or(|at| self.at > at)
    }
}

/// Director id -> the generation its agent's long-poll last said it applied.
#[derive(Debug, Default)]
pub struct AppliedByPoll {
    directors: Mutex<HashMap<i64, Applied>>,
}

/// What [`AppliedByPoll::unsaved`] took, for [`AppliedByPoll::saved`] once written.
#[derive(Debug)]
pub struct Unsaved(Vec<(i64, Applied)>);

impl Unsaved {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes each word over the director's stored report, unless the report is newer.
    pub async fn write(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        for (director_id, applied) in &self.0 {
            director_status::applied(tx, *director_id, applied.generation, applied.at).await?;
        }
        Ok(())
    }
}

impl AppliedByPoll {
    /// Notes that the director's agent applied `generation` completely, said by a
    /// long-poll at `at`; a word from an older poll that arrives late is dropped.
    pub fn note(&self, director_id: i64, generation: Generation, at: i64) {
        let mut directors = self.lock();
        let note = Applied {
            generation,
            at,
            saved: false,
        };
        let entry = directors.entry(director_id).or_insert(note);
        if at >= entry.at {
            *entry = note;
        }
    }

    /// What the director's agent last said on a long-poll to this process.
    pub fn last(&self, director_id: i64) -> Option<Applied> {
        self.lock().get(&director_id).copied()
    }

    pub fn forget(&self, director_id: i64) {
        self.lock().remove(&director_id);
    }

    /// The words not yet in the database.
    pub fn unsaved(&self) -> Unsaved {
        Unsaved(
            self.lock()
                .iter()
                .filter(|(_, applied)| !applied.saved)
                .map(|(id, applied)| (*id, *applied))
                .collect(),
        )
    }

    /// `written` is committed: marks the words that did not change meanwhile as saved.
    pub fn saved(&self, written: Unsaved) {
        let mut directors = self.lock();
        for (director_id, applied) in written.0 {
            if let Some(entry) = directors.get_mut(&director_id).filter(|e| **e == applied) {
                entry.saved = true;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Applied>> {
        self.directors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

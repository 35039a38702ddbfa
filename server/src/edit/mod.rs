//! The write operations that the REST API and the web UI share, one module per resource.
//!
//! Each validates its input with the model, checks the caller's [`IfMatch`] precondition
//! inside its transaction, writes, records what it changed in the desired state as made by
//! its [`Author`] (and in the audit log what changed elsewhere), commits, and returns what was stored. The API's handlers and the UI's
//! form handlers only translate HTTP to these calls and their results back, so the two can
//! never disagree on what an edit does. Nothing here knows HTTP: failures are
//! [`EditError`]s, which each transport turns into its own answer.

pub mod account;
pub mod api_tokens;
pub mod clusters;
pub mod desired_state;
pub mod directors;
mod error;
pub mod host_tokens;
pub mod import;
pub mod lookup;
pub mod passwords;
pub mod patch;
pub mod pools;
mod precondition;
pub mod real_server_hosts;
pub mod real_servers;
pub mod revert;
pub mod services;
pub mod sessions;
pub mod since;
pub mod tokens;
pub mod users;

pub use crate::db::audit::{Actor, ActorKind, Author};
pub use crate::db::changes::Source;
pub use error::{EditError, EditResult};
pub use precondition::IfMatch;

use crate::db;

/// What a write of the desired state stored, and the generation it committed: `None` when
/// it changed nothing (the object already was as asked), so no generation was made.
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub generation: Option<u64>,
}

impl<T> Committed<T> {
    fn new(value: T, generation: u64) -> Self {
        Committed {
            value,
            generation: Some(generation),
        }
    }

    fn unchanged(value: T) -> Self {
        Committed {
            value,
            generation: None,
        }
    }
}

/// A write's result, with a UNIQUE violation answered as `what` already existing.
fn unique<T>(result: Result<T, sqlx::Error>, what: impl FnOnce() -> String) -> EditResult<T> {
    match result {
        Err(e) if db::is_unique_violation(&e) => Err(EditError::already_exists(what())),
        result => Ok(result?),
    }
}

/// Records in the audit log an action that changes no desired state (those are recorded
/// with their generation by `db::clusters::bump_generation`).
async fn audit(
    tx: &mut db::Tx,
    author: &Author,
    action: &'static str,
    target: String,
    detail: String,
) -> Result<(), sqlx::Error> {
    let event = db::audit::Event {
        author,
        action,
        target,
        change: None,
        detail,
    };
    db::audit::record(tx, &event, db::now_millis()).await
}

//! The write operations that the REST API and the web UI share, one module per resource.
//!
//! Each validates its input with the model, checks the caller's `If-Match` precondition
//! inside its transaction, writes, records what it changed in the desired state as made by
//! its [`Source`], commits, and returns what was stored. The API's handlers and the UI's
//! form handlers only translate HTTP to these calls and their results back, so the two can
//! never disagree on what an edit does.

pub mod clusters;
pub mod desired_state;
pub mod directors;
pub mod import;
pub mod pools;
pub mod real_servers;
pub mod services;
pub mod tokens;

pub use crate::api::extract::IfMatch;
pub use crate::db::changes::Source;

use crate::api::error::{ApiError, ApiResult};
use crate::db;

/// A write's result, with a UNIQUE violation answered as `what` already existing.
fn unique<T>(result: Result<T, sqlx::Error>, what: impl FnOnce() -> String) -> ApiResult<T> {
    match result {
        Err(e) if db::is_unique_violation(&e) => Err(ApiError::already_exists(what())),
        result => Ok(result?),
    }
}

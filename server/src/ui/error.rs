//! Errors of UI requests, answered as HTML pages ([`super::error_page`]): what went wrong
//! for the user's errors, nothing internal for the server's (those are logged in full).

use axum::http::StatusCode;

use super::form::sentence;
use crate::edit::EditError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{1}")]
    Status(StatusCode, String),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

pub type UiResult<T> = Result<T, UiError>;

impl From<sqlx::Error> for UiError {
    fn from(error: sqlx::Error) -> Self {
        UiError::Internal(error.into())
    }
}

impl From<askama::Error> for UiError {
    fn from(error: askama::Error) -> Self {
        UiError::Internal(anyhow::Error::new(error).context("rendering a page"))
    }
}

impl From<EditError> for UiError {
    /// Errors of the shared edit operations that a page did not handle itself.
    fn from(error: EditError) -> Self {
        match error {
            EditError::NotFound(detail) => UiError::NotFound(sentence(&detail)),
            EditError::Internal(e) => UiError::Internal(e),
            EditError::Conflict { .. } => status(StatusCode::CONFLICT, &error),
            EditError::Forbidden(_) => status(StatusCode::FORBIDDEN, &error),
            EditError::PreconditionFailed(_) => status(StatusCode::PRECONDITION_FAILED, &error),
            EditError::Malformed(_) => status(StatusCode::BAD_REQUEST, &error),
            EditError::Invalid(_) => status(StatusCode::UNPROCESSABLE_ENTITY, &error),
        }
    }
}

/// A refusal as a page: its HTTP status, and its message as a sentence.
fn status(status: StatusCode, error: &EditError) -> UiError {
    UiError::Status(status, sentence(&error.to_string()))
}

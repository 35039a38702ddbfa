//! Why a write was refused or failed. The write layer knows no HTTP: the REST API and the
//! UI each convert this (`From`) into their own answer, a problem document or a page.

use lvs_model::ValidationErrors;

use crate::json::JsonError;

/// A write's failure. Client mistakes say what was wrong; `Internal` is logged in full by
/// whoever answers and never shown.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// A resource named by the caller does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write contradicts what is stored: `code` is stable and machine-readable, such
    /// as `already_exists` or `cluster_not_empty`.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// The caller may not do this (its role or grants do not reach).
    #[error("{0}")]
    Forbidden(String),
    /// The caller's `If-Match` precondition does not hold: someone changed it first.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The edit is not JSON, or not a JSON object where one is needed.
    #[error("{0}")]
    Malformed(String),
    /// Values that the model refuses, one entry per field.
    #[error("invalid request: {0}")]
    Invalid(ValidationErrors),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

pub type EditResult<T> = Result<T, EditError>;

impl EditError {
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        EditError::NotFound(format!("{what} does not exist"))
    }

    pub fn already_exists(what: impl std::fmt::Display) -> Self {
        EditError::Conflict {
            code: "already_exists",
            detail: format!("{what} already exists"),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        EditError::Invalid(ValidationErrors::one(field, message))
    }
}

impl From<sqlx::Error> for EditError {
    fn from(error: sqlx::Error) -> Self {
        EditError::Internal(anyhow::Error::new(error).context("database error"))
    }
}

impl From<ValidationErrors> for EditError {
    fn from(errors: ValidationErrors) -> Self {
        EditError::Invalid(errors)
    }
}

impl From<JsonError> for EditError {
    fn from(error: JsonError) -> Self {
        match error {
            JsonError::Malformed(detail) => EditError::Malformed(detail),
            JsonError::Invalid(errors) => EditError::Invalid(errors),
        }
    }
}

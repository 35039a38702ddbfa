//! Every API error as `application/problem+json` (RFC 9457), with a stable `code`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lvs_model::{FieldError, ValidationErrors};
use serde::Serialize;
use utoipa::ToSchema;

use crate::edit::EditError;
use crate::json::JsonError;

/// An error answer. Client errors say what was wrong; server errors are logged in full
/// and answered with a generic body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// A missing or invalid agent token.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token asking for what it does not cover.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{0}")]
    PreconditionFailed(String),
    /// A write that must name the state it was based on (`If-Match`) did not.
    #[error("{0}")]
    PreconditionRequired(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("invalid request: {0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A request refused before it reached a handler (a foreign host, a cross-site change).
    #[error("{detail}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

/// The problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:lvs-fleet:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, such as `validation_failed` or `already_exists`.
    pub code: &'static str,
    /// For `validation_failed`: one entry per offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError::NotFound(format!("{what} does not exist"))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationErrors::one(field, message))
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// Its stable machine-readable code, such as `already_exists`.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Bad request"),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            ApiError::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource changed since it was read",
            ),
            ApiError::PreconditionRequired(_) => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition_required",
                "If-Match required",
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
            ),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::Refused { status, code, .. } => (*status, code, "Request refused"),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            ),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(error).context("database error"))
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<EditError> for ApiError {
    fn from(error: EditError) -> Self {
        match error {
            EditError::NotFound(detail) => ApiError::NotFound(detail),
            EditError::Forbidden(detail) => ApiError::Forbidden(detail),
            EditError::Conflict { code, detail } => ApiError::Conflict { code, detail },
            EditError::PreconditionFailed(detail) => ApiError::PreconditionFailed(detail),
            EditError::Malformed(detail) => ApiError::BadRequest {
                code: "malformed_json",
                detail,
            },
            EditError::Invalid(errors) => ApiError::Validation(errors),
            EditError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<JsonError> for ApiError {
    fn from(error: JsonError) -> Self {
        EditError::from(error).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let challenge = matches!(self, ApiError::Unauthorized(_));
        let (detail, errors) = match self {
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                (
                    "an internal error occurred; it has been logged".to_owned(),
                    Vec::new(),
                )
            }
            ApiError::Validation(errors) => {
                let count = errors.errors().len();
                let detail = if count == 1 {
                    "1 field is invalid".to_owned()
                } else {
                    format!("{count} fields are invalid")
                };
                (detail, errors.into_errors())
            }
            other => (other.to_string(), Vec::new()),
        };
        let problem = Problem {
            kind: format!("urn:lvs-fleet:problem:{code}"),
            title,
            status: status.as_u16(),
            detail,
            code,
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"lvs-fleet\""),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

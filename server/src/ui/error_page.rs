//! A [`UiError`] as the page the browser shows.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::UiError;
use super::page::Chrome;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    reason: &'a str,
    detail: &'a str,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            UiError::NotFound(detail) => (StatusCode::NOT_FOUND, detail.as_str()),
            UiError::Status(status, detail) => (*status, detail.as_str()),
            UiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "UI request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; it has been logged. Try again, \
                     and tell the people running LVS Fleet if it persists.",
                )
            }
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            chrome: Chrome::bare(reason),
            status: status.as_u16(),
            reason,
            detail,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, reason.to_owned()).into_response(),
        }
    }
}

//! A secret shown once (an API token, a generated password): the page says so, and nothing
//! may keep a copy of it.

use askama::Template;
use axum::http::header::CACHE_CONTROL;
use axum::response::{Html, IntoResponse, Response};

use super::error::UiResult;
use super::page::Chrome;

#[derive(Template)]
#[template(path = "secret.html")]
pub struct SecretPage {
    pub chrome: Chrome,
    pub heading: String,
    /// What the secret is for.
    pub note: String,
    pub label: &'static str,
    pub secret: String,
    pub back: String,
    pub back_label: &'static str,
}

impl SecretPage {
    pub fn respond(&self) -> UiResult<Response> {
        Ok(([(CACHE_CONTROL, "no-store")], Html(self.render()?)).into_response())
    }
}

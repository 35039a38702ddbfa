//! The UI's extractors: axum's `Path` and `Form`, whose refusals are HTML pages like every
//! other UI error rather than axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::UiError;

/// The path's parameters; an address whose parameters do not parse names no page.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| UiError::NotFound("There is no page at this address.".into()))
    }
}

/// A submitted HTML form, as its name and value pairs in order.
#[derive(Debug)]
pub struct Form(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, UiError> {
        axum::Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map(|axum::Form(pairs)| Form(pairs))
            .map_err(|rejection| {
                let status = rejection.status();
                let detail = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    "This address takes HTML form submissions only."
                } else {
                    "The submitted form could not be read."
                };
                UiError::Status(status, detail.into())
            })
    }
}

/// Who is signed in, as `crate::http::access` found it, and the author its changes are
/// recorded as made by (through the UI, from its address).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: std::sync::Arc<crate::db::credentials::Principal>,
    pub author: crate::edit::Author,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, UiError> {
        let principal = parts
            .extensions
            .get::<std::sync::Arc<crate::db::credentials::Principal>>()
            .cloned()
            .ok_or_else(|| {
                UiError::Internal(anyhow::anyhow!("no principal for {}", parts.uri.path()))
            })?;
        let client = parts
            .extensions
            .get::<crate::client::ClientAddr>()
            .map(|c| c.0.to_string());
        let author = crate::edit::Author {
            actor: principal.actor.clone(),
            source: crate::edit::Source::Ui,
            client,
        };
        Ok(Caller { principal, author })
    }
}

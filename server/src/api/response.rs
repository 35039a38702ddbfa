//! Successful answers: JSON bodies with a strong `ETag`, and list pages.

use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::resources::etag_of;

/// A 201 whose body holds a secret shown only this once (a token, a generated password):
/// `Cache-Control: no-store`, so no cache keeps a copy.
pub fn secret_created(body: impl Serialize, location: &str) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, location);
    }
    response
}

/// A JSON resource answered with its ETag, and a `Location` when it was just created.
/// Serialised when built, so it can be made from borrowed data.
#[derive(Debug)]
pub struct Tagged {
    status: StatusCode,
    body: Result<Vec<u8>, String>,
    location: Option<String>,
    etag: Option<String>,
}

impl Tagged {
    pub fn ok(value: impl Serialize) -> Self {
        Tagged::new(StatusCode::OK, value)
    }

    pub fn created(value: impl Serialize, location: String) -> Self {
        Tagged {
            location: Some(location),
            ..Tagged::new(StatusCode::CREATED, value)
        }
    }

    fn new(status: StatusCode, value: impl Serialize) -> Self {
        Tagged::with_capacity(status, value, 1024)
    }

    /// For big bodies whose size is known roughly: growing the buffer by doubling would
    /// briefly need up to three times the body's size.
    pub fn ok_sized(value: impl Serialize, estimated_bytes: usize) -> Self {
        Tagged::with_capacity(StatusCode::OK, value, estimated_bytes)
    }

    fn with_capacity(status: StatusCode, value: impl Serialize, capacity: usize) -> Self {
        let mut body = Vec::with_capacity(capacity);
        let body = serde_json::to_writer(&mut body, &value)
            .map(|()| body)
            .map_err(|e| e.to_string());
        Tagged {
            status,
            body,
            location: None,
            etag: None,
        }
    }

    /// Serves `etag` instead of the hash of the body (for documents versioned otherwise).
    pub fn with_etag(mut self, etag: String) -> Self {
        self.etag = Some(etag);
        self
    }
}

impl IntoResponse for Tagged {
    fn into_response(self) -> Response {
        let body = match self.body {
            Ok(body) => body,
            Err(error) => {
                return super::error::ApiError::Internal(anyhow::anyhow!(
                    "cannot serialise the response: {error}"
                ))
                .into_response()
            }
        };
        let etag = self.etag.unwrap_or_else(|| etag_of(&body));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(ETAG, value);
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(LOCATION, location);
        }
        response
    }
}

/// One page of a list, in a stable order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Paging parameters shared by every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub const DEFAULT_LIMIT: i64 = 100;
    pub const MAX_LIMIT: i64 = 1000;

    pub fn limit(&self) -> Result<i64, super::error::ApiError> {
        match self.limit.unwrap_or(Self::DEFAULT_LIMIT) {
            limit @ 1..=Self::MAX_LIMIT => Ok(limit),
            limit => Err(super::error::ApiError::BadRequest {
                code: "invalid_query",
                detail: format!(
                    "limit: must be between 1 and {}, not {limit}",
                    Self::MAX_LIMIT
                ),
            }),
        }
    }

    /// The cursor of a list ordered by id.
    pub fn after_id(&self) -> Result<i64, super::error::ApiError> {
        Ok(self.id_cursor()?.unwrap_or(0))
    }

    /// The cursor of a list ordered by id, newest (highest) first.
    pub fn before_id(&self) -> Result<i64, super::error::ApiError> {
        Ok(self.id_cursor()?.unwrap_or(i64::MAX))
    }

    fn id_cursor(&self) -> Result<Option<i64>, super::error::ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                cursor
                    .parse()
                    .map_err(|_| super::error::ApiError::BadRequest {
                        code: "invalid_query",
                        detail: format!("cursor: {cursor:?} is not one this list returned"),
                    })
            })
            .transpose()
    }
}

/// Builds a page from one row more than the limit: that extra row proves there is a next
/// page, whose cursor is the last item's.
pub fn page<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    cursor_of: impl Fn(&R) -> String,
    item: impl FnMut(R) -> Result<T, super::error::ApiError>,
) -> Result<Page<T>, super::error::ApiError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    let items = rows.into_iter().map(item).collect::<Result<_, _>>()?;
    Ok(Page { items, next_cursor })
}

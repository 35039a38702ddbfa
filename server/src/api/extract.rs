//! Request extractors whose failures are problem documents rather than plain text.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
pub use crate::edit::IfMatch;
use crate::json::plain_words;

/// A JSON body: `application/json` or any `+json` type (such as merge-patch), parsed with
/// the path of any mistyped field so it can be reported against that field.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let RawJson(bytes) = RawJson::from_request(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// A JSON body not parsed yet (checked as [`Json`] checks it), for bodies big enough to be
/// parsed off the async workers with [`parse_json`].
#[derive(Debug)]
pub struct RawJson(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json(&content_type) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected a JSON body (Content-Type: application/json), got {content_type:?}"
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the body exceeds the server's limit (see --max-body-bytes)".into(),
                )
            } else {
                ApiError::BadRequest {
                    code: "unreadable_body",
                    detail: rejection.body_text(),
                }
            }
        })?;
        Ok(RawJson(bytes))
    }
}

/// Parses a JSON body as [`crate::json::parse_json`] does, answering its failures as the
/// API does: 400 for what is not JSON, 422 against the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    Ok(crate::json::parse_json(bytes)?)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Path parameters, with a 400 problem naming the parameter when one does not parse.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                let names = match RawPathParams::from_request_parts(parts, state).await {
                    Ok(params) => params.iter().map(|(name, _)| name.to_owned()).collect(),
                    Err(_) => Vec::new(),
                };
                Err(ApiError::BadRequest {
                    code: "invalid_path",
                    detail: path_problem(rejection, &names),
                })
            }
        }
    }
}

/// Every id in a path is an integer: `/services/abc` is no service's id.
fn path_problem(rejection: PathRejection, names: &[String]) -> String {
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        return rejection.body_text();
    };
    let (name, value) = match failed.into_kind() {
        ErrorKind::ParseErrorAtKey { key, value, .. } => (key, value),
        ErrorKind::ParseErrorAtIndex { index, value, .. } => {
            (names.get(index).cloned().unwrap_or_default(), value)
        }
        ErrorKind::ParseError { value, .. } => (names.first().cloned().unwrap_or_default(), value),
        kind => return plain_words(&kind.to_string()),
    };
    // `{service}` is a service's id; `{id}` is the resource's own.
    let what = if name == "id" { "" } else { " id" };
    format!("{name} must be a positive integer{what}, not {value:?}")
}

/// Query parameters, with a 400 problem naming the parameter that does not parse.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Parses a query string, naming the parameter of any value that does not parse.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = plain_words(&error.into_inner().to_string());
        ApiError::BadRequest {
            code: "invalid_query",
            detail: if path == "." {
                message
            } else {
                format!("{path}: {message}")
            },
        }
    })
}

/// The `If-Match` header as the write layer's precondition.
impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.headers.get(IF_MATCH) {
            None => Ok(IfMatch::new(None)),
            Some(value) => value
                .to_str()
                .map(|v| IfMatch::new(Some(v.to_owned())))
                .map_err(|_| ApiError::BadRequest {
                    code: "invalid_header",
                    detail: "If-Match is not valid ASCII".into(),
                }),
        }
    }
}

/// An address query parameter in canonical form, so `2001:DB8::1` finds `2001:db8::1`.
pub fn canonical_address(text: Option<&str>) -> Result<Option<String>, ApiError> {
    text.map(|text| {
        text.parse::<std::net::IpAddr>()
            .map(|a| a.to_string())
            .map_err(|_| ApiError::BadRequest {
                code: "invalid_query",
                detail: format!("address {text:?} is not an IP address"),
            })
    })
    .transpose()
}

/// A query parameter's value checked by the model, as a 400 naming the parameter.
pub fn query_value<T>(name: &str, checked: Result<T, String>) -> Result<T, ApiError> {
    checked.map_err(|message| ApiError::BadRequest {
        code: "invalid_query",
        detail: format!("{name}: {message}"),
    })
}

/// The schema of an address query parameter: an IPv4 or an IPv6 address, as
/// [`canonical_address`] takes them (anything else is a 400).
pub fn ip_address_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
    };
    let address = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    let one_of = OneOfBuilder::new()
        .item(address(KnownFormat::Ipv4))
        .item(address(KnownFormat::Ipv6))
        .build();
    Schema::OneOf(one_of)
}

/// Who is calling, as `crate::http::access` authenticated it, and the author its changes
/// are recorded as made by (through the API, from its address).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: std::sync::Arc<crate::db::credentials::Principal>,
    pub author: crate::edit::Author,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<std::sync::Arc<crate::db::credentials::Principal>>()
            .cloned()
            .ok_or_else(|| {
                // Every route that takes a caller needs a role, so access found one.
                ApiError::Internal(anyhow::anyhow!("no principal for {}", parts.uri.path()))
            })?;
        let client = parts
            .extensions
            .get::<crate::client::ClientAddr>()
            .map(|c| c.0.to_string());
        let author = crate::edit::Author {
            actor: principal.actor.clone(),
            source: crate::edit::Source::Api,
            client,
        };
        Ok(Caller { principal, author })
    }
}

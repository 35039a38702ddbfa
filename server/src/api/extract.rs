//! Request extractors whose failures are problem documents rather than plain text.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::StatusCode;
use lvs_model::ValidationErrors;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::plain_words::plain_words;

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

/// Parses JSON: syntax errors are 400, values of the wrong type 422 against their field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is an object, but serde also reads a struct from an array of its field
    // values, which would make `[]` an empty desired state that deletes every service.
    let array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    // Tracking the path of every value halves parsing speed, so only a body that fails is
    // parsed again to find where.
    match serde_json::from_slice(bytes) {
        Ok(_) if array => Err(ApiError::invalid("", "must be a JSON object, not an array")),
        Ok(value) => Ok(value),
        Err(_) => Err(locate_json_error::<T>(bytes)),
    }
}

fn locate_json_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => match deserializer.end() {
            Ok(()) => return ApiError::Internal(anyhow::anyhow!("JSON failed to parse only once")),
            Err(error) => return malformed(&error),
        },
        Err(error) => error,
    };
    let path = error.path().to_string();
    let inner = error.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let parent = if path == "." { String::new() } else { path };
            let message = without_position(&inner.to_string());
            let (field, message) =
                missing_field(&parent, &message).unwrap_or_else(|| (parent, plain_words(&message)));
            ApiError::Validation(ValidationErrors::one(field, message))
        }
        _ => malformed(&inner),
    }
}

/// serde reports a missing field against its parent object; the client wants the field.
fn missing_field(parent: &str, message: &str) -> Option<(String, String)> {
    let name = message.strip_prefix("missing field `")?.strip_suffix('`')?;
    let field = if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    };
    Some((field, "required".to_owned()))
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("the body is not valid JSON: {error}"),
    }
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

/// serde_json appends " at line L column C", which means nothing against a field path.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
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

/// The `If-Match` header: the write goes ahead only if the resource's current ETag is
/// listed (or the header is `*`, or absent).
#[derive(Debug, Default)]
pub struct IfMatch(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.headers.get(IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(value) => value
                .to_str()
                .map(|v| IfMatch(Some(v.to_owned())))
                .map_err(|_| ApiError::BadRequest {
                    code: "invalid_header",
                    detail: "If-Match is not valid ASCII".into(),
                }),
        }
    }
}

impl IfMatch {
    /// The precondition of an `If-Match` header's value: `None` for none, `*`, or ETags
    /// separated by commas.
    pub fn new(header: Option<String>) -> Self {
        IfMatch(header)
    }

    /// Only `etag` (quoted, as served) matches: for a form that carries the ETag of what
    /// it was rendered from, so a change made since is refused rather than overwritten.
    pub fn from_etag(etag: impl Into<String>) -> Self {
        IfMatch(Some(etag.into()))
    }

    /// Fails with 412 unless `current` (a quoted ETag) satisfies the header.
    pub fn check(&self, current: &str) -> Result<(), ApiError> {
        let Some(header) = &self.0 else { return Ok(()) };
        let matches = header.split(',').map(str::trim).any(|tag| {
            // If-Match uses the strong comparison, so a weak tag never matches.
            tag == "*" || tag == current
        });
        if matches {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed(format!(
                "If-Match {header} does not match the current ETag {current}; \
                 read the resource again and reapply your change"
            )))
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

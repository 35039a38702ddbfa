//! Reading JSON documents into the model's specs: a document that is not JSON is
//! [`JsonError::Malformed`]; a value of the wrong type is [`JsonError::Invalid`] against its
//! field, in the API's words ([`plain_words`]), never Rust's. Both transports and the write
//! layer read JSON this way; nothing here knows HTTP.

mod plain_words;

pub use plain_words::plain_words;

use lvs_model::ValidationErrors;
use serde::de::DeserializeOwned;

/// Why a JSON document was not read.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all (the API answers 400 `malformed_json`).
    #[error("{0}")]
    Malformed(String),
    /// JSON with values wrong for their fields (the API answers 422).
    #[error("invalid document: {0}")]
    Invalid(ValidationErrors),
}

/// Parses JSON: a syntax error is `Malformed`, a value of the wrong type `Invalid` against
/// its field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    // Every body is an object, but serde also reads a struct from an array of its field
    // values, which would make `[]` an empty desired state that deletes every service.
    let array = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    // Tracking the path of every value halves parsing speed, so only a body that fails is
    // parsed again to find where.
    match serde_json::from_slice(bytes) {
        Ok(_) if array => Err(JsonError::Invalid(ValidationErrors::one(
            "",
            "must be a JSON object, not an array",
        ))),
        Ok(value) => Ok(value),
        Err(_) => Err(locate_json_error::<T>(bytes)),
    }
}

fn locate_json_error<T: DeserializeOwned>(bytes: &[u8]) -> JsonError {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => match deserializer.end() {
            Ok(()) => return JsonError::Malformed("the body failed to parse only once".into()),
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
            JsonError::Invalid(ValidationErrors::one(field, message))
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

fn malformed(error: &serde_json::Error) -> JsonError {
    JsonError::Malformed(format!("the body is not valid JSON: {error}"))
}

/// serde_json appends " at line L column C", which means nothing against a field path.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

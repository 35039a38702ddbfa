//! JSON merge patch (RFC 7396): how every PATCH in the API edits a resource.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::{EditError, EditResult};
use crate::json::parse_json;

/// Applies `patch` to the JSON form of `current` and parses the result as a spec, so a
/// patched field is validated exactly like the same field in a full replacement.
pub fn merge<T: Serialize + DeserializeOwned>(current: &T, patch: &Value) -> EditResult<T> {
    if !patch.is_object() {
        return Err(EditError::Malformed(
            "a merge patch must be a JSON object".into(),
        ));
    }
    let mut target = serde_json::to_value(current)
        .map_err(|e| EditError::Internal(anyhow::Error::new(e).context("cannot serialise")))?;
    apply(&mut target, patch);
    let bytes = serde_json::to_vec(&target)
        .map_err(|e| EditError::Internal(anyhow::Error::new(e).context("cannot serialise")))?;
    Ok(parse_json(&bytes)?)
}

/// The name of an edited resource: names are identities in URLs, so an edit may repeat the
/// name or leave it out, but not change it.
pub fn same_name(edited: Option<String>, current: &str) -> EditResult<String> {
    match edited {
        Some(name) if name != current => Err(EditError::invalid("name", "cannot be changed")),
        _ => Ok(current.to_owned()),
    }
}

fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                apply(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        super::apply(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
    }
}

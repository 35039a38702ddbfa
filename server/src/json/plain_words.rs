//! serde's error messages in the API's words: clients read "must be an integer", never
//! Rust's type names (`expected i64`) or its parser's (`invalid digit found in string`).

/// The message of a JSON, query or path value that did not deserialise, for a client.
///
/// Messages serde did not write (a `TryFrom` or `FromStr` of the model) pass unchanged.
pub fn plain_words(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((unexpected, expected)) = rest.split_once(", expected ") {
            return format!(
                "must be {}, not {}",
                expected_words(expected),
                unexpected_words(unexpected)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((unexpected, expected)) = rest.split_once(", expected ") {
            return invalid_value(unexpected, expected);
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        if let Some((_, expected)) = rest.split_once(", expected ") {
            return format!("must be {}", expected_words(expected));
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        return format!(
            "must be {}, not {}",
            choices(expected),
            quoted(value.trim_matches('`'))
        );
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (field, expected) = rest.split_once(", ").unwrap_or((rest, ""));
        let field = quoted(field.trim_matches('`'));
        return match expected {
            "there are no fields" => format!("unknown field {field}: no fields are accepted"),
            _ => format!("unknown field {field}: expected {}", choices(expected)),
        };
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!(
            "required field {} is missing",
            quoted(field.trim_matches('`'))
        );
    }
    if let Some(field) = message.strip_prefix("duplicate field ") {
        return format!("field {} is given twice", quoted(field.trim_matches('`')));
    }
    if message.starts_with("data did not match any variant of untagged enum Netmask") {
        return "must be an IPv4 netmask such as \"255.255.255.0\" or a prefix length such as 64"
            .to_owned();
    }
    // What `FromStr` of a number or a boolean says, in query strings and paths.
    match message {
        "invalid digit found in string" => "must be an integer".to_owned(),
        "cannot parse integer from empty string" => "must be an integer, not empty".to_owned(),
        "number too large to fit in target type" => "is too large".to_owned(),
        "number too small to fit in target type" => "is too small".to_owned(),
        "provided string was not `true` or `false`" => "must be true or false".to_owned(),
        other => other.to_owned(),
    }
}

fn invalid_value(unexpected: &str, expected: &str) -> String {
    let words = expected_words(expected);
    match unexpected.strip_prefix("integer ") {
        Some(number) if number.trim_matches('`').starts_with('-') => {
            format!("must be {words}, not {}", number.trim_matches('`'))
        }
        Some(number) => format!("{} is too large", number.trim_matches('`')),
        None => format!("must be {words}, not {}", unexpected_words(unexpected)),
    }
}

/// serde's name for what it wanted (a Rust type or a `Visitor::expecting` text).
fn expected_words(expected: &str) -> String {
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a string" | "a borrowed string" | "a character" | "char" => "a string".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "an object".to_owned(),
        "unit" => "null".to_owned(),
        other if other.starts_with("struct ") => "an object".to_owned(),
        other if other.starts_with("one of ") || other.starts_with('`') => choices(other),
        other => other.replace('`', ""),
    }
}

/// serde's `Unexpected` as a client wrote it: `string "x"`, `integer `5``, `sequence`.
fn unexpected_words(unexpected: &str) -> String {
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(value) = unexpected.strip_prefix(prefix) {
            return value.trim_matches('`').to_owned();
        }
    }
    match unexpected {
        "sequence" => "a list".to_owned(),
        "map" => "an object".to_owned(),
        "null" | "unit value" => "null".to_owned(),
        other => match other.strip_prefix("string ") {
            Some(text) => format!("the string {text}"),
            None => other.to_owned(),
        },
    }
}

/// "expected one of `tcp`, `udp`" or "expected `tcp`" as "one of tcp, udp" or "tcp".
fn choices(expected: &str) -> String {
    let expected = expected.strip_prefix("expected ").unwrap_or(expected);
    match expected {
        "" | "there are no variants" => "nothing (no value is accepted)".to_owned(),
        other => other.replace('`', ""),
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::plain_words;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        id: i64,
        count: Option<u32>,
        name: Option<String>,
        on: Option<bool>,
        tags: Option<Vec<String>>,
        protocol: Option<Word>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Word {
        Tcp,
        Udp,
        Sctp,
    }

    fn words(json: &str) -> String {
        let error = serde_json::from_str::<Sample>(json).expect_err("a bad sample");
        let message = error.to_string();
        let message = message
            .rfind(" at line ")
            .map_or(&*message, |at| &message[..at]);
        plain_words(message)
    }

    #[test]
    fn serde_json_messages_speak_of_json_values() {
        for (json, want) in [
            (
                r#"{"id": "x"}"#,
                r#"must be an integer, not the string "x""#,
            ),
            (r#"{"id": 1.5}"#, "must be an integer, not 1.5"),
            (
                r#"{"id": 1, "count": -1}"#,
                "must be a non-negative integer, not -1",
            ),
            (
                r#"{"id": 1, "count": 5000000000}"#,
                "5000000000 is too large",
            ),
            (r#"{"id": 1, "name": 5}"#, "must be a string, not 5"),
            (
                r#"{"id": 1, "on": "yes"}"#,
                r#"must be true or false, not the string "yes""#,
            ),
            (r#"{"id": 1, "tags": {}}"#, "must be a list, not an object"),
            (
                r#"{"id": 1, "tags": "a"}"#,
                r#"must be a list, not the string "a""#,
            ),
            (
                r#"{"id": 1, "protocol": "foo"}"#,
                r#"must be one of tcp, udp, sctp, not "foo""#,
            ),
            (
                r#"{"id": 1, "nmae": "x"}"#,
                r#"unknown field "nmae": expected one of id, count, name, on, tags, protocol"#,
            ),
            (r#"{}"#, r#"required field "id" is missing"#),
            (r#"{"id": 1, "id": 2}"#, r#"field "id" is given twice"#),
        ] {
            let got = words(json);
            assert_eq!(got, want, "{json}");
            for rust in ["i64", "u32", "variant", "`"] {
                assert!(!got.contains(rust), "{json}: {got}");
            }
        }
    }

    #[test]
    fn parse_errors_of_query_and_path_text_are_plain() {
        let bad = "x".parse::<i64>().expect_err("not a number").to_string();
        assert_eq!(plain_words(&bad), "must be an integer");
        let large = "99999999999"
            .parse::<u32>()
            .expect_err("too large")
            .to_string();
        assert_eq!(plain_words(&large), "is too large");
        let flag = "yes".parse::<bool>().expect_err("not a bool").to_string();
        assert_eq!(plain_words(&flag), "must be true or false");
    }

    #[test]
    fn messages_of_the_model_pass_unchanged() {
        let message = "must be between 1 and 65535, not 0";
        assert_eq!(plain_words(message), message);
    }
}

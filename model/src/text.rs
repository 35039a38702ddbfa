//! Names and free text: the identifiers in URLs and the labels people type.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A cluster or director name: a DNS label (`prod-web`, `lb1`), so it is safe in URLs,
/// file names, metrics labels and host names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub const MAX_LEN: usize = 63;

    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may contain only lowercase letters, digits and '-'".into());
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err("must not start or end with '-'".into());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Free text of bounded length without control characters (newlines and tabs allowed in
/// descriptions only).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// A one-line label such as a service name.
    pub const LABEL_MAX: usize = 100;
    /// A description, which may span lines.
    pub const DESCRIPTION_MAX: usize = 2000;

    pub fn label(s: &str) -> Result<Self, String> {
        Self::parse(s, Self::LABEL_MAX, false)
    }

    pub fn description(s: &str) -> Result<Self, String> {
        Self::parse(s, Self::DESCRIPTION_MAX, true)
    }

    fn parse(s: &str, max: usize, multiline: bool) -> Result<Self, String> {
        if s.chars().count() > max {
            return Err(format!("must be at most {max} characters"));
        }
        let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\t'));
        if !s.chars().all(allowed) {
            return Err(if multiline {
                "must not contain control characters other than newline and tab".into()
            } else {
                "must be one line without control characters".into()
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        assert!(Name::parse("prod-web-1").is_ok());
        assert_eq!(Name::parse("").unwrap_err(), "must not be empty");
        assert!(Name::parse("Prod").is_err());
        assert!(Name::parse("-a").is_err());
        assert!(Name::parse("a_b").is_err());
        assert!(Name::parse(&"a".repeat(64)).is_err());
        assert!(Name::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn labels_are_one_line() {
        assert!(Text::label("web frontend (https)").is_ok());
        assert!(Text::label("a\nb").is_err());
        assert!(Text::description("a\nb").is_ok());
        assert!(Text::description("a\u{7}b").is_err());
    }
}

//! Who may do what: the roles of users and API tokens, and the rule passwords follow.
//! Hashing and storing them is the server's.

use std::fmt;
use std::str::FromStr;

/// What a user or an API token may do. Each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also edits services and real servers (weights, drain, restore) of the clusters it
    /// is granted.
    Operator,
    /// Also clusters, directors, agent tokens, users and API tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected viewer, operator or admin"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The most bytes of a password: hashing is deliberately slow, and a megabyte would be
/// slower still.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Whether `password` may be set: long enough to resist guessing, short enough to hash,
/// no control characters (which a form or a terminal would not carry faithfully).
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_named() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let unknown = "root".parse::<Role>().unwrap_err();
        assert!(unknown.contains("viewer, operator or admin"), "{unknown}");
    }

    #[test]
    fn passwords_must_be_long_enough_and_printable() {
        assert!(check_password("correct horse").is_ok());
        assert!(
            check_password("élan vital €€").is_ok(),
            "characters, not bytes"
        );
        assert!(check_password("short").unwrap_err().contains("at least 12"));
        assert!(check_password(&"x".repeat(1025))
            .unwrap_err()
            .contains("1024 bytes"));
        assert!(check_password("twelve chars\n").is_err());
    }
}

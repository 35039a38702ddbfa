//! The random secrets that stand for someone: a session id in a cookie, an API token, a
//! director's or a real-server host's agent token.
//! Each is a prefix and 64 hex digits (32 random bytes); only its SHA-256 is stored.

use sha2::{Digest, Sha256};

/// A browser session's cookie value.
pub const SESSION_PREFIX: &str = "lvss_";
/// An API token.
pub const API_TOKEN_PREFIX: &str = "lvst_";
/// A director's agent token.
pub const AGENT_TOKEN_PREFIX: &str = "lvsa_";
/// A real-server host's agent token: a kind of its own, so neither agent's token opens the
/// other's endpoints.
pub const REAL_SERVER_TOKEN_PREFIX: &str = "lvsr_";
const HEX_DIGITS: usize = 64;

/// A new secret with `prefix`, and the hash to store.
pub fn new(prefix: &str) -> anyhow::Result<(String, [u8; 32])> {
    let mut bytes = [0_u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a secret: {e}"))?;
    let mut secret = String::with_capacity(prefix.len() + HEX_DIGITS);
    secret.push_str(prefix);
    for byte in bytes {
        secret.push_str(&format!("{byte:02x}"));
    }
    let hash = hash(&secret);
    Ok((secret, hash))
}

/// What is stored of a secret: its SHA-256.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `text` has the form of a secret with `prefix` (checked before any lookup).
pub fn well_formed(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == HEX_DIGITS && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The token of an `Authorization: Bearer <token>` header's value.
pub fn bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, hash_a) = new(API_TOKEN_PREFIX).unwrap();
        let (b, _) = new(API_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(well_formed(API_TOKEN_PREFIX, &a), "{a}");
        assert!(!well_formed(SESSION_PREFIX, &a));
        assert_eq!(hash(&a), hash_a);
        assert!(!well_formed(API_TOKEN_PREFIX, &a[..a.len() - 1]));
        assert!(!well_formed(API_TOKEN_PREFIX, &a.to_uppercase()));
    }
}

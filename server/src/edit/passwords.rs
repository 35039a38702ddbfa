//! Passwords: argon2id hashes (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP
//! recommends), computed on the blocking pool a few at a time, so that a burst of sign-ins
//! or a script adding users cannot take every core from the API; and random passwords for
//! accounts made without one.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// The characters of a generated password: letters and digits, unambiguous in any font
/// that matters less than being easy to paste.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 24 of them: 142 bits.
const GENERATED_CHARS: usize = 24;

/// Hashes at once: half the cores, at least one.
fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Semaphore::new((cores / 2).max(1))
    })
}

/// The PHC string of `password`'s argon2id hash, with a new random salt.
pub async fn hash(password: String) -> anyhow::Result<String> {
    let mut salt = [0_u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await
}

/// Whether `password` is the one `hash` (a PHC string) was made from.
pub async fn verify(password: String, hash: String) -> anyhow::Result<bool> {
    blocking(move || {
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored password hash: {e}"))?;
        // The parameters are the hash's own, so hashes made with other costs still verify.
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = permits()
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password hashing stopped: {e}"))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?
}

/// A random password of [`GENERATED_CHARS`] letters and digits.
pub fn generate() -> anyhow::Result<String> {
    let mut password = String::with_capacity(GENERATED_CHARS);
    while password.len() < GENERATED_CHARS {
        let mut bytes = [0_u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for a password: {e}"))?;
        // Only bytes below the largest multiple of the alphabet's size, so that every
        // character is equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        for byte in bytes.into_iter().filter(|b| usize::from(*b) < limit) {
            if password.len() < GENERATED_CHARS {
                password.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse battery".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify("correct horse battery".into(), hash.clone())
            .await
            .unwrap());
        assert!(!verify("correct horse battery!".into(), hash.clone())
            .await
            .unwrap());
        let again = super::hash("correct horse battery".into()).await.unwrap();
        assert_ne!(hash, again, "a salt of its own");
        assert!(verify("x".into(), "not a hash".into()).await.is_err());
    }

    #[test]
    fn generated_passwords_are_long_random_and_valid() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), GENERATED_CHARS);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert!(lvs_model::access::check_password(&a).is_ok());
    }
}

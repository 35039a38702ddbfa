//! The agent's token: given on the command line, or read from a file. The file is read
//! again whenever the server refuses the token, so a revoked token is replaced by
//! rewriting the file, without restarting the agent.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context as _;

#[derive(Debug)]
pub struct Token {
    file: Option<PathBuf>,
    current: RwLock<Arc<str>>,
}

impl Token {
    /// A token that never changes (`--token`).
    pub fn fixed(token: &str) -> anyhow::Result<Token> {
        Ok(Token {
            file: None,
            current: RwLock::new(checked(token)?.into()),
        })
    }

    /// The token in `path` (`--token-file`; surrounding whitespace is ignored).
    pub fn from_file(path: &Path) -> anyhow::Result<Token> {
        Ok(Token {
            current: RwLock::new(read(path)?.into()),
            file: Some(path.to_owned()),
        })
    }

    pub fn get(&self) -> Arc<str> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// After the server refused the token: reads the file again and returns whether it
    /// now holds another token. A file that cannot be read keeps the token as it is.
    pub fn reload(&self) -> bool {
        let Some(path) = &self.file else {
            return false;
        };
        let token = match read(path) {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!("{error:#}");
                return false;
            }
        };
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if **current == *token {
            return false;
        }
        *current = token.into();
        tracing::info!(file = %path.display(), "read a new token from the token file");
        true
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    checked(&text).with_context(|| format!("in the token file {}", path.display()))
}

fn checked(token: &str) -> anyhow::Result<String> {
    let token = token.trim();
    anyhow::ensure!(!token.is_empty(), "the agent token is empty");
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_is_trimmed_and_read_again_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let token = Token::from_file(&path).unwrap();
        assert_eq!(&*token.get(), "first");
        assert!(!token.reload(), "the same token");
        std::fs::write(&path, " second ").unwrap();
        assert!(token.reload());
        assert_eq!(&*token.get(), "second");
        std::fs::write(&path, "\n").unwrap();
        assert!(!token.reload(), "an empty file keeps the token");
        assert_eq!(&*token.get(), "second");
    }

    #[test]
    fn a_fixed_token_is_never_reloaded() {
        let token = Token::fixed("t").unwrap();
        assert!(!token.reload());
        assert!(Token::fixed("  ").is_err());
    }
}

//! What `lvsctl` exits with, and the error that carries it.
//!
//! The codes are part of the command line's interface (scripts branch on them), so each has
//! one meaning across every command; the README's table lists them.

use std::fmt;
use std::process::ExitCode;

/// Why a command stopped, as its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; with `--wait`, every director applied the change.
    Ok = 0,
    /// Anything else: the server unreachable, a file unreadable, a server error.
    Error = 1,
    /// The command line itself is wrong (clap's own code).
    Usage = 2,
    /// The document or a value failed validation (the server's 422, or a file that is not
    /// a document).
    Invalid = 3,
    /// Someone else changed the object first (409, 412), or it already exists.
    Conflict = 4,
    /// `--wait` ran out of time before every director applied the change.
    Timeout = 5,
    /// A director reported errors applying the change.
    DirectorErrors = 6,
    /// No credentials, or they do not allow this (401, 403).
    Denied = 7,
    /// `lvsctl diff`: the document differs from the cluster.
    Differs = 8,
    /// The cluster, service, real server or director does not exist (404).
    NotFound = 9,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// A failed command: the exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }

    /// An [`Exit::Error`] failure.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Error, message)
    }

    /// The same failure with `context` in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Failure {
        Failure {
            exit: self.exit,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

pub type Outcome<T = ()> = Result<T, Failure>;

//! Health checks on the director: which real servers are up, decided here and applied to the
//! kernel here, so a dead real server stops getting new connections even while the server
//! is unreachable.
//!
//! - [`Engine`] runs the checks: one tokio task per distinct [`Target`] (address, port and
//!   check settings), however many services share it, each at its own phase of the
//!   interval so a thousand checks never start together. A task counts results with a
//!   [`Counter`] and sends only the flips.
//! - [`probe`] is one attempt of each kind (tcp, http, https, udp-dns, exec); a dead real
//!   server costs a timer, not CPU. A TCP check is a SYN (`syn/`): no connection is made.
//! - The book (`book.rs`) knows which real servers use which target, and turns health into
//!   the effective desired state that the planner applies.

mod book;
mod connection;
mod counter;
mod dns;
mod engine;
mod exec;
mod framing;
mod http;
pub mod probe;
pub mod report;
mod syn;
mod tls;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use lvs_model::HealthCheck;

pub use book::{target_of, Book, Delta, Seen};
pub use counter::{Counter, Flip};
pub use engine::{Engine, EngineStatus, Transition};
pub use exec::ExecPolicy;

/// What is checked: an address and port, with the check's settings. Real servers of
/// several services with equal targets share one check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub address: IpAddr,
    pub port: u16,
    pub check: Arc<HealthCheck>,
}

impl Target {
    pub fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.check.kind(), self.socket())
    }
}

/// Why a check failed, as reported with a fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer within the check's timeout.
    Timeout,
    /// The connection was refused (or, for UDP, the port is unreachable).
    Refused,
    /// The real server answered HTTP with a status outside the expected ones.
    Status(u16),
    /// The body lacked the expected text or did not match the expected pattern.
    BodyMismatch,
    /// The answer was not what the protocol allows.
    Protocol(String),
    /// The TLS handshake or the certificate failed.
    Tls(String),
    /// The DNS answer had another rcode.
    Rcode(u8),
    /// The program exited with this code.
    Exit(i32),
    /// The program was killed by this signal.
    Signal(i32),
    /// The check was not run: the director's own policy refuses it (an `exec` check
    /// outside `--check-scripts-dir`, say).
    NotRun(String),
    /// Any other error on the way (no route, reset, ...).
    Io(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => f.write_str("timeout"),
            Failure::Refused => f.write_str("connection refused"),
            Failure::Status(code) => write!(f, "status {code}"),
            Failure::BodyMismatch => f.write_str("body mismatch"),
            Failure::Protocol(what) => write!(f, "bad answer: {what}"),
            Failure::Tls(what) => write!(f, "tls: {what}"),
            Failure::Rcode(code) => write!(f, "dns rcode {code}"),
            Failure::Exit(code) => write!(f, "exit code {code}"),
            Failure::Signal(signal) => write!(f, "killed by signal {signal}"),
            Failure::NotRun(reason) => write!(f, "check refused: {reason}"),
            Failure::Io(what) => f.write_str(what),
        }
    }
}

//! Errors: kernel refusals mapped to what failed and why, and the failures of the netlink
//! transport itself.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::key::{DaemonState, ServiceKey};

/// Anything that can go wrong talking to IPVS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel has no `IPVS` generic netlink family.
    #[error(
        "ipvs is not available in this kernel: no \"IPVS\" generic netlink family \
         (is the ip_vs module loaded?)"
    )]
    Unavailable,
    /// The kernel refused one command.
    #[error(transparent)]
    Kernel(Box<KernelError>),
    /// A request the kernel would refuse anyway, caught before sending.
    #[error("{0}")]
    InvalidArgument(String),
    /// The netlink socket failed.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    /// A message could not be encoded.
    #[error("cannot encode netlink message: {0}")]
    Encode(String),
    /// A reply could not be decoded.
    #[error("malformed reply from the kernel: {0}")]
    Decode(String),
    /// A reply that does not belong to the request (wrong sequence number or sender).
    #[error("unexpected netlink message: {0}")]
    Protocol(String),
}

impl From<KernelError> for Error {
    fn from(e: KernelError) -> Self {
        Error::Kernel(Box::new(e))
    }
}

impl Error {
    pub(crate) fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }

    /// The kernel's refusal, if that is what this is.
    pub fn kernel(&self) -> Option<&KernelError> {
        match self {
            Error::Kernel(e) => Some(e),
            _ => None,
        }
    }
}

/// One command the kernel refused: what was attempted, on which object, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} {target}: {}", self.reason())]
pub struct KernelError {
    pub action: Action,
    pub target: Target,
    pub kind: ErrorKind,
    /// The positive errno the kernel returned.
    pub errno: i32,
    /// The extended-ack message, when the kernel sent one.
    pub message: Option<String>,
}

impl KernelError {
    pub(crate) fn new(action: Action, target: Target, errno: i32, message: Option<String>) -> Self {
        let kind = ErrorKind::classify(action, &target, errno);
        KernelError {
            action,
            target,
            kind,
            errno,
            message,
        }
    }

    fn reason(&self) -> String {
        let base = match (&self.kind, &self.target) {
            (ErrorKind::AlreadyExists, Target::Service(_) | Target::ServiceWith { .. }) => {
                "service already exists".to_owned()
            }
            (ErrorKind::AlreadyExists, Target::Destination { .. }) => {
                "destination already exists".to_owned()
            }
            (ErrorKind::AlreadyExists, Target::Daemon(_)) => {
                "a sync daemon already runs in this role".to_owned()
            }
            (ErrorKind::AlreadyExists, _) => "already exists".to_owned(),
            (ErrorKind::NoSuchService, _) => "no such service".to_owned(),
            (ErrorKind::NoSuchDestination, _) => "no such destination".to_owned(),
            (ErrorKind::NoSuchDaemon, _) => "no sync daemon runs in this role".to_owned(),
            (
                ErrorKind::ModuleUnavailable {
                    scheduler,
                    engine: None,
                },
                _,
            ) => {
                format!("scheduler {scheduler:?} is not available in this kernel")
            }
            (
                ErrorKind::ModuleUnavailable {
                    scheduler,
                    engine: Some(engine),
                },
                _,
            ) => format!(
                "scheduler {scheduler:?} or persistence engine {engine:?} is not available in \
                 this kernel"
            ),
            (ErrorKind::Invalid, _) => "invalid argument".to_owned(),
            (ErrorKind::FamilyNotSupported, _) => {
                "address family not supported by this kernel".to_owned()
            }
            (ErrorKind::PermissionDenied, _) => {
                "permission denied (needs CAP_NET_ADMIN in the network namespace)".to_owned()
            }
            (ErrorKind::AckLost, _) => {
                "outcome unknown: the acknowledgement was lost (receive buffer overrun)".to_owned()
            }
            (ErrorKind::Other, _) => io::Error::from_raw_os_error(self.errno)
                .to_string()
                .to_lowercase(),
        };
        match &self.message {
            Some(message) => format!("{base} ({message})"),
            None => base,
        }
    }
}

/// Why the kernel refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `EEXIST`: the service, destination or daemon exists already.
    AlreadyExists,
    /// `ESRCH` on a service: it does not exist.
    NoSuchService,
    /// `ENOENT` on a destination: it does not exist in the service.
    NoSuchDestination,
    /// `ESRCH` on stopping a daemon: none runs in that role.
    NoSuchDaemon,
    /// `ENOENT` on adding or editing a service: no such scheduler (or persistence engine)
    /// module in this kernel.
    ModuleUnavailable {
        scheduler: String,
        engine: Option<String>,
    },
    /// `EINVAL` (or `ERANGE` for thresholds): an invalid value or combination.
    Invalid,
    /// `EAFNOSUPPORT`.
    FamilyNotSupported,
    /// `EPERM`.
    PermissionDenied,
    /// The acknowledgement never arrived (`ENOBUFS` on the socket): the command may or may
    /// not have been applied.
    AckLost,
    /// Any other errno.
    Other,
}

const EPERM: i32 = 1;
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ERANGE: i32 = 34;
const ENOBUFS: i32 = 105;
const EAFNOSUPPORT: i32 = 97;

impl ErrorKind {
    fn classify(action: Action, target: &Target, errno: i32) -> Self {
        match (errno, target) {
            (EEXIST, _) => ErrorKind::AlreadyExists,
            (ESRCH, Target::Daemon(_)) => ErrorKind::NoSuchDaemon,
            (ESRCH, _) => ErrorKind::NoSuchService,
            (ENOENT, Target::Destination { .. }) => ErrorKind::NoSuchDestination,
            (
                ENOENT,
                Target::ServiceWith {
                    scheduler, engine, ..
                },
            ) if matches!(action, Action::Add | Action::Edit) => ErrorKind::ModuleUnavailable {
                scheduler: scheduler.clone(),
                engine: engine.clone(),
            },
            (EINVAL | ERANGE, _) => ErrorKind::Invalid,
            (EAFNOSUPPORT, _) => ErrorKind::FamilyNotSupported,
            (EPERM, _) => ErrorKind::PermissionDenied,
            (ENOBUFS, _) => ErrorKind::AckLost,
            _ => ErrorKind::Other,
        }
    }
}

/// What a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Add,
    Edit,
    Delete,
    Get,
    List,
    Zero,
    Flush,
    Set,
    Start,
    Stop,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Add => "add",
            Action::Edit => "edit",
            Action::Delete => "delete",
            Action::Get => "get",
            Action::List => "list",
            Action::Zero => "zero",
            Action::Flush => "flush",
            Action::Set => "set",
            Action::Start => "start",
            Action::Stop => "stop",
        })
    }
}

/// The object a command acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A service, by key.
    Service(ServiceKey),
    /// A service being added or edited, with the modules it needs.
    ServiceWith {
        key: ServiceKey,
        scheduler: String,
        engine: Option<String>,
    },
    /// One destination of a service.
    Destination {
        service: ServiceKey,
        addr: SocketAddr,
    },
    /// The destinations of a service.
    Destinations(ServiceKey),
    /// Every service (zero, flush, list).
    Table,
    /// The connection timeouts.
    Timeouts,
    /// The sync daemon in one role, or all daemons.
    Daemon(Option<DaemonState>),
    /// IPVS version information.
    Info,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Service(key) | Target::ServiceWith { key, .. } => write!(f, "service {key}"),
            Target::Destination { service, addr } => {
                write!(f, "destination {addr} of service {service}")
            }
            Target::Destinations(service) => write!(f, "destinations of service {service}"),
            Target::Table => f.write_str("all services"),
            Target::Timeouts => f.write_str("connection timeouts"),
            Target::Daemon(Some(DaemonState::Master)) => f.write_str("master sync daemon"),
            Target::Daemon(Some(DaemonState::Backup)) => f.write_str("backup sync daemon"),
            Target::Daemon(Some(DaemonState::Other(raw))) => write!(f, "sync daemon (state {raw})"),
            Target::Daemon(None) => f.write_str("sync daemons"),
            Target::Info => f.write_str("ipvs info"),
        }
    }
}

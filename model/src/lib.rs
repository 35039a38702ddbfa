//! LVS Fleet's domain: the IPVS configuration a fleet should have.
//!
//! Every type here can only be built valid ("parse, don't validate"): the JSON shapes in
//! [`spec`] are what clients write, and their `parse` methods return domain values or every
//! field error at once. Rules the kernel or the data plane imposes are enforced here, once,
//! for the server, the agent, the web UI and the CLI alike. This crate does no I/O.

pub mod access;
mod address;
pub mod agent;
mod desired;
mod diff;
pub mod duration;
mod health;
pub mod host;
mod keyword;
pub mod mark_rules;
pub mod merge;
mod real_server;
pub mod real_server_host;
mod service;
pub mod spec;
mod text;
mod validation;

pub use address::{parse_real_server_address, parse_virtual_address};
pub use desired::{DesiredService, DesiredState};
pub use diff::{
    ApplyError, Change, ChangeKind, ChangeSpec, Diff, DiffSpec, DiffSummary, RealServerChange,
    RealServerChangeSpec, ServiceChange, ServiceChangeSpec, ServiceUpdate,
};
pub use health::{
    BodyMatch, CheckKind, DnsProbe, DnsRcode, DnsType, ExecProbe, Health, HealthCheck, HttpMethod,
    HttpProbe, OnFailure, Probe, Tls, TlsVerify,
};
pub use host::HostSettings;
pub use real_server::{
    Forwarding, ForwardingMethod, RealServer, RealServerKey, RealServerState, Thresholds, Tunnel,
    TunnelChecksum, TunnelType, Weight,
};
pub use service::{
    Family, Fwmark, HashFlags, Persistence, PersistenceEngine, Port, Protocol, Scheduler,
    SchedulerFlag, SchedulerName, ServiceKey, VirtualService,
};
pub use spec::Timeouts;
pub use text::{Name, Text};
pub use validation::{FieldError, ValidationErrors};

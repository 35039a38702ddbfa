//! The JSON shapes of the API and the desired-state document, and their validation.
//!
//! Each `*Spec` is what a client writes: loosely typed so that every bad field can be
//! reported at once, with a `parse` that returns the validated domain value. Converting a
//! domain value back gives the canonical spec, with every default written out.

mod cluster;
mod desired;
mod health;
mod host;
mod mark_rules;
mod real_server;
mod real_server_host;
mod service;

pub use cluster::{
    ClusterSettings, ClusterSpec, DirectorSettings, DirectorSpec, Timeouts, TimeoutsSpec,
};
pub use desired::{DesiredStateSpec, DocumentView};
pub use health::{HealthCheckSpec, StatusSpec};
pub use host::{HostSpec, IpvsSysctlsSpec, SyncSpec, VipsSpec};
pub use mark_rules::{MarkRuleSpec, PortSpec};
pub use real_server::RealServerSpec;
pub use real_server_host::{RealServerHostSettings, RealServerHostSpec};
pub use service::{Netmask, ServiceSpec};

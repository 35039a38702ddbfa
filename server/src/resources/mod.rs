//! The resources as both transports show them: the REST API serialises them as JSON and
//! the UI renders them, and both serve and check the same ETags. Built from stored rows;
//! nothing here knows HTTP.

pub mod clusters;
pub mod directors;
pub mod health;
pub mod real_server_hosts;
pub mod real_servers;
pub mod rollout;
pub mod services;

pub use clusters::{cluster_etag, Cluster};
pub use directors::{
    director_etag, Director, DirectorSettings, DirectorStatus, HealthChecker, RepairedDrift,
    SyncState,
};
pub use real_server_hosts::{real_server_host_etag, HostState, RealServerHost};
pub use real_servers::{real_server_etag, RealServer};
pub use rollout::{DirectorRollout, Rollout, RolloutCounts, RolloutState};
pub use services::{service_etag, Service};

use serde::Serialize;

/// The ETag of a representation: a hash of its JSON, so it changes exactly when what a
/// client would see changes.
pub fn etag_of(json: &[u8]) -> String {
    // FNV-1a: stable across builds and platforms, and plenty for change detection.
    let hash = json.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// The ETag a value would be served with.
pub fn etag<T: Serialize>(value: &T) -> String {
    etag_of(&serde_json::to_vec(value).unwrap_or_default())
}

/// The ETag of a desired state: its generation, which changes exactly when it does.
pub fn generation_etag(generation: u64) -> String {
    format!("\"gen-{generation}\"")
}

/// Formats stored Unix milliseconds as RFC 3339.
pub fn timestamp(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

//! A service's health across its cluster's directors, as the API and the UI show it: for
//! each real server where it is up and where down (`down on lb2 only` points at the path
//! from lb2), and for each director how many serve, whether the service is degraded and
//! whether its sorry server stands in.

use std::net::SocketAddr;

use lvs_model::agent::CheckerPulse;
use lvs_model::Health;
use serde::Serialize;
use utoipa::ToSchema;

use super::timestamp;
use crate::agents::health::DirectorHealth;
use crate::db::directors::DirectorRow;
use crate::db::real_servers::RealServerRow;
use crate::db::services::ServiceRow;

/// A check engine is stalled when its last result is older than this many of its longest
/// interval (plus [`STALL_GRACE_MS`]): several checks in a row that never ended.
const STALLED_AFTER_INTERVALS: u64 = 3;
const STALL_GRACE_MS: u64 = 5000;

/// A service's health as its directors report it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHealthView {
    pub cluster: String,
    pub service: i64,
    pub key: String,
    /// Whether any of its real servers is checked.
    pub checked: bool,
    pub min_healthy: u32,
    /// Whether some director serves it with fewer healthy real servers than `min_healthy`.
    pub degraded: bool,
    pub directors: Vec<DirectorServiceHealth>,
    pub real_servers: Vec<RealServerHealthView>,
}

/// The service on one director.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectorServiceHealth {
    pub director: String,
    /// Whether the director's agent reported health since the server started.
    pub reported: bool,
    /// Real servers up (or not checked) and not drained.
    pub healthy: u32,
    pub degraded: bool,
    pub sorry_server_in_use: bool,
    /// Whether the director's check engine stopped producing results.
    pub checker_stalled: bool,
}

/// A real server on every director.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerHealthView {
    pub id: i64,
    /// `10.1.0.1:80`.
    pub key: String,
    pub checked: bool,
    /// How many directors report it up, and down.
    pub up: u32,
    pub down: u32,
    pub directors: Vec<RealServerOnDirector>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerOnDirector {
    pub director: String,
    pub health: Health,
    /// When it last changed; absent while it has its initial health.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a check engine whose pulse came at `received_at` has stalled.
pub fn checker_stalled(pulse: &CheckerPulse, received_at: i64) -> bool {
    if pulse.targets == 0 || pulse.last_result_ms == 0 {
        return false;
    }
    let limit = pulse.longest_interval_ms * STALLED_AFTER_INTERVALS + STALL_GRACE_MS;
    u64::try_from(received_at).unwrap_or(0) > pulse.last_result_ms + limit
}

impl ServiceHealthView {
    /// `directors` pairs each director of the cluster with its latest health report.
    pub fn new(
        cluster: &str,
        service: &ServiceRow,
        real_servers: &[RealServerRow],
        directors: &[(DirectorRow, Option<std::sync::Arc<DirectorHealth>>)],
    ) -> ServiceHealthView {
        let min_healthy = u32::try_from(service.min_healthy).unwrap_or(u32::MAX);
        let key = &service.service_key;
        let rs_keys: Vec<String> = real_servers.iter().map(canonical_key).collect();
        let mut views: Vec<RealServerHealthView> = real_servers
            .iter()
            .zip(&rs_keys)
            .map(|(rs, rs_key)| RealServerHealthView {
                id: rs.id,
                key: rs_key.clone(),
                checked: rs.health_check.as_ref().map_or(
                    service
                        .health_check
                        .as_ref()
                        .is_some_and(|c| c.0.kind.as_deref() != Some("none")),
                    |c| c.0.kind.as_deref() != Some("none"),
                ),
                up: 0,
                down: 0,
                directors: Vec::new(),
            })
            .collect();
        let mut per_director = Vec::with_capacity(directors.len());
        for (director, health) in directors {
            let mut healthy = 0;
            for ((view, rs), rs_key) in views.iter_mut().zip(real_servers).zip(&rs_keys) {
                let seen = health
                    .as_ref()
                    .and_then(|h| h.real_servers.get(&(key.clone(), rs_key.clone())));
                let up = match seen.and_then(|s| s.health) {
                    Some(Health::Down) => {
                        view.down += 1;
                        false
                    }
                    Some(Health::Up) => {
                        view.up += 1;
                        true
                    }
                    None => true,
                };
                if let Some(seen) = seen {
                    view.directors.push(RealServerOnDirector {
                        director: director.name.clone(),
                        health: seen.health.unwrap_or(Health::Up),
                        since: (seen.since_ms > 0)
                            .then(|| timestamp(i64::try_from(seen.since_ms).unwrap_or(i64::MAX))),
                        reason: seen.reason.clone(),
                    });
                }
                if up && rs.state == lvs_model::RealServerState::Active && rs.weight > 0 {
                    healthy += 1;
                }
            }
            let degraded = healthy < min_healthy;
            per_director.push(DirectorServiceHealth {
                director: director.name.clone(),
                reported: health.is_some(),
                healthy,
                degraded,
                sorry_server_in_use: health
                    .as_ref()
                    .and_then(|h| h.sorry_server_in_use.get(key).copied())
                    .unwrap_or(false),
                checker_stalled: health
                    .as_ref()
                    .is_some_and(|h| checker_stalled(&h.checker, h.received_at)),
            });
        }
        ServiceHealthView {
            cluster: cluster.to_owned(),
            service: service.id,
            key: key.clone(),
            checked: views.iter().any(|v| v.checked),
            min_healthy,
            degraded: per_director.iter().any(|d| d.reported && d.degraded),
            directors: per_director,
            real_servers: views,
        }
    }
}

/// The real server's key as agents write it (`SocketAddr`'s form).
fn canonical_key(rs: &RealServerRow) -> String {
    match rs.address.parse::<std::net::IpAddr>() {
        Ok(address) => SocketAddr::new(address, u16::try_from(rs.port).unwrap_or(0)).to_string(),
        Err(_) => rs.key(),
    }
}

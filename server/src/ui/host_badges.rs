//! The badge a route or tunnel real server shows for the host at its address: that host's
//! state, or that no real-server host claims the address (nothing prepares it from here).

use std::collections::HashMap;
use std::net::IpAddr;

use sqlx::SqliteConnection;

use super::page::path_segment;
use crate::agents::Agents;
use crate::db::real_server_hosts;
use crate::db::real_server_needs::{self, HostNeeds};
use crate::resources::real_server_hosts::state;
use crate::resources::HostState;

/// What a real server shows of its host.
#[derive(Debug, Clone)]
pub struct HostBadge {
    pub label: String,
    /// The badge's class; empty for a plain one.
    pub class: &'static str,
    /// The host's card on the real-server hosts page; `None` when no host claims it.
    pub href: Option<String>,
}

/// The badges of the hosts at `addresses`: two reads (the hosts claiming them, and their
/// needs) whatever the number of real servers on the page.
pub async fn of_addresses(
    conn: &mut SqliteConnection,
    agents: &Agents,
    addresses: &[IpAddr],
    now: i64,
) -> Result<HashMap<IpAddr, HostBadge>, sqlx::Error> {
    if addresses.is_empty() {
        return Ok(HashMap::new());
    }
    let claimed = real_server_hosts::claiming(conn, addresses).await?;
    let mut ids: Vec<i64> = claimed.iter().map(|(_, host)| host.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let needs = real_server_needs::of_hosts(conn, &ids).await?;
    let none = HostNeeds::none();
    let mut badges: HashMap<IpAddr, HostBadge> = claimed
        .iter()
        .map(|(address, host)| {
            let version = &needs.get(&host.id).unwrap_or(&none).needs.version;
            let last_seen = host.last_seen.max(agents.host_last_seen(host.id));
            let offline_after = agents.options.host_offline_after_millis();
            let state = state(last_seen, host.report.as_ref(), version, now, offline_after);
            let badge = HostBadge {
                label: format!("host {}", state.label()),
                class: match state {
                    HostState::NeverSeen => "warn",
                    other => other.class(),
                },
                href: Some(format!(
                    "/real-server-hosts#host-{}",
                    path_segment(&host.name)
                )),
            };
            (*address, badge)
        })
        .collect();
    for address in addresses {
        badges.entry(*address).or_insert_with(|| HostBadge {
            label: "unmanaged host".to_owned(),
            class: "",
            href: None,
        });
    }
    Ok(badges)
}

//! Everything the service page shows, loaded in one read transaction: the stored service
//! and pool, and the live numbers the directors last reported for them.

use std::collections::HashMap;
use std::net::IpAddr;

use lvs_model::agent::{RealServerStats, ServiceStats};
use lvs_model::spec::ServiceSpec;
use lvs_model::ForwardingMethod;

use super::chart::{self, Series};
use super::format;
use super::graph_range::GraphRange;
use super::health_cells::{self, HealthCell, HealthNotes};
use super::host_badges::{self, HostBadge};
use super::mark_rules_text;
use crate::db::{directors, now_millis, real_servers};
use crate::edit::lookup;
use crate::resources::etag;
use crate::resources::health::ServiceHealthView;
use crate::resources::service_etag;
use crate::resources::RealServer;
use crate::state::AppState;

/// Real servers listed on the page; a pool is rarely more than a few hundred.
const MAX_REAL_SERVERS: i64 = 2000;

#[derive(Debug)]
pub struct ServiceView {
    pub cluster: String,
    pub id: i64,
    pub key: String,
    pub name: String,
    pub spec: ServiceSpec,
    /// A fwmark service's marking rules as the page names them (`tcp 192.0.2.10:80,443`).
    pub marks: Vec<String>,
    /// The service's ETag, carried by its forms.
    pub etag: String,
    /// The cluster's generation when the service was read, which the settings form
    /// carries so that a refused save can be merged with what changed since.
    pub generation: u64,
    pub real_servers: Vec<RealServerLine>,
    /// Whether the pool was cut at [`MAX_REAL_SERVERS`].
    pub truncated: bool,
    /// Per real server and director, from the directors' latest reports.
    pub traffic: Vec<TrafficLine>,
    /// Directors that reported this service recently.
    pub reporting: usize,
    pub directors: usize,
    /// The time the graphs show.
    pub range: GraphRange,
    pub connections_graph: chart::Graph,
    pub bytes_graph: chart::Graph,
    pub health: HealthNotes,
}

/// A real server of the pool, as configured.
#[derive(Debug)]
pub struct RealServerLine {
    pub id: i64,
    pub key: String,
    pub forwarding: String,
    pub weight: i64,
    pub drained: bool,
    pub thresholds: String,
    pub description: String,
    pub etag: String,
    pub health: HealthCell,
    /// The state of the host at its address, for route and tunnel real servers.
    pub host: Option<HostBadge>,
}

/// A real server's numbers on one director.
#[derive(Debug)]
pub struct TrafficLine {
    pub real_server: String,
    pub director: String,
    pub active: u32,
    pub inactive: u32,
    pub persistent: u32,
    pub connections_per_second: String,
    pub bytes_per_second: String,
}

/// A link to the page with its graphs over another range.
#[derive(Debug)]
pub struct RangeLink {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

impl ServiceView {
    /// A link per graph range, to the traffic section of the page.
    pub fn range_links(&self) -> Vec<RangeLink> {
        GraphRange::ALL
            .into_iter()
            .map(|range| RangeLink {
                href: format!(
                    "/clusters/{}/services/{}?range={}#live",
                    super::page::path_segment(&self.cluster),
                    self.id,
                    range.value()
                ),
                label: range.label(),
                current: range == self.range,
            })
            .collect()
    }

    /// The forwarding most of the pool uses, to preselect for a new real server.
    pub fn usual_forwarding(&self) -> &'static str {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for server in &self.real_servers {
            *counts.entry(server.forwarding.as_str()).or_default() += 1;
        }
        let usual = counts.into_iter().max_by_key(|(_, n)| *n).map(|(f, _)| f);
        super::real_server_form::FORWARDING
            .iter()
            .map(|(value, _)| *value)
            .find(|value| Some(*value) == usual)
            .unwrap_or("masq")
    }
}

pub async fn load(state: &AppState, cluster: &str, id: i64) -> super::error::UiResult<ServiceView> {
    load_over(state, cluster, id, GraphRange::default()).await
}

/// [`load`] with the graphs over `range`.
pub async fn load_over(
    state: &AppState,
    cluster: &str,
    id: i64,
    range: GraphRange,
) -> super::error::UiResult<ServiceView> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let row = lookup::service(&mut tx, &cluster, id).await?;
    let mut rows = real_servers::list(&mut tx, row.id, None, None, 0, MAX_REAL_SERVERS + 1).await?;
    let truncated = rows.len() > MAX_REAL_SERVERS as usize;
    rows.truncate(MAX_REAL_SERVERS as usize);
    let directors = directors::list(&mut tx, cluster.id, None, None, -1).await?;
    let now = now_millis();
    // Only route and tunnel real servers need their host prepared.
    let prepared: Vec<IpAddr> = rows
        .iter()
        .filter(|rs| {
            matches!(
                rs.forwarding,
                ForwardingMethod::Route | ForwardingMethod::Tunnel
            )
        })
        .filter_map(|rs| rs.address.parse().ok())
        .collect();
    let hosts = host_badges::of_addresses(&mut tx, &state.agents, &prepared, now).await?;
    drop(tx);

    let fresh_within = state.agents.options.online_within_millis();
    let mut traffic = Vec::new();
    let mut reporting = 0;
    for director in &directors {
        let Some(latest) = state.agents.stats.latest(director.id) else {
            continue;
        };
        if now - latest.received_at > fresh_within {
            continue;
        }
        let Some(stats) = latest
            .report
            .services
            .iter()
            .find(|s| s.key == row.service_key)
        else {
            continue;
        };
        reporting += 1;
        traffic.extend(traffic_lines(&director.name, stats));
    }
    traffic.sort_by(|a, b| {
        a.real_server
            .cmp(&b.real_server)
            .then(a.director.cmp(&b.director))
    });

    let stats = &state.agents.stats;
    let resolution = range.resolution();
    // The points of the range, and the one before it for the line to enter the graph.
    let count = range.span_millis() / stats.step_millis(resolution) + 2;
    let history = stats.recent(
        cluster.id,
        &row.service_key,
        resolution,
        usize::try_from(count).unwrap_or(usize::MAX),
    );
    let series = |label: &str, value: &dyn Fn(&[f32; 6]) -> f64| Series {
        label: label.to_owned(),
        points: history.iter().map(|p| (p.at, value(&p.values))).collect(),
    };
    let window = range.window(now);
    let connections_graph = chart::graph_window(
        &[series("new connections", &|v| f64::from(v[0]))],
        window,
        480,
        180,
        "conn/s",
    );
    let bytes_graph = chart::graph_window(
        &[
            series("in", &|v| f64::from(v[3])),
            series("out", &|v| f64::from(v[4])),
        ],
        window,
        480,
        180,
        "B/s",
    );

    let with_health: Vec<_> = directors
        .iter()
        .map(|d| (d.clone(), state.agents.health.of_director(d.id)))
        .collect();
    let health = ServiceHealthView::new(&cluster.name, &row, &rows, &with_health);
    let real_servers = rows
        .iter()
        .zip(&health.real_servers)
        .map(|(rs, seen)| RealServerLine {
            id: rs.id,
            key: rs.key(),
            forwarding: rs.forwarding.to_string(),
            weight: rs.weight,
            drained: rs.state == lvs_model::RealServerState::Drained,
            thresholds: match (rs.upper_threshold, rs.lower_threshold) {
                (0, 0) => String::new(),
                (upper, lower) => format!("{lower}–{upper}"),
            },
            description: rs.description.clone(),
            etag: etag(&RealServer::from(rs)),
            health: health_cells::cell(seen, directors.len()),
            host: rs
                .address
                .parse::<IpAddr>()
                .ok()
                .and_then(|address| hosts.get(&address).cloned()),
        })
        .collect();
    let spec = row.spec();
    Ok(ServiceView {
        etag: service_etag(&row, &cluster.name),
        generation: cluster.generation(),
        cluster: cluster.name,
        id: row.id,
        key: row.service_key.clone(),
        name: row.name.clone(),
        marks: spec.mark_rules.iter().map(mark_rules_text::shown).collect(),
        spec,
        real_servers,
        truncated,
        traffic,
        reporting,
        directors: directors.len(),
        range,
        connections_graph,
        bytes_graph,
        health: HealthNotes::of(&health),
    })
}

fn traffic_lines<'a>(
    director: &'a str,
    stats: &'a ServiceStats,
) -> impl Iterator<Item = TrafficLine> + 'a {
    stats
        .real_servers
        .iter()
        .map(move |rs: &RealServerStats| TrafficLine {
            real_server: rs.key.clone(),
            director: director.to_owned(),
            active: rs.active_connections,
            inactive: rs.inactive_connections,
            persistent: rs.persistent_connections,
            connections_per_second: format::count(rs.rates.connections as f64),
            bytes_per_second: format::bytes_rate((rs.rates.bytes_in + rs.rates.bytes_out) as f64),
        })
}

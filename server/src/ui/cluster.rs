//! A cluster's page: its virtual services, searchable and paged, with live numbers; and
//! the form that creates a cluster.

use super::extract::Caller;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_model::spec::ClusterSpec;

use super::chart;
use super::cluster_form;
use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::format;
use super::mark_rules_text;
use super::page::{path_segment, Chrome, Tab};
use super::session::{redirect_with, Browser, FlashKind};
use crate::agents::stats::Resolution;
use crate::db::clusters::ClusterRow;
use crate::db::pools;
use crate::db::services::{self, Filter, ServiceRow};
use crate::edit;
use crate::edit::lookup;
use crate::state::AppState;

/// Services per page: enough to scan, small enough to render in milliseconds.
pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "cluster.html")]
struct ClusterPage {
    chrome: Chrome,
    cluster: ClusterRow,
    table: ServiceTable,
}

#[derive(Template)]
#[template(path = "cluster_table.html")]
struct ClusterTable {
    cluster: ClusterRow,
    table: ServiceTable,
}

/// One page of the services table and how it was asked for.
#[derive(Debug)]
pub struct ServiceTable {
    pub query: ListQuery,
    pub total: i64,
    pub rows: Vec<ServiceLine>,
    /// Query strings of this page, the first and the next (when there is one).
    pub this_page: String,
    pub first_page: String,
    pub next_page: Option<String>,
}

/// A service in the table.
#[derive(Debug)]
pub struct ServiceLine {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub scheduler: String,
    pub forwarding: String,
    pub up: i64,
    pub total: i64,
    pub active: String,
    pub connections_per_second: String,
    pub bytes_per_second: String,
    /// Real servers some director reports down.
    pub down: usize,
    /// Bytes/s over the last hour.
    pub spark: chart::Sparkline,
    /// A fwmark service's marking rules in short (`marks tcp 192.0.2.10:80,443`).
    pub marks: String,
    /// A fwmark service without rules: it takes packets someone else marks.
    pub marks_elsewhere: bool,
}

/// The table's search, filter and position, as given in the query string.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    /// A name fragment, an address, `address:port`, or a port.
    pub q: String,
    /// `tcp`, `udp`, `sctp`, or empty for all.
    pub protocol: String,
    /// Only services with a real server some director reports down.
    pub unhealthy: bool,
    pub after: i64,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> ListQuery {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        ListQuery {
            q: get("q"),
            protocol: get("protocol"),
            unhealthy: get("unhealthy") == "1",
            after: get("after").parse().unwrap_or(0),
        }
    }

    /// The query string of this search at `after` (`""` for the first page).
    pub fn link(&self, after: i64) -> String {
        let mut pairs = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if !self.protocol.is_empty() {
            pairs.push(("protocol", self.protocol.clone()));
        }
        if self.unhealthy {
            pairs.push(("unhealthy", "1".to_owned()));
        }
        if after > 0 {
            pairs.push(("after", after.to_string()));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        }
    }

    pub fn is_first_page(&self) -> bool {
        self.after == 0
    }

    /// What the search box means, as a filter of the service list.
    fn filter(&self) -> Filter<'_> {
        let protocol = Some(self.protocol.as_str()).filter(|p| !p.is_empty());
        let mut filter = Filter {
            protocol,
            ..Filter::default()
        };
        let q = self.q.as_str();
        if q.is_empty() {
        } else if let Ok(port) = q.parse::<u16>() {
            filter.port = Some(i64::from(port));
        } else if q.parse::<IpAddr>().is_ok() || q.parse::<SocketAddr>().is_ok() {
            // Set below from the canonical spelling.
        } else {
            filter.name_contains = Some(q);
        }
        filter
    }

    /// The canonical address (and port) of an address search.
    fn address(&self) -> Option<(String, Option<i64>)> {
        if let Ok(address) = self.q.parse::<IpAddr>() {
            return Some((address.to_string(), None));
        }
        let socket = self.q.parse::<SocketAddr>().ok()?;
        Some((socket.ip().to_string(), Some(i64::from(socket.port()))))
    }
}

pub async fn page(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let (cluster, table) = load(&state, &cluster, ListQuery::parse(raw.as_deref())).await?;
    let chrome = Chrome::new(&browser, format!("Cluster {}", cluster.name))
        .crumb("Fleet", "/")
        .tabs(&cluster.name, Tab::Services);
    let page = ClusterPage {
        chrome,
        cluster,
        table,
    };
    Ok(Html(page.render()?))
}

/// The table alone, for its periodic refresh and for search as you type.
pub async fn live(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    RawQuery(raw): RawQuery,
) -> UiResult<Html<String>> {
    let (cluster, table) = load(&state, &cluster, ListQuery::parse(raw.as_deref())).await?;
    Ok(Html(ClusterTable { cluster, table }.render()?))
}

async fn load(
    state: &AppState,
    cluster: &str,
    query: ListQuery,
) -> UiResult<(ClusterRow, ServiceTable)> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let mut filter = query.filter();
    let address = query.address();
    if let Some((address, port)) = &address {
        filter.address = Some(address);
        filter.port = *port;
    }
    let down = state.agents.health.down_by_service(cluster.id);
    let mut rows = if query.unhealthy {
        unhealthy_rows(&mut tx, cluster.id, &filter, query.after, &down).await?
    } else {
        services::list(&mut tx, cluster.id, &filter, query.after, PAGE_SIZE + 1).await?
    };
    let next_after = if rows.len() > PAGE_SIZE as usize {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let pools = pools::summaries(&mut tx, &ids).await?;
    let total = services::count(&mut tx, cluster.id).await?;
    drop(tx);
    let now = crate::db::now_millis();
    let rows = rows
        .iter()
        .map(|row| {
            let down = down.get(&row.service_key).copied().unwrap_or(0);
            service_line(state, &cluster, row, &pools, down, now)
        })
        .collect();
    let table = ServiceTable {
        this_page: query.link(query.after),
        first_page: query.link(0),
        next_page: next_after.map(|after| query.link(after)),
        query,
        total,
        rows,
    };
    Ok((cluster, table))
}

/// Services read per query while looking for unhealthy ones.
const SCAN_BATCH: i64 = 500;

/// The page of the services that match `filter` and have a real server down (`down`, from
/// memory): read in batches and sifted here, since the database does not know health.
async fn unhealthy_rows(
    conn: &mut sqlx::SqliteConnection,
    cluster_id: i64,
    filter: &Filter<'_>,
    mut after: i64,
    down: &HashMap<String, usize>,
) -> UiResult<Vec<ServiceRow>> {
    let mut found = Vec::new();
    while !down.is_empty() && found.len() <= PAGE_SIZE as usize {
        let batch = services::list(conn, cluster_id, filter, after, SCAN_BATCH).await?;
        let last = batch.len() < SCAN_BATCH as usize;
        after = batch.last().map_or(after, |row| row.id);
        found.extend(
            batch
                .into_iter()
                .filter(|row| down.contains_key(&row.service_key)),
        );
        if last {
            break;
        }
    }
    Ok(found)
}

fn service_line(
    state: &AppState,
    cluster: &ClusterRow,
    row: &ServiceRow,
    pools: &HashMap<i64, pools::PoolSummary>,
    down: usize,
    now: i64,
) -> ServiceLine {
    let stats = &state.agents.stats;
    // A service its directors stopped reporting keeps its history, but has no rates now.
    let fresh = 3 * stats.step_millis(Resolution::Fine);
    let latest = stats
        .recent(cluster.id, &row.service_key, Resolution::Fine, 1)
        .last()
        .filter(|p| now - p.at <= fresh)
        .map(|p| p.values);
    let value = |field: usize| latest.map_or(0.0, |v| f64::from(v[field]));
    // An hour in minutes: 60 points are plenty for a 120-pixel line.
    let history = stats.recent(cluster.id, &row.service_key, Resolution::Coarse, 60);
    let bytes: Vec<f64> = history
        .iter()
        .map(|p| f64::from(p.values[3]) + f64::from(p.values[4]))
        .collect();
    let pool = pools.get(&row.id).cloned().unwrap_or_default();
    let scheduler = if row.scheduler_flags.is_empty() {
        row.scheduler.to_string()
    } else {
        format!(
            "{} ({})",
            row.scheduler,
            row.scheduler_flags.replace(',', ", ")
        )
    };
    let rules = row.mark_rules.as_ref().map_or(&[][..], |rules| &rules.0);
    ServiceLine {
        marks: mark_rules_text::summary(rules),
        marks_elsewhere: row.fwmark.is_some() && rules.is_empty(),
        id: row.id,
        key: row.service_key.clone(),
        name: row.name.clone(),
        scheduler,
        forwarding: pool.forwarding.replace(',', ", "),
        up: pool.up,
        total: pool.total,
        active: format::count(value(5)),
        connections_per_second: format::count(value(0)),
        bytes_per_second: format::bytes_rate(value(3) + value(4)),
        down,
        spark: chart::sparkline(&bytes, 120, 24),
    }
}

/// The cluster's address in links.
pub fn cluster_href(name: &str) -> String {
    format!("/clusters/{}", path_segment(name))
}

#[derive(Template)]
#[template(path = "cluster_new.html")]
struct NewClusterPage {
    chrome: Chrome,
    form: FormState,
    vip_choices: &'static [(&'static str, &'static str)],
}

impl NewClusterPage {
    fn new(browser: &Browser, form: FormState) -> NewClusterPage {
        NewClusterPage {
            chrome: Chrome::new(browser, "New cluster").crumb("Fleet", "/"),
            form,
            vip_choices: cluster_form::VIP_CHOICES,
        }
    }
}

/// Fields of the cluster form, by the model's field paths.
fn cluster_fields() -> Vec<&'static str> {
    let mut fields = vec!["name", "description"];
    fields.extend(cluster_form::TIMEOUT_FIELDS);
    fields.extend(cluster_form::VIP_FIELDS);
    fields
}

pub async fn new_form(browser: Browser) -> UiResult<Html<String>> {
    let mut form = FormState::default();
    cluster_form::blank_host(&mut form);
    Ok(Html(NewClusterPage::new(&browser, form).render()?))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = ClusterSpec {
        name: form.text("name"),
        description: form.value("description").to_owned(),
        timeouts: cluster_form::timeouts(&mut form),
        host: Some(cluster_form::new_host(&mut form)),
    };
    let fields = cluster_fields();
    // A number that is not one stops the edit; the model still names every other
    // problem, so all are fixed at once.
    if form.has_errors() {
        if let Err(errors) = spec.parse() {
            form.add_validation(&errors, &fields);
        }
    } else {
        match edit::clusters::create(&state, &spec, &caller.author).await {
            Ok(row) => {
                let text = format!(
                    "Cluster {} created. Add its directors, then its services.",
                    row.name
                );
                let location = format!("{}/directors", cluster_href(&row.name));
                return Ok(redirect_with(&location, FlashKind::Ok, &text));
            }
            Err(error) => form.refused(error, &fields)?,
        }
    }
    let page = NewClusterPage::new(&browser, form);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

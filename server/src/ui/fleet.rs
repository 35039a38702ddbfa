//! The fleet page: every cluster with its directors' health and traffic, problems first.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Html;

use super::error::{UiError, UiResult};
use super::format;
use super::page::Chrome;
use super::paging::{self, Pager};
use super::session::Browser;
use crate::db::{clusters, now_millis, services};
use crate::resources::{Director, SyncState};
use crate::state::AppState;

/// Clusters read; a fleet is a handful of clusters, each with a handful of directors.
const MAX_CLUSTERS: i64 = 500;
/// Cluster cards on one page.
const PAGE_SIZE: usize = 24;

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    chrome: Chrome,
    cards: Vec<ClusterCard>,
    list: ListView,
}

#[derive(Template)]
#[template(path = "fleet_cards.html")]
struct FleetCards {
    cards: Vec<ClusterCard>,
    list: ListView,
}

/// How the cluster list is sorted and which page of it is shown.
#[derive(Debug)]
pub struct ListView {
    pub sort: Sort,
    pub pager: Pager,
}

impl ListView {
    /// The query string of this view (`?sort=name&page=2`), which the refresh keeps.
    pub fn query(&self) -> String {
        let mut pairs = Vec::new();
        if self.sort != Sort::Attention {
            pairs.push(("sort", self.sort.word().to_owned()));
        }
        if self.pager.page > 1 {
            pairs.push(("page", self.pager.page.to_string()));
        }
        match serde_urlencoded::to_string(pairs).unwrap_or_default() {
            query if query.is_empty() => query,
            query => format!("?{query}"),
        }
    }

    /// Whether the list is sorted by `sort`.
    pub fn is(&self, sort: &Sort) -> bool {
        self.sort == *sort
    }

    /// The list's address sorted by `sort`, from its first page.
    pub fn sorted_href(&self, sort: &Sort) -> String {
        match sort {
            Sort::Attention => "/".to_owned(),
            sort => format!("/?sort={}", sort.word()),
        }
    }

    /// Page `page` of the list, as sorted.
    pub fn page_href(&self, page: i64) -> String {
        let sort = (self.sort != Sort::Attention).then(|| format!("sort={}&", self.sort.word()));
        format!("/?{}page={page}", sort.unwrap_or_default())
    }
}

/// The cluster list's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Problems first, then by name.
    Attention,
    Name,
    /// Bytes per second, most first.
    Traffic,
    /// Active connections, most first.
    Connections,
}

impl Sort {
    pub const ALL: [Sort; 4] = [
        Sort::Attention,
        Sort::Name,
        Sort::Traffic,
        Sort::Connections,
    ];

    pub fn word(&self) -> &'static str {
        match self {
            Sort::Attention => "attention",
            Sort::Name => "name",
            Sort::Traffic => "traffic",
            Sort::Connections => "connections",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Sort::Attention => "Problems first",
            Sort::Name => "Name",
            Sort::Traffic => "Traffic",
            Sort::Connections => "Active connections",
        }
    }

    /// `sort` from a query string; an error naming the field for a word it does not know.
    fn requested(raw_query: Option<&str>) -> UiResult<Sort> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw_query.unwrap_or_default()).unwrap_or_default();
        let Some((_, word)) = pairs.into_iter().find(|(k, _)| k == "sort") else {
            return Ok(Sort::Attention);
        };
        Sort::ALL
            .into_iter()
            .find(|sort| sort.word() == word)
            .ok_or_else(|| {
                UiError::Status(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "sort: {word:?} is not an order of the cluster list: attention, name, \
                         traffic or connections"
                    ),
                )
            })
    }

    fn order(&self, cards: &mut [ClusterCard]) {
        let by_name = |a: &ClusterCard, b: &ClusterCard| a.name.cmp(&b.name);
        match self {
            Sort::Attention => {
                cards.sort_by(|a, b| b.health.cmp(&a.health).then_with(|| by_name(a, b)));
            }
            Sort::Name => cards.sort_by(by_name),
            Sort::Traffic => {
                cards.sort_by(|a, b| b.traffic.total_cmp(&a.traffic).then_with(|| by_name(a, b)));
            }
            Sort::Connections => cards.sort_by(|a, b| {
                b.connections
                    .total_cmp(&a.connections)
                    .then_with(|| by_name(a, b))
            }),
        }
    }
}

/// One cluster's summary.
#[derive(Debug)]
pub struct ClusterCard {
    pub name: String,
    pub description: String,
    pub generation: u64,
    pub services: i64,
    pub health: Health,
    pub directors: Vec<DirectorLine>,
    pub active_connections: String,
    pub connections_per_second: String,
    pub bytes_per_second: String,
    /// Bytes per second and active connections, for sorting.
    pub traffic: f64,
    pub connections: f64,
}

/// A director's state in one line.
#[derive(Debug)]
pub struct DirectorLine {
    pub name: String,
    pub health: Health,
    /// `"online"` or `"offline"`.
    pub presence: &'static str,
    /// `"in sync"`, `"unmanaged"`, `"behind"`, `"error"`, `"never seen"`.
    pub sync: &'static str,
    pub applied: String,
    pub last_seen: String,
}

/// How much attention something needs; the worst comes first on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Ok,
    Idle,
    /// Services in the kernel that the cluster does not manage yet (generation 0).
    Unmanaged,
    Behind,
    Offline,
    Error,
}

impl Health {
    /// The badge class (`app.css`).
    pub fn class(&self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Idle => "muted",
            Health::Unmanaged | Health::Behind | Health::Offline => "warn",
            Health::Error => "error",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Health::Ok => "healthy",
            Health::Idle => "no agent yet",
            Health::Unmanaged => "not managed yet",
            Health::Behind => "behind",
            Health::Offline => "offline",
            Health::Error => "error",
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let (cards, list) = listed(cards(&state).await?, raw.as_deref())?;
    let page = FleetPage {
        chrome: Chrome::new(&browser, "Fleet"),
        cards,
        list,
    };
    Ok(Html(page.render()?))
}

/// The cards alone, for the page's periodic refresh.
pub async fn live(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> UiResult<Html<String>> {
    let (cards, list) = listed(cards(&state).await?, raw.as_deref())?;
    Ok(Html(FleetCards { cards, list }.render()?))
}

/// The page of the cards the query asks for, in its order.
fn listed(
    mut cards: Vec<ClusterCard>,
    raw_query: Option<&str>,
) -> UiResult<(Vec<ClusterCard>, ListView)> {
    let sort = Sort::requested(raw_query)?;
    sort.order(&mut cards);
    let size = i64::try_from(PAGE_SIZE).unwrap_or(i64::MAX);
    let total = i64::try_from(cards.len()).unwrap_or(i64::MAX);
    let pages = paging::page_count(total, size);
    let page = paging::requested_page(raw_query, pages)?.unwrap_or(1);
    let skip = usize::try_from(page - 1).unwrap_or(0) * PAGE_SIZE;
    let cards = cards.into_iter().skip(skip).take(PAGE_SIZE).collect();
    let keep = if sort == Sort::Attention {
        Vec::new()
    } else {
        vec![("sort", sort.word().to_owned())]
    };
    let pager = Pager {
        page,
        pages,
        action: "/".to_owned(),
        keep,
    };
    Ok((cards, ListView { sort, pager }))
}

async fn cards(state: &AppState) -> UiResult<Vec<ClusterCard>> {
    let mut tx = state.db.read().await?;
    let now = now_millis();
    let mut cards = Vec::new();
    for cluster in clusters::list(&mut tx, None, None, MAX_CLUSTERS).await? {
        let mut lines: Vec<DirectorLine> =
            crate::resources::directors::of_cluster(&mut tx, &cluster, &state.agents, now)
                .await?
                .iter()
                .map(|director| director_line(director, cluster.generation(), now))
                .collect();
        lines.sort_by(|a, b| b.health.cmp(&a.health).then_with(|| a.name.cmp(&b.name)));
        let health = lines.first().map_or(Health::Idle, |l| l.health);
        let totals = state.agents.stats.cluster_totals(cluster.id);
        let value = |field: usize| totals.map_or(0.0, |t| f64::from(t.values[field]));
        cards.push(ClusterCard {
            services: services::count(&mut tx, cluster.id).await?,
            name: cluster.name,
            description: cluster.description,
            generation: cluster.generation.get(),
            health,
            directors: lines,
            active_connections: format::count(value(5)),
            connections_per_second: format::count(value(0)),
            bytes_per_second: format::bytes_rate(value(3) + value(4)),
            traffic: value(3) + value(4),
            connections: value(5),
        });
    }
    Ok(cards)
}

/// A director's line, from the same status the API reports.
pub fn director_line(director: &Director, generation: u64, now: i64) -> DirectorLine {
    let status = &director.status;
    let sync = match status.sync {
        SyncState::InSync => "in sync",
        SyncState::Unmanaged => "unmanaged",
        SyncState::Behind => "behind",
        SyncState::Error => "error",
        SyncState::NeverSeen => "never seen",
    };
    let health = match (status.sync, status.online) {
        (SyncState::NeverSeen, _) => Health::Idle,
        (SyncState::Error, _) => Health::Error,
        (_, false) => Health::Offline,
        (SyncState::Unmanaged, true) => Health::Unmanaged,
        (SyncState::Behind, true) => Health::Behind,
        (SyncState::InSync, true) => Health::Ok,
    };
    let applied = match status.applied_generation {
        Some(applied) => format!("{applied} of {generation}"),
        None => format!("none of {generation}"),
    };
    let last_seen = status
        .last_seen_ms
        .map_or_else(|| "never".to_owned(), |at| format::ago(at, now));
    DirectorLine {
        name: director.settings.name.clone(),
        health,
        presence: if status.online { "online" } else { "offline" },
        sync,
        applied,
        last_seen,
    }
}

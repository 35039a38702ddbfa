//! The fleet page: every cluster with its directors' health and traffic, problems first.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::error::UiResult;
use super::format;
use super::page::Chrome;
use super::session::Browser;
use crate::db::{clusters, director_status, directors, now_millis, services};
use crate::resources::{Director, SyncState};
use crate::state::AppState;

/// Clusters shown; a fleet is a handful of clusters, each with a handful of directors.
const MAX_CLUSTERS: i64 = 500;

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    chrome: Chrome,
    cards: Vec<ClusterCard>,
}

#[derive(Template)]
#[template(path = "fleet_cards.html")]
struct FleetCards {
    cards: Vec<ClusterCard>,
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

pub async fn page(State(state): State<AppState>, browser: Browser) -> UiResult<Html<String>> {
    let cards = cards(&state).await?;
    let page = FleetPage {
        chrome: Chrome::new(&browser, "Fleet"),
        cards,
    };
    Ok(Html(page.render()?))
}

/// The cards alone, for the page's periodic refresh.
pub async fn live(State(state): State<AppState>) -> UiResult<Html<String>> {
    let cards = cards(&state).await?;
    Ok(Html(FleetCards { cards }.render()?))
}

async fn cards(state: &AppState) -> UiResult<Vec<ClusterCard>> {
    let mut tx = state.db.read().await?;
    let now = now_millis();
    let mut cards = Vec::new();
    for cluster in clusters::list(&mut tx, None, None, MAX_CLUSTERS).await? {
        let statuses: HashMap<i64, _> = director_status::of_cluster(&mut tx, cluster.id, None)
            .await?
            .into_iter()
            .map(|s| (s.director_id, s))
            .collect();
        let mut lines: Vec<DirectorLine> = directors::list(&mut tx, cluster.id, None, None, -1)
            .await?
            .iter()
            .map(|row| {
                let status = statuses.get(&row.id);
                let director = Director::new(row, &cluster, status, &state.agents, now);
                let last_seen = status
                    .and_then(|s| s.last_seen)
                    .max(state.agents.last_seen(row.id));
                director_line(&director, cluster.generation(), last_seen, now)
            })
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
        });
    }
    cards.sort_by(|a, b| b.health.cmp(&a.health).then_with(|| a.name.cmp(&b.name)));
    Ok(cards)
}

/// A director's line, from the same status the API reports; `last_seen` in Unix ms.
pub fn director_line(
    director: &Director,
    generation: u64,
    last_seen: Option<i64>,
    now: i64,
) -> DirectorLine {
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
    let last_seen = last_seen.map_or_else(|| "never".to_owned(), |at| format::ago(at, now));
    DirectorLine {
        name: director.settings.name.clone(),
        health,
        presence: if status.online { "online" } else { "offline" },
        sync,
        applied,
        last_seen,
    }
}

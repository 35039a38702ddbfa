//! `/clusters/{cluster}/directors/{director}`: one director, and when it does not hold its
//! cluster's current generation, why and since when: what it applied and when, the changes
//! it has not applied, its last error, when it was last seen.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::changes::{change_line, ChangeLine};
use super::directors::{card, DirectorCard};
use super::error::UiResult;
use super::extract::Path;
use super::fleet::director_line;
use super::format;
use super::page::{path_segment, Chrome, Tab};
use super::session::Browser;
use crate::db::{changes, director_status, now_millis};
use crate::edit::lookup;
use crate::resources::Director;
use crate::state::AppState;

/// Changes listed as not applied; the changes page has the rest.
const UNAPPLIED_SHOWN: i64 = 20;

#[derive(Template)]
#[template(path = "director.html")]
struct DirectorPage {
    chrome: Chrome,
    cluster: String,
    generation: u64,
    director: DirectorCard,
    /// `"2026-12-08 14:02:11 UTC (3 min ago)"`, when it last reported applying.
    last_applied_at: String,
    behind: Option<Behind>,
    /// `"2026-12-08 14:02:11 UTC (6 min ago)"` while offline.
    offline_since: Option<String>,
}

/// What a director lacks of its cluster's current generation.
#[derive(Debug)]
struct Behind {
    /// How many generations it has not applied.
    count: u64,
    /// When the first of them was committed: it has been behind since.
    since: String,
    /// The newest of them.
    changes: Vec<ChangeLine>,
    /// Whether older ones are not listed.
    more_older: bool,
}

pub async fn detail(
    State(state): State<AppState>,
    Path((cluster, director)): Path<(String, String)>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &director).await?;
    let now = now_millis();
    let stored = director_status::of_cluster(&mut tx, cluster.id, Some(row.id)).await?;
    let resource = Director::new(&row, &cluster, stored.first(), &state.agents, now);
    let status = &resource.status;
    let current = cluster.generation();
    let applied = status.applied_generation.unwrap_or(0);
    let behind = if applied < current {
        let first = i64::try_from(applied + 1).unwrap_or(i64::MAX);
        let since = changes::committed_at(&mut tx, cluster.id, first).await?;
        let rows = changes::list(&mut tx, cluster.id, i64::MAX, UNAPPLIED_SHOWN).await?;
        let changes: Vec<ChangeLine> = rows
            .iter()
            .filter(|r| r.generation() > applied)
            .map(|r| change_line(r, now))
            .collect::<UiResult<_>>()?;
        let count = current - applied;
        let more_older = (changes.len() as u64) < count;
        Some(Behind {
            count,
            more_older,
            since: since.map_or_else(|| "unknown".to_owned(), |at| when(at, now)),
            changes,
        })
    } else {
        None
    };
    drop(tx);
    let line = director_line(&resource, current, now);
    let offline_since = (!status.online)
        .then_some(status.last_seen_ms)
        .flatten()
        .map(|at| when(at, now));
    let directors_href = format!("/clusters/{}/directors", path_segment(&cluster.name));
    let page = DirectorPage {
        chrome: Chrome::new(&browser, format!("Director {}", row.name))
            .in_cluster(&cluster.name, Tab::Directors)
            .crumb("Directors", directors_href),
        last_applied_at: status
            .last_report_ms
            .map_or_else(|| "never".to_owned(), |at| when(at, now)),
        director: card(&resource, line),
        cluster: cluster.name,
        generation: current,
        behind,
        offline_since,
    };
    Ok(Html(page.render()?))
}

/// `"2026-12-08 14:02:11 UTC (3 min ago)"`.
fn when(at: i64, now: i64) -> String {
    format!("{} ({})", format::utc(at), format::ago(at, now))
}

//! A generation's rollout as the pages show it: the line under the confirmation after an
//! edit and the panel on the change's page, each refreshed in place until no director is
//! left to apply it. The rule of who applied what is [`crate::resources::Rollout`]'s.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;

use super::error::UiResult;
use super::extract::Path;
use super::format;
use super::page::path_segment;
use crate::db::clusters::ClusterRow;
use crate::db::now_millis;
use crate::edit::lookup;
use crate::resources::{directors, Rollout, RolloutState};
use crate::state::AppState;

/// How often a page asks again while a director has yet to apply the generation.
const REFRESH: &str = "every 3s";

/// The panel (`_rollout.html`).
#[derive(Debug, Template)]
#[template(path = "_rollout.html")]
pub struct RolloutPanel {
    pub generation: u64,
    /// The change's page.
    pub change_href: String,
    /// Where the panel refreshes from while `live`.
    pub refresh_href: String,
    /// `None` once every director is done.
    pub refresh: Option<&'static str>,
    /// `"2 of 3 directors applied generation 7."`
    pub summary: String,
    /// One line per director not done, or done with errors.
    pub notes: Vec<String>,
    /// Every director's line, on the change's page only.
    pub rows: Option<Vec<RolloutRow>>,
    pub cluster: String,
}

/// A director's line in the panel's table.
#[derive(Debug)]
pub struct RolloutRow {
    pub director: String,
    pub state: &'static str,
    /// The badge class (`app.css`).
    pub class: &'static str,
    pub applied: String,
    pub last_seen: String,
    pub error: String,
}

/// `GET /clusters/{cluster}/changes/{generation}/rollout[?detail]`: the panel alone.
pub async fn fragment(
    State(state): State<AppState>,
    Path((cluster, generation)): Path<(String, u64)>,
    RawQuery(query): RawQuery,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let detailed = query.is_some_and(|q| q.split('&').any(|p| p == "detail"));
    let panel = panel(&mut tx, &state, &cluster, generation, detailed).await?;
    Ok(Html(panel.render()?))
}

/// The panel of `generation` of `cluster`, with the table when `detailed`.
pub async fn panel(
    conn: &mut sqlx::SqliteConnection,
    state: &AppState,
    cluster: &ClusterRow,
    generation: u64,
    detailed: bool,
) -> UiResult<RolloutPanel> {
    let now = now_millis();
    let directors = directors::of_cluster(conn, cluster, &state.agents, now).await?;
    let rollout = Rollout::new(generation, &directors);
    let change_href = format!(
        "/clusters/{}/changes/{generation}",
        path_segment(&cluster.name)
    );
    let refresh_href = if detailed {
        format!("{change_href}/rollout?detail")
    } else {
        format!("{change_href}/rollout")
    };
    Ok(RolloutPanel {
        generation,
        refresh: (!rollout.counts.complete()).then_some(REFRESH),
        summary: summary(&rollout),
        notes: rollout
            .by_director
            .iter()
            .filter_map(|d| note(d, now))
            .collect(),
        rows: detailed.then(|| rows(&rollout, now)),
        change_href,
        refresh_href,
        cluster: cluster.name.clone(),
    })
}

fn summary(rollout: &Rollout) -> String {
    let counts = &rollout.counts;
    let generation = rollout.generation;
    match counts.directors {
        0 => "The cluster has no directors yet: none applies it.".to_owned(),
        n if counts.applied == n => {
            let all = if n == 1 {
                "its director"
            } else {
                "all its directors"
            };
            format!("Applied by {all} ({n} of {n}).")
        }
        n => format!(
            "{} of {n} director{} applied generation {generation}.",
            counts.applied,
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// Why a director has not (cleanly) applied it: `"lb3 offline since 14:02:11 UTC (last seen
/// 6 min ago)"`.
fn note(d: &crate::resources::DirectorRollout, now: i64) -> Option<String> {
    let name = &d.director;
    let at = |generation: Option<u64>| {
        generation.map_or_else(
            || "has applied none yet".to_owned(),
            |g| format!("at generation {g}"),
        )
    };
    let seen = d.last_seen_ms.map_or_else(
        || "never seen".to_owned(),
        |ms| format!("last seen {}", format::ago(ms, now)),
    );
    let error = d
        .error
        .as_ref()
        .map(|e| format!("; its last report failed: {e}"))
        .unwrap_or_default();
    Some(match d.state {
        RolloutState::Applied => return None,
        RolloutState::Failed => format!("{name} applied it with errors{error}"),
        RolloutState::Pending => {
            format!(
                "{name} applying ({}, {seen}){error}",
                at(d.applied_generation)
            )
        }
        RolloutState::Offline => {
            let since = d.last_seen_ms.map(format::utc).unwrap_or_default();
            format!(
                "{name} offline since {since} ({seen}, {}){error}",
                at(d.applied_generation)
            )
        }
        RolloutState::NeverSeen => format!("{name} never seen: its agent has not connected yet"),
    })
}

fn rows(rollout: &Rollout, now: i64) -> Vec<RolloutRow> {
    rollout
        .by_director
        .iter()
        .map(|d| {
            let (state, class) = match d.state {
                RolloutState::Applied => ("applied", "ok"),
                RolloutState::Failed => ("applied with errors", "error"),
                RolloutState::Pending => ("applying", "warn"),
                RolloutState::Offline => ("offline", "warn"),
                RolloutState::NeverSeen => ("never seen", "muted"),
            };
            RolloutRow {
                director: d.director.clone(),
                state,
                class,
                applied: d
                    .applied_generation
                    .map_or_else(|| "none".to_owned(), |g| g.to_string()),
                last_seen: d
                    .last_seen_ms
                    .map_or_else(|| "never".to_owned(), |ms| format::ago(ms, now)),
                error: d.error.clone().unwrap_or_default(),
            }
        })
        .collect()
}

//! A cluster's change history: its generations, newest first, each with what it changed.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use lvs_model::DiffSummary;

use super::diff_view::{self, DiffLine};
use super::error::{UiError, UiResult};
use super::extract::Path;
use super::format;
use super::page::{path_segment, Chrome, Tab};
use super::paging;
use super::rollout;
use super::session::Browser;
use crate::db::changes::{self, ChangeRow};
use crate::edit::lookup;
use crate::resources::{directors, Rollout};
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    chrome: Chrome,
    cluster: String,
    generation: u64,
    changes: Vec<ChangeLine>,
    /// The `before` of the next (older) page.
    older: Option<u64>,
    first_page: bool,
    pager: paging::Pager,
}

/// A generation in the list.
#[derive(Debug)]
pub struct ChangeLine {
    pub generation: u64,
    pub when: String,
    pub ago: String,
    pub source: String,
    /// Who made it (`alice`, `ci (token deploy)`); "unrecorded" for older changes.
    pub by: String,
    /// The client's address, when known.
    pub client: Option<String>,
    pub summary: String,
    /// `"2 of 3 directors"`, on the list.
    pub rollout: Option<String>,
}

#[derive(Template)]
#[template(path = "change.html")]
struct ChangePage {
    chrome: Chrome,
    change: ChangeLine,
    lines: Vec<DiffLine>,
    /// Which directors applied it (`_rollout.html`), rendered.
    rollout: String,
    truncated: bool,
    /// The plan of reverting to this generation; none for the current one.
    revert_href: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let total = changes::count_before(&mut tx, cluster.id, i64::MAX).await?;
    let before = match paging::requested_page(raw.as_deref(), paging::page_count(total, PAGE_SIZE))?
    {
        Some(page) if page > 1 => {
            changes::generation_at(&mut tx, cluster.id, (page - 1) * PAGE_SIZE - 1).await?
        }
        Some(_) => None,
        None => paging::before_cursor(raw.as_deref()),
    };
    let remaining = match before {
        Some(before) => changes::count_before(&mut tx, cluster.id, before).await?,
        None => total,
    };
    let mut rows = changes::list(
        &mut tx,
        cluster.id,
        before.unwrap_or(i64::MAX),
        PAGE_SIZE + 1,
    )
    .await?;
    let now = crate::db::now_millis();
    let directors = directors::of_cluster(&mut tx, &cluster, &state.agents, now).await?;
    drop(tx);
    let older = paging::older_cursor(&mut rows, PAGE_SIZE, ChangeRow::generation);
    let changes = rows
        .iter()
        .map(|row| {
            let mut line = change_line(row, now)?;
            let counts = Rollout::new(row.generation(), &directors).counts;
            line.rollout = (counts.directors > 0)
                .then(|| format!("{} of {} directors", counts.applied, counts.directors));
            Ok(line)
        })
        .collect::<UiResult<_>>()?;
    let cluster_name = cluster.name.clone();
    let page = ChangesPage {
        chrome: Chrome::new(&browser, "Changes").in_cluster(&cluster.name, Tab::Changes),
        cluster: cluster.name,
        generation: cluster.generation.get(),
        changes,
        older,
        first_page: before.is_none(),
        pager: paging::Pager::history(
            total,
            remaining,
            PAGE_SIZE,
            format!("/clusters/{}/changes", path_segment(&cluster_name)),
        ),
    };
    Ok(Html(page.render()?))
}

pub async fn detail(
    State(state): State<AppState>,
    Path((cluster, generation)): Path<(String, i64)>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let Some((row, diff)) = changes::get(&mut tx, cluster.id, generation).await? else {
        return Err(UiError::NotFound(format!(
            "Cluster {} has no generation {generation} in its history.",
            cluster.name
        )));
    };
    let generation = row.generation();
    let rollout = rollout::panel(&mut tx, &state, &cluster, generation, true).await?;
    drop(tx);
    let diff: serde_json::Value = serde_json::from_str(&diff)
        .map_err(|e| UiError::Internal(anyhow::Error::new(e).context("stored diff")))?;
    let changes_href = format!("/clusters/{}/changes", path_segment(&cluster.name));
    let revert_href = (row.generation() != cluster.generation.get())
        .then(|| format!("{changes_href}/{generation}/revert"));
    let page = ChangePage {
        chrome: Chrome::new(&browser, format!("Generation {generation}"))
            .in_cluster(&cluster.name, Tab::Changes)
            .crumb("Changes", changes_href),
        change: change_line(&row, crate::db::now_millis())?,
        lines: diff_view::lines(&diff),
        rollout: rollout.render()?,
        truncated: row.truncated,
        revert_href,
    };
    Ok(Html(page.render()?))
}

pub(super) fn change_line(row: &ChangeRow, now: i64) -> UiResult<ChangeLine> {
    Ok(ChangeLine {
        generation: row.generation(),
        when: format::utc(row.committed_at),
        ago: format::ago(row.committed_at, now),
        source: format::source(row.source).to_owned(),
        by: row
            .author
            .as_ref()
            .map_or_else(|| "unrecorded".to_owned(), |a| a.actor.to_string()),
        client: row.author.as_ref().and_then(|a| a.client.clone()),
        summary: summary_text(&row.summary()?),
        rollout: None,
    })
}

/// `"2 real servers changed, 1 service added"`.
pub fn summary_text(summary: &DiffSummary) -> String {
    let parts = [
        (summary.services_added, "service", "added"),
        (summary.services_removed, "service", "removed"),
        (summary.services_changed, "service", "changed"),
        (summary.real_servers_added, "real server", "added"),
        (summary.real_servers_removed, "real server", "removed"),
        (summary.real_servers_changed, "real server", "changed"),
    ];
    let mut text: Vec<String> = parts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, what, how)| {
            let plural = if *n == 1 { "" } else { "s" };
            format!("{n} {what}{plural} {how}")
        })
        .collect();
    if summary.timeouts_changed {
        text.push("timeouts changed".to_owned());
    }
    if summary.host_changed {
        text.push("host settings changed".to_owned());
    }
    if text.is_empty() {
        "no change".to_owned()
    } else {
        text.join(", ")
    }
}

//! A cluster's health events: real servers going down and up on each director, newest
//! first, a page at a time.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;
use lvs_model::Health;

use super::error::UiResult;
use super::extract::Path;
use super::format;
use super::page::{path_segment, Chrome, Tab};
use super::paging;
use super::session::Browser;
use crate::db::health_events::{self, EventRow};
use crate::edit::lookup;
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "health_events.html")]
struct HealthEventsPage {
    chrome: Chrome,
    cluster: String,
    events: Vec<EventLine>,
    /// The `before` of the next (older) page.
    older: Option<i64>,
    first_page: bool,
    pager: paging::Pager,
}

#[derive(Debug)]
struct EventLine {
    when: String,
    ago: String,
    director: String,
    service: String,
    real_server: String,
    up: bool,
    reason: String,
}

pub async fn page(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let total = health_events::count_before(&mut tx, cluster.id, i64::MAX).await?;
    let pages = paging::page_count(total, PAGE_SIZE);
    let before = match paging::requested_page(raw.as_deref(), pages)? {
        Some(page) if page > 1 => {
            health_events::id_at(&mut tx, cluster.id, (page - 1) * PAGE_SIZE - 1).await?
        }
        Some(_) => None,
        None => paging::before_cursor(raw.as_deref()),
    };
    let remaining = match before {
        Some(before) => health_events::count_before(&mut tx, cluster.id, before).await?,
        None => total,
    };
    let before_id = before.unwrap_or(i64::MAX);
    let mut rows = health_events::list(&mut tx, cluster.id, None, before_id, PAGE_SIZE + 1).await?;
    drop(tx);
    let older = paging::older_cursor(&mut rows, PAGE_SIZE, |row| row.id);
    let now = crate::db::now_millis();
    let pager = paging::Pager::history(
        total,
        remaining,
        PAGE_SIZE,
        format!("/clusters/{}/health-events", path_segment(&cluster.name)),
    );
    let page = HealthEventsPage {
        chrome: Chrome::new(&browser, "Health events").in_cluster(&cluster.name, Tab::Health),
        cluster: cluster.name,
        events: rows.into_iter().map(|row| line(row, now)).collect(),
        older,
        first_page: before.is_none(),
        pager,
    };
    Ok(Html(page.render()?))
}

fn line(row: EventRow, now: i64) -> EventLine {
    EventLine {
        when: format::utc(row.at),
        ago: format::ago(row.at, now),
        director: row.director,
        service: row.service_key,
        real_server: row.real_server,
        up: row.health == Health::Up,
        reason: row.reason.unwrap_or_default(),
    }
}

//! The audit log for admins: every change, sign-in (and failed one), sign-out, user and
//! token change, newest first, filtered by actor and by day.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Html;

use super::error::UiResult;
use super::form::FormState;
use super::format;
use super::page::{path_segment, Chrome};
use super::session::Browser;
use crate::db::audit::{self, Actor, Entry, Filter};
use crate::state::AppState;

const PAGE_SIZE: i64 = 100;
const DAY_MS: i64 = 86_400_000;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    form: FormState,
    entries: Vec<Line>,
    /// The query of the next (older) page: the filter and its cursor.
    older: Option<String>,
    /// The query of the first page of this filter, when this is not it.
    newest: Option<String>,
}

#[derive(Debug)]
struct Line {
    when: String,
    ago: String,
    actor: String,
    source: String,
    client: String,
    action: String,
    target: String,
    /// The change it made, when it made one: its page.
    change: Option<(String, String)>,
    detail: String,
}

pub async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Html<String>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let mut form = FormState::from_pairs(pairs);
    let filter = filter(&mut form);
    let (entries, older) = match filter {
        Some(filter) => {
            let mut tx = state.db.read().await?;
            let mut rows = audit::list(&mut tx, &filter, PAGE_SIZE + 1).await?;
            drop(tx);
            let older = super::paging::older_cursor(&mut rows, PAGE_SIZE, |row| row.id);
            let now = crate::db::now_millis();
            let lines = rows.into_iter().map(|row| line(row, now)).collect();
            (lines, older.map(|before| query(&form, Some(before))))
        }
        None => (Vec::new(), None),
    };
    let newest = form.text("before").map(|_| query(&form, None));
    let page = AuditPage {
        chrome: Chrome::new(&browser, "Audit log"),
        form,
        entries,
        older,
        newest,
    };
    Ok(Html(page.render()?))
}

/// The filter the form asks for; `None` when a field is wrong (marked on the form).
fn filter(form: &mut FormState) -> Option<Filter> {
    let since = day(form, "since");
    let until = day(form, "until").map(|start| start + DAY_MS);
    let before = match form.text("before") {
        Some(text) => match text.parse::<i64>() {
            Ok(before) => Some(before),
            Err(_) => {
                form.invalid("before", "not a page of this log: start from the newest");
                None
            }
        },
        None => None,
    };
    if form.has_errors() {
        return None;
    }
    Some(Filter {
        actor: form
            .text("actor")
            .map(|actor| actor.trim().to_owned())
            .filter(|actor| !actor.is_empty()),
        since,
        until,
        before,
    })
}

/// The start (Unix ms, UTC) of the day in field `name`, a `YYYY-MM-DD` date.
fn day(form: &mut FormState, name: &str) -> Option<i64> {
    let text = form.text(name)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(&text, &format) {
        Ok(date) => Some(date.midnight().assume_utc().unix_timestamp() * 1000),
        Err(_) => {
            form.invalid(name, format!("{text:?} is not a date such as 2026-12-31"));
            None
        }
    }
}

/// The page's query string for this filter, at `before` (or the newest).
fn query(form: &FormState, before: Option<i64>) -> String {
    let mut pairs: Vec<(&str, String)> = ["actor", "since", "until"]
        .into_iter()
        .filter_map(|name| form.text(name).map(|value| (name, value)))
        .collect();
    if let Some(before) = before {
        pairs.push(("before", before.to_string()));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn line(entry: Entry, now: i64) -> Line {
    let change = match (&entry.cluster, entry.generation) {
        (Some(cluster), Some(generation)) if entry.action == "change" => Some((
            format!("/clusters/{}/changes/{generation}", path_segment(cluster)),
            format!("{cluster} generation {generation}"),
        )),
        _ => None,
    };
    // Stored words another version may not know are shown as they are.
    let actor = match entry.actor_kind.parse() {
        Ok(kind) => Actor {
            kind,
            name: entry.actor.clone(),
            token: entry.token.clone(),
        }
        .to_string(),
        Err(_) => entry.actor.clone(),
    };
    let source = match entry.source.parse() {
        Ok(source) => format::source(source).to_owned(),
        Err(_) => entry.source.clone(),
    };
    Line {
        when: format::utc(entry.at),
        ago: format::ago(entry.at, now),
        actor,
        source,
        client: entry.client.unwrap_or_default(),
        action: entry.action.replace('_', " "),
        target: entry.target,
        change,
        detail: entry.detail,
    }
}

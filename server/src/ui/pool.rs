//! Bulk edit of a service's pool with a plan: edit every real server as text, see the diff
//! the change will cause, then confirm. The confirmation applies exactly the planned pool,
//! and only if nobody changed the pool in between; otherwise the plan is shown again.
//! The text carries the generation it was loaded at: when someone changed the pool since,
//! the text is merged with their change (`pool_merge`), and a line of it that would undo
//! theirs applies only when explicitly ticked.

use super::extract::Caller;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_model::spec::RealServerSpec;
use lvs_model::{Diff, DiffSpec};

use super::changes::summary_text;
use super::diff_view::{self, DiffLine};
use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::page::{path_segment, Chrome, Tab};
use super::pool_merge::{self, MergeView, USE_MINE};
use super::pool_text;
use super::service_view;
use super::session::{redirect_committed, redirect_with, Browser, FlashKind};
use crate::edit::EditError;
use crate::edit::{self, pools::PoolPlan, IfMatch};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pool.html")]
struct PoolPage {
    chrome: Chrome,
    base: String,
    key: String,
    text: String,
    /// Problems with the text, one per line.
    errors: Vec<String>,
    plan: Option<Plan>,
    /// The pool changed since the plan the user confirmed.
    replanned: bool,
    /// The generation the text was loaded at, which its forms carry on.
    generation: Option<u64>,
    /// What others changed since, merged into the plan.
    merge: Option<MergeView>,
}

/// A computed plan, ready to confirm.
#[derive(Debug)]
pub struct Plan {
    pub summary: String,
    pub lines: Vec<DiffLine>,
    pub pool_etag: String,
}

pub async fn form(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
) -> UiResult<Response> {
    // One read for the text and its generation, so they agree.
    let since = edit::since::service(&state, &cluster, id, u64::MAX).await?;
    let pool: Vec<RealServerSpec> = since
        .current
        .real_servers()
        .map(RealServerSpec::from)
        .collect();
    let key = since.current.key().to_string();
    let page = PoolPage::new(
        &browser,
        &since.cluster,
        id,
        &key,
        &pool_text::format(&pool),
    );
    PoolPage {
        generation: Some(since.generation),
        ..page
    }
    .respond(StatusCode::OK)
}

/// Computes the plan of the submitted text, changing nothing.
pub async fn plan(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    run(&state, &browser, &caller, &cluster, id, &form, None).await
}

/// Applies the confirmed plan.
pub async fn apply(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let planned = form.value("pool_etag").to_owned();
    run(
        &state,
        &browser,
        &caller,
        &cluster,
        id,
        &form,
        Some(planned),
    )
    .await
}

/// Plans (`planned` is `None`) or applies the pool in the form's text, merged with what
/// others changed since the form's generation.
async fn run(
    state: &AppState,
    browser: &Browser,
    caller: &Caller,
    cluster: &str,
    id: i64,
    form: &FormState,
    planned: Option<String>,
) -> UiResult<Response> {
    let text = form.value("pool");
    let from = form.value("generation").parse::<u64>().ok();
    let view = service_view::load(state, cluster, id).await?;
    let page = PoolPage {
        generation: from,
        ..PoolPage::new(browser, &view.cluster, id, &view.key, text)
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let lines = match pool_text::parse(text) {
        Ok(lines) => lines,
        Err(errors) => {
            let errors = errors
                .iter()
                .map(|e| format!("Line {}: {}", e.line, e.message))
                .collect();
            return PoolPage { errors, ..page }.respond(unprocessable);
        }
    };
    let mine: Vec<RealServerSpec> = lines.iter().map(|(_, spec)| spec.clone()).collect();
    let (specs, merge) = merged(state, cluster, id, from, &mine, form.values(USE_MINE)).await?;
    let page = PoolPage { merge, ..page };
    let dry_run = planned.is_none();
    let if_match = IfMatch::new(planned);
    let result = edit::pools::replace(
        state,
        cluster,
        id,
        &specs,
        &if_match,
        dry_run,
        &caller.author,
    )
    .await;
    match result {
        Ok(PoolPlan {
            applied: true,
            diff,
            ..
        }) => {
            let summary = summary_text(&diff.summary());
            let text = format!("pool of {} updated: {summary}.", view.key);
            let generation = Some(diff.to_generation);
            Ok(redirect_committed(&page.base, cluster, generation, &text))
        }
        Ok(PoolPlan {
            diff, pool_etag, ..
        }) => {
            if !dry_run {
                let text = format!(
                    "Nothing to change: the pool of {} already matches.",
                    view.key
                );
                return Ok(redirect_with(&page.base, FlashKind::Ok, &text));
            }
            let plan = Some(Plan::of(&diff, pool_etag));
            PoolPage { plan, ..page }.respond(StatusCode::OK)
        }
        Err(EditError::Invalid(errors)) => {
            // A merged pool is not the text's lines: name each server by its address.
            let numbered: Vec<(usize, RealServerSpec)> = match page.merge {
                None => lines,
                Some(_) => specs.iter().cloned().map(|spec| (0, spec)).collect(),
            };
            let errors = errors
                .errors()
                .iter()
                .map(|e| line_error(&numbered, &e.field, &e.message))
                .collect();
            PoolPage { errors, ..page }.respond(unprocessable)
        }
        Err(EditError::PreconditionFailed(_)) => {
            // Someone changed the pool after the plan was made: plan again against it,
            // merged anew, with no line of mine over theirs until it is ticked again.
            let (specs, merge) = merged(state, cluster, id, from, &mine, &[]).await?;
            let replan = edit::pools::replace(
                state,
                cluster,
                id,
                &specs,
                &IfMatch::new(None),
                true,
                &caller.author,
            )
            .await?;
            let plan = Some(Plan::of(&replan.diff, replan.pool_etag));
            let page = PoolPage {
                plan,
                replanned: true,
                merge,
                ..page
            };
            page.respond(StatusCode::CONFLICT)
        }
        Err(error) => Err(error.into()),
    }
}

/// The pool to plan: `mine` as submitted when nobody changed the pool since generation
/// `from` (or the form does not say), else merged with their change, mine over theirs
/// only at the lines `ticked`.
async fn merged(
    state: &AppState,
    cluster: &str,
    id: i64,
    from: Option<u64>,
    mine: &[RealServerSpec],
    ticked: &[String],
) -> UiResult<(Vec<RealServerSpec>, Option<MergeView>)> {
    let Some(from) = from else {
        return Ok((mine.to_vec(), None));
    };
    let since = edit::since::service(state, cluster, id, from).await?;
    if since.unchanged() {
        return Ok((mine.to_vec(), None));
    }
    Ok(match pool_merge::resolve(&since, mine, ticked) {
        Some((pool, view)) => (pool, Some(view)),
        // A line that does not read: planning the text as it is names it.
        None => (mine.to_vec(), None),
    })
}

impl Plan {
    fn of(diff: &Diff, pool_etag: String) -> Plan {
        let json = serde_json::to_value(DiffSpec::from(diff)).unwrap_or_default();
        Plan {
            summary: summary_text(&diff.summary()),
            lines: diff_view::lines(&json),
            pool_etag,
        }
    }
}

/// `real_servers[2].weight` of the model -> `Line 5 (10.1.0.3:80): weight: ...`.
fn line_error(lines: &[(usize, RealServerSpec)], field: &str, message: &str) -> String {
    let index = field
        .strip_prefix("real_servers[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest.trim_start_matches('.'))));
    match index.and_then(|(i, rest)| Some((lines.get(i)?, rest))) {
        Some(((0, spec), rest)) => format!(
            "{}: {}{message}",
            spec.address.as_deref().unwrap_or("?"),
            if rest.is_empty() {
                String::new()
            } else {
                format!("{rest}: ")
            }
        ),
        Some(((line, spec), "")) => {
            format!(
                "Line {line} ({}): {message}",
                spec.address.as_deref().unwrap_or("?")
            )
        }
        Some(((line, spec), rest)) => format!(
            "Line {line} ({}): {rest}: {message}",
            spec.address.as_deref().unwrap_or("?")
        ),
        None => format!("{field}: {message}"),
    }
}

impl PoolPage {
    /// How many lines of the text would undo someone's change.
    fn marked_count(&self) -> usize {
        self.merge.as_ref().map_or(0, |m| m.marked.len())
    }

    /// The editor for the pool of `key` holding `text`, without errors or plan.
    fn new(browser: &Browser, cluster: &str, id: i64, key: &str, text: &str) -> PoolPage {
        let base = format!("/clusters/{}/services/{id}", path_segment(cluster));
        PoolPage {
            chrome: Chrome::new(browser, "Bulk edit")
                .in_cluster(cluster, Tab::Services)
                .crumb(key.to_owned(), base.clone()),
            base,
            key: key.to_owned(),
            text: text.to_owned(),
            errors: Vec::new(),
            plan: None,
            replanned: false,
            generation: None,
            merge: None,
        }
    }

    fn respond(self, status: StatusCode) -> UiResult<Response> {
        Ok((status, Html(self.render()?)).into_response())
    }
}

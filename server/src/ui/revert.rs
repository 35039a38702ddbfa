//! "Revert to this" on the Changes pages: a cluster's desired state returned to that of an
//! older generation, as a new generation. The plan (a dry run) comes first; confirming it
//! applies the revert only if the cluster is still at the generation the plan was made
//! against, otherwise the plan is made again and shown.

use super::extract::Caller;
use crate::edit::Author;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_model::{Diff, DiffSpec};

use super::changes::summary_text;
use super::diff_view::{self, DiffLine};
use super::error::{UiError, UiResult};
use super::extract::{Form, Path};
use super::form::FormState;
use super::page::{path_segment, Chrome, Tab};
use super::session::{redirect_with, Browser, FlashKind};
use crate::edit::{self, EditError, IfMatch};
use crate::resources::generation_etag;
use crate::state::AppState;

/// The form field carrying the generation the plan was made against.
const PLANNED_FIELD: &str = "from_generation";

#[derive(Template)]
#[template(path = "revert.html")]
struct RevertPage {
    chrome: Chrome,
    cluster: String,
    to: u64,
    /// The change page of generation `to`.
    target_href: String,
    changes_href: String,
    /// Where the confirmation posts.
    action: String,
    plan: Option<Plan>,
    /// Why generation `to` cannot be reverted to, instead of a plan.
    refusal: Option<String>,
    /// Why the submitted confirmation was not applied, shown above the plan.
    problem: Option<String>,
    /// The cluster changed since the plan the user confirmed.
    replanned: bool,
}

/// A revert's dry run, ready to confirm.
#[derive(Debug)]
struct Plan {
    /// The generation the plan was made against, and the one applying it would make.
    from: u64,
    next: u64,
    summary: String,
    lines: Vec<DiffLine>,
    /// The desired state already equals generation `to`'s.
    empty: bool,
}

/// What the page says above the plan.
enum Notice {
    None,
    Replanned,
    Problem(String),
}

/// The plan of reverting to generation `generation`, with the button that applies it.
pub async fn plan(
    State(state): State<AppState>,
    Path((cluster, generation)): Path<(String, String)>,
    browser: Browser,
    caller: Caller,
) -> UiResult<Response> {
    let to = target(&generation)?;
    let (author, ok) = (&caller.author, StatusCode::OK);
    show(&state, &browser, author, &cluster, to, Notice::None, ok).await
}

/// Applies the confirmed plan, if the cluster is still at the plan's generation.
pub async fn apply(
    State(state): State<AppState>,
    Path((cluster, generation)): Path<(String, String)>,
    browser: Browser,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    let to = target(&generation)?;
    let form = FormState::from_pairs(pairs);
    let planned = match planned_generation(&form) {
        Ok(planned) => planned,
        Err(problem) => {
            let notice = Notice::Problem(problem);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(
                &state,
                &browser,
                &caller.author,
                &cluster,
                to,
                notice,
                status,
            )
            .await;
        }
    };
    let if_match = IfMatch::from_etag(generation_etag(planned));
    match edit::revert::revert(&state, &cluster, to, false, &if_match, &caller.author).await {
        Ok(diff) if diff.is_empty() => {
            // Only a hand-made POST gets here: the page offers no button for an empty plan.
            let text =
                format!("Nothing to revert: the desired state already equals generation {to}'s.");
            Ok(redirect_with(&changes_href(&cluster), FlashKind::Ok, &text))
        }
        Ok(diff) => {
            let now = diff.to_generation;
            // To the new generation's page, which follows its rollout itself.
            let text = format!("Generation {now}: reverted to generation {to}'s desired state.");
            let location = format!("{}/{now}", changes_href(&cluster));
            Ok(redirect_with(&location, FlashKind::Ok, &text))
        }
        Err(EditError::PreconditionFailed(_)) => {
            let status = StatusCode::CONFLICT;
            show(
                &state,
                &browser,
                &caller.author,
                &cluster,
                to,
                Notice::Replanned,
                status,
            )
            .await
        }
        Err(error) => RevertPage::new(&browser, &cluster, to).refused(error, Notice::None),
    }
}

/// The page with the dry run of reverting `cluster` to `to` against its state now.
async fn show(
    state: &AppState,
    browser: &Browser,
    author: &Author,
    cluster: &str,
    to: u64,
    notice: Notice,
    status: StatusCode,
) -> UiResult<Response> {
    let page = RevertPage::new(browser, cluster, to);
    let no_precondition = IfMatch::new(None);
    match edit::revert::revert(state, cluster, to, true, &no_precondition, author).await {
        Ok(diff) => RevertPage {
            plan: Some(Plan::of(&diff)),
            ..page.with(notice)
        }
        .respond(status),
        Err(error) => page.refused(error, notice),
    }
}

/// The generation of the address, which names field `to` as the REST API does.
fn target(text: &str) -> UiResult<u64> {
    text.parse().map_err(|_| {
        UiError::Status(
            StatusCode::BAD_REQUEST,
            format!("to: the generation to revert to must be a whole number, not {text:?}."),
        )
    })
}

/// The form's `from_generation`, or what is wrong with it, naming it.
fn planned_generation(form: &FormState) -> Result<u64, String> {
    let text = form.value(PLANNED_FIELD);
    if text.is_empty() {
        return Err(format!(
            "{PLANNED_FIELD}: missing: the form carries the generation its plan was made \
             against."
        ));
    }
    text.parse()
        .map_err(|_| format!("{PLANNED_FIELD}: must be a whole number, not {text:?}."))
}

fn changes_href(cluster: &str) -> String {
    format!("/clusters/{}/changes", path_segment(cluster))
}

/// `text`, ending as a sentence; the field it starts with is kept as the API names it.
fn with_period(text: String) -> String {
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

impl Plan {
    fn of(diff: &Diff) -> Plan {
        let json = serde_json::to_value(DiffSpec::from(diff)).unwrap_or_default();
        Plan {
            from: diff.from_generation,
            next: diff.to_generation,
            summary: summary_text(&diff.summary()),
            lines: diff_view::lines(&json),
            empty: diff.is_empty(),
        }
    }
}

impl RevertPage {
    /// The page for reverting `cluster` to `to`, without plan or messages.
    fn new(browser: &Browser, cluster: &str, to: u64) -> RevertPage {
        let changes_href = changes_href(cluster);
        let target_href = format!("{changes_href}/{to}");
        RevertPage {
            chrome: Chrome::new(browser, format!("Revert to generation {to}"))
                .in_cluster(cluster, Tab::Changes)
                .crumb("Changes", changes_href.clone())
                .crumb(format!("Generation {to}"), target_href.clone()),
            cluster: cluster.to_owned(),
            to,
            action: format!("{target_href}/revert"),
            target_href,
            changes_href,
            plan: None,
            refusal: None,
            problem: None,
            replanned: false,
        }
    }

    fn with(self, notice: Notice) -> RevertPage {
        match notice {
            Notice::None => self,
            Notice::Replanned => RevertPage {
                replanned: true,
                ..self
            },
            Notice::Problem(problem) => RevertPage {
                problem: Some(problem),
                ..self
            },
        }
    }

    /// The page saying why generation `to` cannot be reverted to: a validation or
    /// conflict message; other errors (an unknown cluster, the server's) are returned.
    fn refused(self, error: EditError, notice: Notice) -> UiResult<Response> {
        let (status, reason) = match error {
            EditError::Invalid(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors.to_string()),
            EditError::Conflict { detail, .. } => (StatusCode::CONFLICT, detail),
            other => return Err(other.into()),
        };
        RevertPage {
            refusal: Some(with_period(reason)),
            ..self.with(notice)
        }
        .respond(status)
    }

    fn respond(self, status: StatusCode) -> UiResult<Response> {
        Ok((status, Html(self.render()?)).into_response())
    }
}

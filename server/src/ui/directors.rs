//! A cluster's directors: their agents' status, versions, errors and drift repairs; adding
//! one (its agent token is shown once, with the command to run on the host), rotating a
//! token, removing a director.

use super::extract::Caller;

use askama::Template;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lvs_model::spec::DirectorSpec;

use super::error::UiResult;
use super::extract::{Form, Path};
use super::fleet::{director_line, DirectorLine};
use super::form::FormState;
use super::page::{path_segment, Chrome, ConfirmPage, Tab};
use super::session::{redirect_with, refused, Browser, FlashKind};
use crate::db::now_millis;
use crate::edit::lookup;
use crate::edit::{self, IfMatch};
use crate::resources::{director_etag, Director, SyncState};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "directors.html")]
struct DirectorsPage {
    chrome: Chrome,
    cluster: String,
    generation: u64,
    directors: Vec<DirectorCard>,
    form: FormState,
}

/// One director with everything its agent reported.
#[derive(Debug)]
pub struct DirectorCard {
    pub line: DirectorLine,
    pub description: String,
    pub agent_version: String,
    pub kernel_version: String,
    pub has_token: bool,
    pub last_errors: Vec<(String, String)>,
    pub last_errors_at: String,
    pub drift: Vec<(String, String, String)>,
    pub unmanaged_services: u64,
    /// Whether the director's health-check engine stopped producing results.
    pub checker_stalled: bool,
}

#[derive(Template)]
#[template(path = "token.html")]
struct TokenPage {
    chrome: Chrome,
    cluster: String,
    director: String,
    token: String,
    server: String,
    rotated: bool,
}

pub async fn page(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    browser: Browser,
) -> UiResult<Response> {
    render(
        &state,
        &browser,
        &cluster,
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    browser: &Browser,
    cluster: &str,
    form: FormState,
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let now = now_millis();
    let found =
        crate::resources::directors::of_cluster(&mut tx, &cluster, &state.agents, now).await?;
    drop(tx);
    let mut cards: Vec<DirectorCard> = found
        .iter()
        .map(|director| card(director, director_line(director, cluster.generation(), now)))
        .collect();
    cards.sort_by(|a, b| {
        b.line
            .health
            .cmp(&a.line.health)
            .then_with(|| a.line.name.cmp(&b.line.name))
    });
    let page = DirectorsPage {
        chrome: Chrome::new(browser, "Directors").in_cluster(&cluster.name, Tab::Directors),
        cluster: cluster.name,
        generation: cluster.generation.get(),
        directors: cards,
        form,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub(super) fn card(director: &Director, line: DirectorLine) -> DirectorCard {
    let status = &director.status;
    let when = |text: &Option<String>| text.clone().unwrap_or_default();
    DirectorCard {
        line,
        description: director.settings.description.clone(),
        agent_version: when(&status.agent_version),
        kernel_version: when(&status.kernel_version),
        has_token: director.token_created_at.is_some(),
        last_errors: status
            .last_errors
            .iter()
            .map(|e| {
                let error = e.error.clone().unwrap_or_default();
                (format!("{} {}", e.action, e.object), error)
            })
            .collect(),
        last_errors_at: when(&status.last_errors_at),
        drift: status
            .drift_repaired
            .iter()
            .map(|d| (d.repaired_at.clone(), d.object.clone(), d.found.clone()))
            .collect(),
        // Only while they are what keeps it from being in sync (generation 0): after an
        // import they are managed, whatever the last report said.
        unmanaged_services: if status.sync == SyncState::Unmanaged {
            status.unmanaged_services
        } else {
            0
        },
        checker_stalled: status.health_checker.as_ref().is_some_and(|c| c.stalled),
    }
}

/// Adds a director and shows its first agent token.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    browser: Browser,
    headers: HeaderMap,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = DirectorSpec {
        name: form.text("name"),
        description: form.value("description").to_owned(),
    };
    match edit::directors::create(&state, &cluster, &spec, &caller.author).await {
        Ok(row) => {
            let token = edit::tokens::create(&state, &cluster, &row.name, &caller.author)
                .await?
                .token;
            token_page(&browser, &headers, &cluster, &row.name, token, false)
        }
        Err(error) => {
            form.refused(error, &["name", "description"])?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &browser, &cluster, form, status).await
        }
    }
}

/// A new token for a director; its agent's old token stops working at once.
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, director)): Path<(String, String)>,
    browser: Browser,
    headers: HeaderMap,
) -> UiResult<Response> {
    let token = edit::tokens::create(&state, &cluster, &director, &caller.author)
        .await?
        .token;
    token_page(&browser, &headers, &cluster, &director, token, true)
}

fn token_page(
    browser: &Browser,
    headers: &HeaderMap,
    cluster: &str,
    director: &str,
    token: String,
    rotated: bool,
) -> UiResult<Response> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8080");
    let page = TokenPage {
        chrome: Chrome::new(browser, format!("Agent token for {director}"))
            .in_cluster(cluster, Tab::Directors),
        cluster: cluster.to_owned(),
        director: director.to_owned(),
        token,
        server: format!("http://{host}"),
        rotated,
    };
    // The token is shown once: nothing may keep a copy of this page.
    let no_store = [(axum::http::header::CACHE_CONTROL, "no-store")];
    Ok((no_store, Html(page.render()?)).into_response())
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Path((cluster, director)): Path<(String, String)>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, &cluster).await?;
    let row = lookup::director(&mut tx, &cluster, &director).await?;
    drop(tx);
    let back = format!("/clusters/{}/directors", path_segment(&cluster.name));
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Remove director {}", row.name))
            .in_cluster(&cluster.name, Tab::Directors),
        question: format!("Remove director {} from {}?", row.name, cluster.name),
        detail: "Its agent token stops working at once. Its kernel keeps the rules it has \
                 until you stop lvs-agent there and clear them (ipvsadm -C)."
            .to_owned(),
        action: format!("{back}/{}/delete", path_segment(&row.name)),
        etag: director_etag(&row, &cluster.name),
        button: "Remove director",
        cancel: back,
    };
    Ok(Html(page.render()?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, director)): Path<(String, String)>,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let if_match = IfMatch::from_etag(form.value("etag"));
    let back = format!("/clusters/{}/directors", path_segment(&cluster));
    match edit::directors::delete(&state, &cluster, &director, &if_match, &caller.author).await {
        Ok(()) => {
            let text = format!("Director {director} removed.");
            Ok(redirect_with(&back, FlashKind::Ok, &text))
        }
        Err(error) => refused(&back, error, "director"),
    }
}

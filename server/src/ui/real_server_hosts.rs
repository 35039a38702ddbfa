//! The fleet's real-server hosts: each with its agent's state, addresses, last contact and
//! errors; adding one (its agent token is shown once, with the command to run on it),
//! creating or revoking a token, removing a host.

use askama::Template;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lvs_model::spec::RealServerHostSpec;

use super::error::UiResult;
use super::extract::{Caller, Form, Path};
use super::form::FormState;
use super::format;
use super::page::{path_segment, Chrome, ConfirmPage};
use super::session::{redirect_with, refused, Browser, FlashKind};
use crate::db::real_server_needs::{self, HostNeeds};
use crate::db::{now_millis, real_server_hosts};
use crate::edit::{self, lookup, IfMatch};
use crate::resources::{real_server_host_etag, RealServerHost};
use crate::state::AppState;

/// Where the page lives.
const PAGE: &str = "/real-server-hosts";

#[derive(Template)]
#[template(path = "real_server_hosts.html")]
struct HostsPage {
    chrome: Chrome,
    hosts: Vec<HostCard>,
    form: FormState,
}

/// One host with what its agent last said.
#[derive(Debug)]
struct HostCard {
    name: String,
    /// The name as a URL path segment.
    segment: String,
    description: String,
    addresses: String,
    state: &'static str,
    class: &'static str,
    last_seen: String,
    prepared_version: String,
    needs_version: String,
    vips: usize,
    agent_version: String,
    kernel_version: String,
    has_token: bool,
    errors: Vec<(String, String)>,
    drift: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "real_server_token.html")]
struct TokenPage {
    chrome: Chrome,
    host: String,
    token: String,
    server: String,
    rotated: bool,
}

pub async fn page(State(state): State<AppState>, browser: Browser) -> UiResult<Response> {
    render(&state, &browser, FormState::default(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    browser: &Browser,
    form: FormState,
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let rows = real_server_hosts::list(&mut tx, None, None, -1).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut needs = real_server_needs::of_hosts(&mut tx, &ids).await?;
    drop(tx);
    let now = now_millis();
    let hosts = rows
        .iter()
        .map(|row| {
            let needs = needs.remove(&row.id).unwrap_or_else(HostNeeds::none).needs;
            let host = RealServerHost::new(row, &needs.version, &state.agents, now);
            let last_seen = row.last_seen.max(state.agents.host_last_seen(row.id));
            let status = host.status;
            let text = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
            HostCard {
                name: row.name.clone(),
                segment: path_segment(&row.name),
                description: row.description.clone(),
                addresses: host.settings.addresses.join(", "),
                state: status.state.label(),
                class: status.state.class(),
                last_seen: last_seen.map_or_else(|| "never".to_owned(), |at| format::ago(at, now)),
                prepared_version: text(status.prepared_version),
                needs_version: needs.version,
                vips: needs.vips.len(),
                agent_version: text(status.agent_version),
                kernel_version: text(status.kernel_version),
                has_token: row.token_created_at.is_some(),
                errors: status
                    .errors
                    .into_iter()
                    .map(|e| {
                        (
                            format!("{} {}", e.action, e.object),
                            e.error.unwrap_or_default(),
                        )
                    })
                    .collect(),
                drift: status
                    .drift_repaired
                    .into_iter()
                    .map(|d| (d.object, d.found))
                    .collect(),
            }
        })
        .collect();
    let page = HostsPage {
        chrome: Chrome::new(browser, "Real-server hosts").crumb("Fleet", "/"),
        hosts,
        form,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Adds a host and shows its first agent token.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
    headers: HeaderMap,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = RealServerHostSpec {
        name: form.text("name"),
        description: form.value("description").to_owned(),
        // One field for the list: addresses separated by spaces, commas or lines.
        addresses: form
            .value("addresses")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match edit::real_server_hosts::create(&state, &spec, &caller.author).await {
        Ok(row) => {
            let token = edit::host_tokens::create(&state, &row.name, &caller.author)
                .await?
                .token;
            token_page(&browser, &headers, &row.name, token, false)
        }
        Err(error) => {
            form.refused(error, &["name", "description", "addresses"])?;
            render(&state, &browser, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// A new token for a host; its agent's old token stops working at once.
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(host): Path<String>,
    browser: Browser,
    headers: HeaderMap,
) -> UiResult<Response> {
    let token = edit::host_tokens::create(&state, &host, &caller.author)
        .await?
        .token;
    token_page(&browser, &headers, &host, token, true)
}

fn token_page(
    browser: &Browser,
    headers: &HeaderMap,
    host: &str,
    token: String,
    rotated: bool,
) -> UiResult<Response> {
    let server = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:8080");
    let page = TokenPage {
        chrome: Chrome::new(browser, format!("Agent token for {host}"))
            .crumb("Fleet", "/")
            .crumb("Real-server hosts", PAGE),
        host: host.to_owned(),
        token,
        server: format!("http://{server}"),
        rotated,
    };
    // The token is shown once: nothing may keep a copy of this page.
    let no_store = [(axum::http::header::CACHE_CONTROL, "no-store")];
    Ok((no_store, Html(page.render()?)).into_response())
}

pub async fn confirm_revoke(
    State(state): State<AppState>,
    Path(host): Path<String>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let row = lookup::real_server_host(&mut tx, &host).await?;
    drop(tx);
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Revoke the token of {}", row.name))
            .crumb("Fleet", "/")
            .crumb("Real-server hosts", PAGE),
        question: format!("Revoke the agent token of real-server host {}?", row.name),
        detail: "Its agent is refused from now on, and stops following the VIPs its \
                 services need; the host keeps those it holds. Create a new token to let it \
                 back in."
            .to_owned(),
        action: format!("{PAGE}/{}/token/revoke", path_segment(&row.name)),
        etag: real_server_host_etag(&row),
        button: "Revoke token",
        cancel: PAGE.to_owned(),
    };
    Ok(Html(page.render()?))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(host): Path<String>,
) -> UiResult<Response> {
    match edit::host_tokens::revoke(&state, &host, &caller.author).await {
        Ok(revoked) => {
            let text = if revoked {
                format!("The agent token of {host} was revoked.")
            } else {
                format!("{host} had no agent token.")
            };
            Ok(redirect_with(PAGE, FlashKind::Ok, &text))
        }
        Err(error) => refused(PAGE, error, "real-server host"),
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Path(host): Path<String>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let row = lookup::real_server_host(&mut tx, &host).await?;
    drop(tx);
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Remove real-server host {}", row.name))
            .crumb("Fleet", "/")
            .crumb("Real-server hosts", PAGE),
        question: format!("Remove real-server host {}?", row.name),
        detail: "Its agent token stops working at once. The host keeps the VIPs it holds \
                 until you stop lvs-agent there; its real servers stay in their services, \
                 unmanaged."
            .to_owned(),
        action: format!("{PAGE}/{}/delete", path_segment(&row.name)),
        etag: real_server_host_etag(&row),
        button: "Remove host",
        cancel: PAGE.to_owned(),
    };
    Ok(Html(page.render()?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(host): Path<String>,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let if_match = IfMatch::from_etag(form.value("etag"));
    match edit::real_server_hosts::delete(&state, &host, &if_match, &caller.author).await {
        Ok(()) => {
            let text = format!("Real-server host {host} removed.");
            Ok(redirect_with(PAGE, FlashKind::Ok, &text))
        }
        Err(error) => refused(PAGE, error, "real-server host"),
    }
}

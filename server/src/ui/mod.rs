//! The browser UI: pages rendered on the server from the askama templates in
//! `web/templates/`, with htmx (vendored) refreshing live numbers in place.
//!
//! Every change is a POST that carries the browser's CSRF token ([`session`]) and goes
//! through the same edit operations and model validation as the REST API, so the two can
//! never disagree on what is valid. Forms work without JavaScript: a POST answers with a
//! redirect (and a flash message) or with the form again, the user's input kept and each
//! invalid field marked with the model's reason.

mod account;
pub mod assets;
mod audit;
mod changes;
pub mod chart;
mod cluster;
mod cluster_form;
mod cluster_settings;
mod diff_view;
mod director;
mod directors;
pub(crate) mod error;
mod error_page;
mod extract;
mod fleet;
mod form;
mod format;
mod graph_range;
mod health_cells;
mod health_check;
mod health_events;
mod health_form;
mod host_badges;
mod login;
mod mark_rules_text;
mod page;
mod paging;
mod pool;
mod pool_merge;
mod pool_text;
mod real_server_form;
mod real_server_hosts;
mod real_servers;
mod revert;
mod rollout;
mod search;
mod search_query;
mod secret;
mod service;
mod service_form;
mod service_merge;
mod service_view;
mod session;
mod token_confirm;
mod user;
mod users;

pub use session::encode_component;

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::state::AppState;
use assets::Assets;

/// The static files, compiled in: their hashed names are fixed for the process's life.
static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::new);

/// The UI's routes, ready to merge beside the API.
pub fn router(state: AppState) -> Router {
    let cluster = "/clusters/{cluster}";
    let service = "/clusters/{cluster}/services/{service}";
    let real_server = "/clusters/{cluster}/services/{service}/real-servers/{id}";
    let director = "/clusters/{cluster}/directors/{director}";
    let transport = state.transport;
    Router::new()
        .route("/", get(fleet::page))
        .route("/login", get(login::form).post(login::sign_in))
        .route("/logout", post(login::sign_out))
        .route("/audit", get(audit::page))
        .route("/live", get(fleet::live))
        .route("/search", get(search::page))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/users", get(users::page).post(users::create))
        .route("/users/{user}", get(user::page).post(user::change))
        .route("/users/{user}/password", post(user::reset_password))
        .route(
            "/users/{user}/delete",
            get(user::confirm_delete).post(user::delete),
        )
        .route(
            "/real-server-hosts",
            get(real_server_hosts::page).post(real_server_hosts::create),
        )
        .route(
            "/real-server-hosts/{host}/token",
            get(token_confirm::real_server_host).post(real_server_hosts::rotate_token),
        )
        .route(
            "/real-server-hosts/{host}/token/revoke",
            get(real_server_hosts::confirm_revoke).post(real_server_hosts::revoke),
        )
        .route(
            "/real-server-hosts/{host}/delete",
            get(real_server_hosts::confirm_delete).post(real_server_hosts::delete),
        )
        .route("/clusters", post(cluster::create))
        // Not under /clusters/, where it would hide a cluster named "new".
        .route("/new-cluster", get(cluster::new_form))
        .route(cluster, get(cluster::page))
        .route(&format!("{cluster}/live"), get(cluster::live))
        .route(
            &format!("{cluster}/settings"),
            get(cluster_settings::page).post(cluster_settings::update),
        )
        .route(&format!("{cluster}/services"), post(service::create))
        .route(&format!("{cluster}/services/new"), get(service::new_form))
        .route(service, get(service::page).post(service::update))
        .route(&format!("{service}/live"), get(service::live))
        .route(
            &format!("{service}/health-check"),
            post(health_check::update),
        )
        .route(
            &format!("{service}/delete"),
            get(service::confirm_delete).post(service::delete),
        )
        .route(
            &format!("{service}/real-servers"),
            post(real_servers::create),
        )
        .route(&format!("{real_server}/weight"), post(real_servers::weight))
        .route(&format!("{real_server}/drain"), post(real_servers::drain))
        .route(
            &format!("{real_server}/restore"),
            post(real_servers::restore),
        )
        .route(
            &format!("{real_server}/delete"),
            get(real_servers::confirm_delete).post(real_servers::delete),
        )
        .route(&format!("{service}/pool"), get(pool::form).post(pool::plan))
        .route(&format!("{service}/pool/apply"), post(pool::apply))
        .route(
            &format!("{cluster}/directors"),
            get(directors::page).post(directors::create),
        )
        .route(
            &format!("{director}/token"),
            get(token_confirm::director).post(directors::rotate_token),
        )
        .route(
            &format!("{director}/delete"),
            get(directors::confirm_delete).post(directors::delete),
        )
        .route(&format!("{cluster}/changes"), get(changes::page))
        .route(
            &format!("{cluster}/health-events"),
            get(health_events::page),
        )
        .route(
            &format!("{cluster}/changes/{{generation}}"),
            get(changes::detail),
        )
        .route(
            &format!("{cluster}/changes/{{generation}}/rollout"),
            get(rollout::fragment),
        )
        .route(director, get(director::detail))
        .route(
            &format!("{cluster}/changes/{{generation}}/revert"),
            get(revert::plan).post(revert::apply),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            transport,
            session::layer,
        ))
        // Static files are public and cached for a year: no session cookie on them.
        .merge(assets::routes(&ASSETS))
        .layer(CatchPanicLayer::custom(|_| {
            error::UiError::Internal(anyhow::anyhow!("a page handler panicked")).into_response()
        }))
}

/// The HTML answer for a path no page serves.
pub async fn not_found() -> Response {
    error::UiError::NotFound("There is no page at this address.".into()).into_response()
}

/// `405` as a page.
pub async fn method_not_allowed() -> Response {
    error::UiError::Status(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not take that kind of request.".into(),
    )
    .into_response()
}

//! The whole HTTP application: the REST API and the UI side by side ([`app`]), each route
//! behind who may use it ([`access`]), and behind what every request goes through first:
//! the host and cross-site checks ([`guard`]), the
//! security headers ([`headers`]), the request metrics ([`metrics`]), and the connection loop with its read timeouts
//! ([`listen`]) and its TLS certificate ([`tls`]). This is the top of the server: it may use every layer, none uses it.

pub mod access;
pub mod guard;
pub mod headers;
pub mod listen;
pub mod metrics;
pub mod tls;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::response::Response;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{api, ui};

/// The API and the UI over `state`, with the answers for what neither serves.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    let metrics = state.metrics.clone();
    api::routes(state.clone())
        .merge(ui::router(state.clone()))
        // On every route, after routing: it decides by the route's pattern.
        .route_layer(axum::middleware::from_fn_with_state(state, access::layer))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // On every route and the fallbacks, after routing, so it sees the route's pattern;
        // around the access check, so refusals count.
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::layer,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| api::panicked()))
        .layer(TraceLayer::new_for_http())
}

/// `app` behind the host and cross-site checks, with the security headers on every
/// answer (refusals included) and a bound on pauses in request bodies.
pub fn protect(
    app: Router,
    hosts: guard::AllowedHosts,
    timeouts: listen::Timeouts,
    transport: headers::Transport,
    proxies: crate::client::TrustedProxies,
) -> Router {
    let proxies = std::sync::Arc::new(proxies);
    app.layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(axum::middleware::from_fn_with_state(hosts, guard::layer))
        .layer(axum::middleware::from_fn_with_state(
            transport,
            headers::layer,
        ))
        // Outermost: every layer and handler within sees the client's address.
        .layer(axum::middleware::map_request(move |request| {
            let proxies = proxies.clone();
            async move { proxies.tag(request) }
        }))
}

/// Under `/api`, a JSON problem; elsewhere, the UI's HTML page.
async fn not_found(uri: Uri) -> Response {
    if api::is_api_path(uri.path()) {
        api::not_found(uri).await
    } else {
        ui::not_found().await
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    if api::is_api_path(uri.path()) {
        api::method_not_allowed(method, uri).await
    } else {
        ui::method_not_allowed().await
    }
}

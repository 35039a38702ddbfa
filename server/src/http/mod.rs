//! What every request goes through before it reaches the API or the UI: the host and
//! cross-site checks ([`guard`]), the security headers ([`headers`]), and the connection
//! loop with its read timeouts ([`listen`]).

pub mod guard;
pub mod headers;
pub mod listen;

use axum::Router;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// `app` behind the host and cross-site checks, with the security headers on every
/// answer (refusals included) and a bound on pauses in request bodies.
pub fn protect(app: Router, hosts: guard::AllowedHosts, timeouts: listen::Timeouts) -> Router {
    app.layer(RequestBodyTimeoutLayer::new(timeouts.body))
        .layer(axum::middleware::from_fn_with_state(hosts, guard::layer))
        .layer(axum::middleware::from_fn(headers::layer))
}

//! Security headers on every response, API and UI alike: no MIME sniffing, no framing, no
//! inline script, no referrer sent to other sites; over HTTPS, no plain HTTP next time.

use axum::extract::{Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub use crate::state::Transport;

/// The UI loads its scripts and styles from `/static` only (no inline `<script>`, `style=`
/// or `on*=`); `data:` images are the inline SVG icons.
pub const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'; object-src 'none'";

/// The API explorer (`/api/docs`): its bundled Swagger UI sets inline styles. Its scripts
/// still come from this server only.
pub const EXPLORER_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Over HTTPS, browsers are told to use nothing else for this host for a year.
pub const HSTS: &str = "max-age=31536000";

/// The middleware.
pub async fn layer(State(transport): State<Transport>, request: Request, next: Next) -> Response {
    let explorer = request.uri().path().starts_with("/api/docs");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let policy = if explorer { EXPLORER_POLICY } else { POLICY };
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // For browsers that predate `frame-ancestors`.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if transport == Transport::Https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

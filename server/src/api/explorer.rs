//! `/api/docs`: the interactive API explorer, with every asset served from the binary so it
//! works on networks without internet access.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LVS Fleet API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui-5.35.0.css">
<link rel="stylesheet" href="/api/docs/api-explorer.css">
</head>
<body>
<main id="explorer"></main>
<script src="/api/docs/swagger-ui-bundle-5.35.0.js"></script>
<script src="/api/docs/api-explorer.js"></script>
</body>
</html>
"#;

const BUNDLE: &[u8] = include_bytes!("../../../web/static/vendor/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../../web/static/vendor/swagger-ui/swagger-ui.css");
const INIT: &[u8] = include_bytes!("../../../web/static/api-explorer.js");
/// Our overrides of Swagger UI's colours, for contrast.
const OVERRIDES: &[u8] = include_bytes!("../../../web/static/api-explorer.css");

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/api/docs", get(|| async { Html(PAGE) }))
        .route(
            "/api/docs/swagger-ui-bundle-5.35.0.js",
            get(|| async { asset(BUNDLE, JS, true) }),
        )
        .route(
            "/api/docs/swagger-ui-5.35.0.css",
            get(|| async { asset(CSS, "text/css", true) }),
        )
        .route(
            "/api/docs/api-explorer.js",
            get(|| async { asset(INIT, JS, false) }),
        )
        .route(
            "/api/docs/api-explorer.css",
            get(|| async { asset(OVERRIDES, "text/css", false) }),
        )
}

const JS: &str = "text/javascript";

/// Versioned names never change content, so browsers may keep them for a year.
fn asset(body: &'static [u8], content_type: &'static str, versioned: bool) -> Response {
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, cache)], body).into_response()
}

//! The UI's static files, compiled into the binary and served under content-hashed names
//! (`/static/app.3f9a1c2b.css`), so browsers may cache each one forever and a new build is
//! fetched at once. The API explorer's files are not here: `api/explorer.rs` serves them.

use std::collections::HashMap;
use std::fmt;

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// Every file served, by its path under `web/static/`. A test checks that no file in that
/// directory is forgotten here.
const FILES: &[(&str, &[u8])] = &[
    ("app.css", include_bytes!("../../../web/static/app.css")),
    ("app.js", include_bytes!("../../../web/static/app.js")),
    (
        "vendor/htmx/htmx.min.js",
        include_bytes!("../../../web/static/vendor/htmx/htmx.min.js"),
    ),
];

/// Where the files are mounted.
const PREFIX: &str = "/static/";

/// Hex digits of the SHA-256 kept in a name: plenty to tell two versions of a file apart.
const HASH_DIGITS: usize = 8;

/// A hashed name never changes content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The embedded files and their hashed URLs, computed once at startup.
pub struct Assets {
    /// `"app.css"` -> `"/static/app.3f9a1c2b.css"`.
    urls: HashMap<&'static str, String>,
    /// `"app.3f9a1c2b.css"` (the part after `/static/`) -> the file.
    by_hashed_path: HashMap<String, Asset>,
}

#[derive(Clone, Copy)]
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

impl Assets {
    pub fn new() -> Assets {
        let mut urls = HashMap::new();
        let mut by_hashed_path = HashMap::new();
        for &(path, body) in FILES {
            let hashed = hashed_path(path, body);
            urls.insert(path, format!("{PREFIX}{hashed}"));
            let content_type = content_type(path);
            by_hashed_path.insert(hashed, Asset { body, content_type });
        }
        Assets {
            urls,
            by_hashed_path,
        }
    }

    /// The hashed URL of `path` (relative to `web/static/`, e.g. `"app.css"`). An unknown
    /// path is a bug caught in debug builds; release builds link the unhashed path, which
    /// is a 404 rather than a crash.
    pub fn url<'a>(&'a self, path: &'a str) -> &'a str {
        match self.urls.get(path) {
            Some(url) => url,
            None => {
                debug_assert!(false, "no static file {path:?} in ui/assets.rs FILES");
                path
            }
        }
    }

    fn get(&self, hashed_path: &str) -> Option<Asset> {
        self.by_hashed_path.get(hashed_path).copied()
    }
}

impl Default for Assets {
    fn default() -> Assets {
        Assets::new()
    }
}

impl fmt::Debug for Assets {
    // The URLs say everything useful; the bodies would flood a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assets").field("urls", &self.urls).finish()
    }
}

/// `GET /static/{*path}` for every embedded file. Anything else under `/static/`, a stale
/// hash included, is a 404.
pub fn routes<S: Clone + Send + Sync + 'static>(assets: &'static Assets) -> Router<S> {
    Router::new()
        .route("/static/{*path}", get(serve))
        .with_state(assets)
}

async fn serve(State(assets): State<&'static Assets>, Path(path): Path<String>) -> Response {
    match assets.get(&path) {
        Some(asset) => (
            [
                (CONTENT_TYPE, asset.content_type),
                (CACHE_CONTROL, IMMUTABLE),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `"vendor/htmx/htmx.min.js"` -> `"vendor/htmx/htmx.min.8a7b6c5d.js"`: the hash goes
/// before the last extension so the name still ends in what it is.
fn hashed_path(path: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let hash = &hex[..HASH_DIGITS];
    let file_start = path.rfind('/').map_or(0, |slash| slash + 1);
    match path[file_start..].rfind('.') {
        Some(dot) => {
            let (stem, ext) = path.split_at(file_start + dot);
            format!("{stem}.{hash}{ext}")
        }
        None => format!("{path}.{hash}"),
    }
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use std::sync::LazyLock;
    use tower::ServiceExt;

    static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::new);

    async fn get(uri: &str) -> Response {
        let app: Router = routes(&ASSETS);
        let request = Request::get(uri).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn hashed_url_is_served_immutable_with_its_content_type() {
        let cases = [
            ("app.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("vendor/htmx/htmx.min.js", "text/javascript; charset=utf-8"),
        ];
        for (path, content_type) in cases {
            let url = ASSETS.url(path);
            let response = get(url).await;
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            let headers = response.headers();
            assert_eq!(headers[CONTENT_TYPE], content_type, "{url}");
            assert_eq!(headers[CACHE_CONTROL], IMMUTABLE, "{url}");
            assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff", "{url}");
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let embedded = FILES.iter().find(|(p, _)| *p == path).unwrap().1;
            assert_eq!(&body[..], embedded, "{url}");
        }
    }

    #[tokio::test]
    async fn stale_hash_is_not_found() {
        let url = ASSETS.url("app.css");
        let stale = format!("/static/app.{}.css", "0".repeat(HASH_DIGITS));
        assert_ne!(url, stale, "the zero hash is app.css's real one");
        assert_eq!(get(&stale).await.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn unknown_and_unhashed_names_are_not_found() {
        for uri in [
            "/static/nothing.12345678.css",
            "/static/app.css",
            "/static/vendor/htmx/htmx.min.js",
            "/static/",
            "/static/vendor/swagger-ui/swagger-ui.css",
        ] {
            assert_eq!(get(uri).await.status(), StatusCode::NOT_FOUND, "{uri}");
        }
    }

    #[test]
    fn urls_put_a_short_content_hash_before_the_extension() {
        let url = ASSETS.url("vendor/htmx/htmx.min.js");
        let hash = url
            .strip_prefix("/static/vendor/htmx/htmx.min.")
            .and_then(|rest| rest.strip_suffix(".js"))
            .unwrap();
        assert_eq!(hash.len(), HASH_DIGITS);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(hashed_path("dir.d/LICENSE", b""), "dir.d/LICENSE.e3b0c442");
        assert_eq!(hashed_path("a.css", b""), "a.e3b0c442.css");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "no static file")]
    fn unknown_url_is_a_bug_in_debug_builds() {
        let _ = ASSETS.url("missing.css");
    }

    /// Every file in `web/static/` is embedded, except the explorer's and licence texts.
    #[test]
    fn no_static_file_is_forgotten() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/static");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap();
                    found.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let served_elsewhere = |p: &str| {
            p.starts_with("vendor/swagger-ui/")
                || p == "api-explorer.js"
                || p == "api-explorer.css"
                || p.ends_with("README.md")
                || p.ends_with("LICENSE")
                || p.ends_with("NOTICE")
        };
        for path in found.iter().filter(|p| !served_elsewhere(p)) {
            assert!(
                FILES.iter().any(|(p, _)| p == path),
                "web/static/{path} is not in ui/assets.rs FILES"
            );
        }
    }
}

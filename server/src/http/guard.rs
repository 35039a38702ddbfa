//! Refuses requests a browser was tricked into sending: a `Host` the server is not
//! configured for (DNS rebinding), and a change (POST, PUT, PATCH, DELETE) sent from another
//! site. Requests without `Origin` or `Sec-Fetch-Site` (curl, scripts, agents) are not
//! from a browser page and pass. One rule for the API and the UI.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::ui::error::UiError;

/// The host names (without port) requests may be addressed to, lowercase.
#[derive(Debug, Clone)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// `names`, or when empty `localhost`, `127.0.0.1`, `[::1]` and `listen`'s IP unless it
    /// is unspecified (0.0.0.0 or ::).
    pub fn new(names: &[String], listen: Option<SocketAddr>) -> AllowedHosts {
        let mut hosts: Vec<String> = names
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if hosts.is_empty() {
            hosts = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
            if let Some(ip) = listen.map(|l| l.ip()).filter(|ip| !ip.is_unspecified()) {
                hosts.push(host_of_ip(ip));
            }
        }
        AllowedHosts(hosts.into())
    }

    /// Whether `host` (a `Host` header, port included or not) is one of them.
    pub fn allows(&self, host: &str) -> bool {
        let name = strip_port(host).to_ascii_lowercase();
        self.0.contains(&name)
    }
}

fn host_of_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `example.org:8080` -> `example.org`, `[::1]:80` -> `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

/// The middleware.
pub async fn layer(State(hosts): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Load balancers and kubelets probe by IP, and probes reveal nothing.
    let probe = path == "/healthz" || path == "/readyz";
    let api = crate::api::is_api_path(path);
    let host = request
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !probe && !host.is_some_and(|h| hosts.allows(h)) {
        let host = host.unwrap_or("(none)");
        let detail = format!(
            "this server does not answer to host {host}; add its name to --allowed-hosts \
             (LVS_ALLOWED_HOSTS) to reach it by that name"
        );
        return refuse(api, StatusCode::MISDIRECTED_REQUEST, "unknown_host", detail);
    }
    if changes(request.method()) {
        if let Some(why) = cross_site(request.headers()) {
            let detail = format!(
                "{why}: a change must come from this server's own pages or from a client \
                 that is not a browser"
            );
            return refuse(api, StatusCode::FORBIDDEN, "cross_site_request", detail);
        }
    }
    next.run(request).await
}

fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refuse(api: bool, status: StatusCode, code: &'static str, detail: String) -> Response {
    if api {
        ApiError::Refused {
            status,
            code,
            detail,
        }
        .into_response()
    } else {
        let mut sentence = detail;
        if let Some(first) = sentence.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        sentence.push('.');
        UiError::Status(status, sentence).into_response()
    }
}

/// Why a browser sent this request from another site, or `None` when it did not.
pub fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    // `same-site` is another origin too (a sibling subdomain, another port).
    if matches!(fetch_site, Some(b"cross-site" | b"same-site")) {
        return Some("this request came from another site (the browser says so)");
    }
    if !same_origin(headers) {
        return Some("this request came from another site (its Origin is not this server)");
    }
    None
}

/// Browsers send `Origin` on changes; when present it must be this server's: the scheme
/// and the `Host` the request was sent to. `Origin: null` (a sandboxed page, a file) is not.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok() else {
        return false;
    };
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts_match_without_their_port() {
        let hosts = AllowedHosts::new(&[], Some("10.0.0.5:8080".parse().unwrap()));
        for host in [
            "localhost:8080",
            "127.0.0.1",
            "[::1]:80",
            "10.0.0.5:8080",
            "LOCALHOST",
        ] {
            assert!(hosts.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "10.0.0.6:8080",
            "[::2]",
            "localhost.evil.example",
        ] {
            assert!(!hosts.allows(host), "{host}");
        }
        let unspecified = AllowedHosts::new(&[], Some("0.0.0.0:8080".parse().unwrap()));
        assert!(!unspecified.allows("0.0.0.0:8080"));
        let named = AllowedHosts::new(&["lvs.example.org".into()], None);
        assert!(named.allows("lvs.example.org:443"));
        assert!(!named.allows("localhost"));
    }

    #[test]
    fn origin_must_name_this_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(cross_site(&headers).is_none());
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(cross_site(&headers).is_none());
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(cross_site(&headers).is_none());
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(cross_site(&headers).is_some());
        headers.remove("sec-fetch-site");
        for origin in ["http://evil.example", "null", "http://127.0.0.1:8081"] {
            headers.insert(ORIGIN, HeaderValue::from_static(origin));
            assert!(cross_site(&headers).is_some(), "{origin}");
        }
    }
}

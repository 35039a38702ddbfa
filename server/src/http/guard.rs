//! Refuses requests a browser was tricked into sending: a `Host` the server is not
//! configured for (DNS rebinding), and a change (POST, PUT, PATCH, DELETE) sent from another
//! site. Requests without `Origin` or `Sec-Fetch-Site` (curl, scripts, agents) are not
//! from a browser page and pass. One rule for the API and the UI.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::same_site::cross_site;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

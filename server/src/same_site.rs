//! Whether a browser sent a request from another site: the rule behind the cross-site
//! refusals of [`crate::http::guard`] and of the UI's own session layer, kept in one place
//! so the two can never disagree.

use axum::http::header::{HOST, ORIGIN};
use axum::http::HeaderMap;

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

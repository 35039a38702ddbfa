//! Reading the cookies a browser sent, and the names of the server's own: one parser for
//! the access layer, the UI's session layer and its sign-out.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

/// The browser session's cookie: `lvss_` and 64 hex digits (see `access::secret`).
pub const SESSION: &str = "lvs_session";

/// The value of cookie `name`, if the request carries a non-empty one.
pub fn value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

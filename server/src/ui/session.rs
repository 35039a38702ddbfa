//! The browser's side of every UI request: CSRF protection and flash messages.
//!
//! CSRF uses a double-submit token: a random token in a `SameSite=Strict`, `HttpOnly`
//! cookie, which pages repeat in every form (`_csrf`) and in a `<meta>` that `app.js` sends
//! as `X-CSRF-Token` on htmx requests. A request that changes anything must carry both,
//! equal, and must not come from another origin. A flash message is a short-lived cookie
//! set by a POST's redirect and shown (then cleared) by the next page. Over HTTPS every
//! cookie the UI sets is `Secure`, so a browser never sends it over plain HTTP.

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::UiError;
use crate::cookies;
use crate::edit::EditError;
use crate::state::Transport;

const CSRF_COOKIE: &str = "lvs_csrf";
const FLASH_COOKIE: &str = "lvs_flash";
/// The form field carrying the token.
pub const CSRF_FIELD: &str = "_csrf";
const CSRF_HEADER: &str = "x-csrf-token";
/// Forms are small; a bulk pool edit is the largest.
const MAX_FORM_BYTES: usize = 4 << 20;

/// What a page needs from the browser's session.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The token to repeat in forms.
    pub csrf: String,
    /// The message left by the previous request, shown once.
    pub flash: Option<Flash>,
    /// Who is signed in (`None` on public pages: sign-in, errors).
    pub principal: Option<std::sync::Arc<crate::db::credentials::Principal>>,
}

/// A one-time message shown at the top of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
    /// The generation the action committed, whose rollout the page follows live.
    pub rollout: Option<RolloutRef>,
}

/// A cluster's generation, as a confirmation names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRef {
    pub cluster: String,
    pub generation: u64,
}

impl RolloutRef {
    /// The change's page.
    pub fn change_href(&self) -> String {
        format!(
            "/clusters/{}/changes/{}",
            super::page::path_segment(&self.cluster),
            self.generation
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Ok,
    Error,
}

impl FlashKind {
    /// The CSS class of its alert.
    pub fn class(self) -> &'static str {
        match self {
            FlashKind::Ok => "ok",
            FlashKind::Error => "error",
        }
    }
}

/// A redirect after a POST that leaves `text` for the next page.
pub fn redirect_with(location: &str, kind: FlashKind, text: &str) -> Response {
    let tag = match kind {
        FlashKind::Ok => 'o',
        FlashKind::Error => 'e',
    };
    flash_redirect(location, &format!("{tag}{text}"))
}

/// A redirect after a change of `cluster`'s desired state: the next page says `text`,
/// names the generation it committed and follows which directors applied it. An edit that
/// changed nothing (`generation` none) says so: there is nothing to roll out.
pub fn redirect_committed(
    location: &str,
    cluster: &str,
    generation: Option<u64>,
    text: &str,
) -> Response {
    match generation {
        Some(generation) => flash_redirect(
            location,
            &format!("g{generation}/{cluster}/Generation {generation}: {text}"),
        ),
        None => redirect_with(
            location,
            FlashKind::Ok,
            &format!("{text} It already was, so nothing changed."),
        ),
    }
}

fn flash_redirect(location: &str, tagged: &str) -> Response {
    let value: String = encode_component(tagged);
    let cookie = format!("{FLASH_COOKIE}={value}; Path=/; Max-Age=60; SameSite=Strict; HttpOnly");
    let mut response = Redirect::to(location).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// A button's action refused by its edit: back to `location` with why. A concurrent change
/// to the `what` it acted on, a validation or conflict message; other errors are returned.
pub fn refused(location: &str, error: EditError, what: &str) -> Result<Response, UiError> {
    let text = match error {
        EditError::PreconditionFailed(_) => format!(
            "Someone else changed this {what} since the page was loaded; nothing was done. \
             Here it is as it is now."
        ),
        EditError::Invalid(errors) => errors.to_string(),
        EditError::Conflict { detail, .. } => detail,
        other => return Err(other.into()),
    };
    Ok(redirect_with(location, FlashKind::Error, &text))
}

impl<S: Send + Sync> FromRequestParts<S> for Browser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, UiError> {
        parts
            .extensions
            .get::<Browser>()
            .cloned()
            .ok_or_else(|| UiError::Internal(anyhow::anyhow!("the session layer is missing")))
    }
}

/// The middleware: hands pages their [`Browser`], refuses cross-site changes, and marks
/// cookies `Secure` over HTTPS.
pub async fn layer(State(transport): State<Transport>, request: Request, next: Next) -> Response {
    let cookie_token = cookies::value(request.headers(), CSRF_COOKIE).filter(|t| is_token(t));
    let flash = cookies::value(request.headers(), FLASH_COOKIE).and_then(|v| parse_flash(&v));
    let (token, new_token) = match cookie_token {
        Some(token) => (token, false),
        None => (new_token(), true),
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let mut request = request;
    if !safe {
        request = match check_change(request, &token, new_token).await {
            Ok(request) => request,
            Err(refused) => return refused.into_response(),
        };
    }
    // A flash is shown by the next page, not consumed by its live fragments.
    let shows_flash = safe && !is_fragment(request.headers());
    let principal = request
        .extensions()
        .get::<std::sync::Arc<crate::db::credentials::Principal>>()
        .cloned();
    request.extensions_mut().insert(Browser {
        csrf: token.clone(),
        flash: flash.clone().filter(|_| shows_flash),
        principal,
    });
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if new_token {
        let cookie = format!("{CSRF_COOKIE}={token}; Path=/; SameSite=Strict; HttpOnly");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    let sets_flash = headers
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(FLASH_COOKIE.as_bytes()));
    if flash.is_some() && shows_flash && !sets_flash {
        let clear = format!("{FLASH_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict; HttpOnly");
        if let Ok(value) = HeaderValue::from_str(&clear) {
            headers.append(SET_COOKIE, value);
        }
    }
    if transport == Transport::Https {
        make_secure(headers);
    }
    response
}

/// Adds `Secure` to every cookie set, whichever handler set it.
fn make_secure(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let secure = cookie.to_str().map_or(true, |text| {
            text.split(';')
                .any(|attribute| attribute.trim().eq_ignore_ascii_case("secure"))
        });
        let cookie = if secure {
            cookie
        } else {
            let mut bytes = cookie.as_bytes().to_vec();
            bytes.extend_from_slice(b"; Secure");
            HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
        };
        headers.append(SET_COOKIE, cookie);
    }
}

/// Whether htmx asked for a piece of a page rather than a page.
pub fn is_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// A change must come from this site, with the session's token in a header or the form.
async fn check_change(request: Request, token: &str, new_token: bool) -> Result<Request, UiError> {
    let forbidden = |why: &str| UiError::Status(StatusCode::FORBIDDEN, why.to_owned());
    // Refused before here by `crate::http::guard`; checked again so that this layer stands
    // on its own.
    if crate::same_site::cross_site(request.headers()).is_some() {
        return Err(forbidden(
            "This request came from another site and was refused.",
        ));
    }
    if new_token {
        return Err(forbidden(
            "Your browser sent no session cookie (cookies may be blocked, or the session \
             expired). Reload the page and try again.",
        ));
    }
    if let Some(header) = request.headers().get(CSRF_HEADER) {
        return if constant_time_eq(header.as_bytes(), token.as_bytes()) {
            Ok(request)
        } else {
            Err(forbidden(
                "The form's security token is stale. Reload the page and try again.",
            ))
        };
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| {
        UiError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is too large.".into(),
        )
    })?;
    let sent = form_urlencoded_pairs(&bytes).find(|(k, _)| k == CSRF_FIELD);
    match sent {
        Some((_, value)) if constant_time_eq(value.as_bytes(), token.as_bytes()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(forbidden(
            "The form's security token is missing or stale. Reload the page and try again.",
        )),
    }
}

fn parse_flash(value: &str) -> Option<Flash> {
    let text = form_urlencoded_pairs(format!("f={value}").as_bytes())
        .next()
        .map(|(_, v)| v)?;
    let mut chars = text.chars();
    let (kind, rollout, text) = match chars.next()? {
        'o' => (FlashKind::Ok, None, chars.as_str()),
        'e' => (FlashKind::Error, None, chars.as_str()),
        'g' => {
            let (generation, rest) = chars.as_str().split_once('/')?;
            let (cluster, text) = rest.split_once('/')?;
            let rollout = RolloutRef {
                cluster: cluster.to_owned(),
                generation: generation.parse().ok()?,
            };
            (FlashKind::Ok, Some(rollout), text)
        }
        _ => return None,
    };
    Some(Flash {
        kind,
        text: text.chars().take(500).collect(),
        rollout,
    })
}

fn form_urlencoded_pairs(bytes: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .unwrap_or_default()
        .into_iter()
}

/// `text` percent-encoded, for a query string or a cookie.
pub fn encode_component(text: &str) -> String {
    let encoded = serde_urlencoded::to_string([("f", text)]).unwrap_or_default();
    encoded.trim_start_matches("f=").to_owned()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator does not fail on Linux once booted; a zero token would be refused
    // by `is_token` on the next request rather than accepted.
    if getrandom::getrandom(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_survives_its_cookie_encoding() {
        let response = redirect_with("/x", FlashKind::Ok, "weight of 10.0.0.1:80 set to 5; ok?");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap_or_default();
        let value = cookie
            .strip_prefix("lvs_flash=")
            .and_then(|c| c.split(';').next())
            .unwrap_or_default();
        assert_eq!(
            parse_flash(value),
            Some(Flash {
                kind: FlashKind::Ok,
                text: "weight of 10.0.0.1:80 set to 5; ok?".into(),
                rollout: None,
            })
        );
    }

    #[test]
    fn a_committed_flash_names_its_generation_and_cluster() {
        let response = redirect_committed("/x", "edge-1", Some(42), "weight 5/6 set.");
        let cookie = response.headers()[SET_COOKIE].to_str().unwrap_or_default();
        let value = cookie
            .strip_prefix("lvs_flash=")
            .and_then(|c| c.split(';').next())
            .unwrap_or_default();
        let flash = parse_flash(value).expect("a flash");
        assert_eq!(flash.text, "Generation 42: weight 5/6 set.");
        let rollout = flash.rollout.expect("its generation");
        assert_eq!(
            (rollout.cluster.as_str(), rollout.generation),
            ("edge-1", 42)
        );
        assert_eq!(rollout.change_href(), "/clusters/edge-1/changes/42");
        let unchanged = redirect_committed("/x", "edge-1", None, "weight set.");
        let cookie = unchanged.headers()[SET_COOKIE].to_str().unwrap_or_default();
        let value = cookie
            .strip_prefix("lvs_flash=")
            .and_then(|c| c.split(';').next())
            .unwrap_or_default();
        assert_eq!(parse_flash(value).and_then(|f| f.rollout), None);
    }

    #[test]
    fn tokens_are_64_hex_digits() {
        let token = new_token();
        assert!(is_token(&token), "{token}");
        assert_ne!(token, new_token());
        assert!(!is_token("abc"));
    }
}

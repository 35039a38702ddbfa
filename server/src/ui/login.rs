//! Signing in and out. The session cookie is `HttpOnly` and `SameSite=Strict` (and
//! `Secure` over HTTPS, added by the session layer to every cookie); its value is known
//! only to the browser, the server keeps its hash.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::error::{UiError, UiResult};
use super::extract::{Caller, Form};
use super::form::FormState;
use super::page::Chrome;
use super::session::{redirect_with, Browser, FlashKind};
use crate::client::ClientAddr;
use crate::cookies::{self, SESSION as SESSION_COOKIE};
use crate::edit::sessions::{self, SignInError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    username: String,
    next: String,
    error: Option<String>,
}

pub async fn form(browser: Browser, RawQuery(query): RawQuery) -> UiResult<Html<String>> {
    let next = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "next").map(|(_, v)| v))
        .unwrap_or_default();
    let page = LoginPage {
        chrome: Chrome::new(&browser, "Sign in"),
        username: String::new(),
        next: local_path(&next).to_owned(),
        error: None,
    };
    Ok(Html(page.render()?))
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let username = form.value("username").trim().to_owned();
    let next = local_path(form.value("next")).to_owned();
    let again = |status: StatusCode, error: String| -> UiResult<Response> {
        let page = LoginPage {
            chrome: Chrome::new(&browser, "Sign in"),
            username: username.clone(),
            next: next.clone(),
            error: Some(error),
        };
        Ok((status, Html(page.render()?)).into_response())
    };
    let password = form.value("password");
    match sessions::sign_in(&state, &username, password, client).await {
        Ok(signed_in) => {
            let mut response = redirect_with(
                if next.is_empty() { "/" } else { &next },
                FlashKind::Ok,
                &format!("Signed in as {} ({}).", signed_in.user, signed_in.role),
            );
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                signed_in.cookie
            );
            let value = HeaderValue::from_str(&cookie)
                .map_err(|e| UiError::Internal(anyhow::Error::new(e).context("session cookie")))?;
            response.headers_mut().append(SET_COOKIE, value);
            Ok(response)
        }
        Err(SignInError::Refused) => again(
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.".into(),
        ),
        Err(SignInError::Throttled(wait)) => {
            let seconds = wait.as_secs().max(1);
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins. Try again in {seconds} seconds."),
            )?;
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
            Ok(response)
        }
        Err(SignInError::Failed(error)) => Err(error.into()),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
) -> UiResult<Response> {
    let cookie = cookies::value(&headers, SESSION_COOKIE).unwrap_or_default();
    sessions::sign_out(&state, &cookie, &caller.author).await?;
    let mut response = redirect_with("/login", FlashKind::Ok, "Signed out.");
    let clear = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    let value = HeaderValue::from_str(&clear)
        .map_err(|e| UiError::Internal(anyhow::Error::new(e).context("session cookie")))?;
    response.headers_mut().append(SET_COOKIE, value);
    Ok(response)
}

/// `next` if it is a path on this server, else nothing: a sign-in never sends the browser
/// elsewhere (`//evil.example`, `https://...`).
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control);
    if local && !next.starts_with("/login") {
        next
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/clusters/a?x=1"), "/clusters/a?x=1");
        for outside in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "",
            "/login",
        ] {
            assert_eq!(local_path(outside), "", "{outside}");
        }
    }
}

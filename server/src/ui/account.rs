//! `/account`: the signed-in user's own account: its role and grants, a new password, and
//! its API tokens (issued up to its own role, shown once, revoked with a button).

use askama::Template;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use lvs_model::access::Role;

use super::error::UiResult;
use super::extract::{Caller, Form, Path};
use super::form::FormState;
use super::format::utc;
use super::page::Chrome;
use super::secret::SecretPage;
use super::session::{redirect_with, refused, Browser, FlashKind};
use crate::cookies::SESSION as SESSION_COOKIE;
use crate::db::credentials::{self, Principal};
use crate::db::now_millis;
use crate::edit::api_tokens::{self, Owner, TokenRequest};
use crate::edit::{account, EditError};
use crate::state::AppState;

/// The roles a form offers, each with what it may do.
pub const ROLES: &[(&str, &str)] = &[
    ("viewer", "Viewer: reads everything"),
    ("operator", "Operator: also edits services of its clusters"),
    ("admin", "Admin: also clusters, directors and users"),
];

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    name: String,
    role: Role,
    grants: Vec<String>,
    tokens: Vec<TokenLine>,
    password_form: FormState,
    token_form: FormState,
    /// The roles up to the user's own.
    roles: Vec<(&'static str, &'static str)>,
}

/// One API token of the user.
struct TokenLine {
    id: i64,
    name: String,
    role: String,
    clusters: String,
    created: String,
    expires: String,
    last_used: String,
}

pub async fn page(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
) -> UiResult<Response> {
    let forms = (FormState::default(), FormState::default());
    render(&state, &browser, &caller.principal, forms, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    browser: &Browser,
    principal: &Principal,
    (password_form, mut token_form): (FormState, FormState),
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let tokens = match principal.user_id {
        Some(user_id) => credentials::list_tokens(&mut tx, Some(user_id)).await?,
        None => Vec::new(),
    };
    let user = crate::db::users::get(&mut tx, &principal.actor.name).await?;
    drop(tx);
    if token_form.value("role").is_empty() {
        token_form.set("role", "viewer");
    }
    let never = |at: Option<i64>, none: &str| at.map_or_else(|| none.to_owned(), utc);
    let page = AccountPage {
        chrome: Chrome::new(browser, "Your account"),
        name: principal.actor.name.clone(),
        role: principal.role,
        grants: user.map(|u| u.grants).unwrap_or_default(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                id: t.id,
                name: t.name,
                role: t.role.to_string(),
                clusters: t.clusters.join(", "),
                created: utc(t.created_at),
                expires: never(t.expires_at, "never"),
                last_used: never(t.last_used_at, "not yet"),
            })
            .collect(),
        password_form,
        token_form,
        roles: roles_up_to(principal.role),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The roles a user of `role` may give: its own and those below.
pub fn roles_up_to(role: Role) -> Vec<(&'static str, &'static str)> {
    ROLES
        .iter()
        .copied()
        .filter(|(name, _)| name.parse::<Role>().is_ok_and(|r| r <= role))
        .collect()
}

/// Changes the user's own password; every session of it ends, so it signs in again.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let (current, password) = (form.value("current_password"), form.value("password"));
    let result = if password != form.value("password_again") {
        Err(EditError::invalid(
            "password_again",
            "does not match the new password",
        ))
    } else {
        account::change_password(&state, &caller.principal, current, password, &caller.author).await
    };
    match result {
        Ok(()) => {
            let text =
                "Your password was changed and your sessions ended: sign in with the new one.";
            let mut response = redirect_with("/login", FlashKind::Ok, text);
            let clear = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
            if let Ok(value) = HeaderValue::from_str(&clear) {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(error) => {
            let shown = ["current_password", "password", "password_again"];
            form.refused(error, &shown)?;
            let forms = (form, FormState::default());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &browser, &caller.principal, forms, status).await
        }
    }
}

/// Issues an API token of the user's own, and shows it once.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let result = match token_request(&form, &caller.principal) {
        Ok(request) => {
            api_tokens::create(&state.db, &request, Some(&caller.principal), &caller.author).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(issued) => {
            let page = SecretPage {
                chrome: Chrome::new(&browser, format!("API token {}", issued.row.name))
                    .crumb("Your account", "/account"),
                heading: format!("API token {}", issued.row.name),
                note: format!(
                    "A {} token acting as {}. Send it as Authorization: Bearer <token>.",
                    issued.row.role, caller.principal.actor.name
                ),
                label: "Token",
                secret: issued.token,
                back: "/account".into(),
                back_label: "Done: back to your account",
            };
            page.respond()
        }
        Err(error) => {
            form.refused(error, &["name", "role", "clusters", "expires_at"])?;
            let forms = (FormState::default(), form);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &browser, &caller.principal, forms, status).await
        }
    }
}

/// The token the form asks for, or why it cannot be.
fn token_request(form: &FormState, by: &Principal) -> Result<TokenRequest, EditError> {
    let role = form
        .value("role")
        .parse()
        .map_err(|why: String| EditError::invalid("role", why))?;
    let expires_at = expiry(form.value("expires_at"), now_millis())
        .map_err(|why| EditError::invalid("expires_at", why))?;
    Ok(TokenRequest {
        name: form.value("name").to_owned(),
        owner: Owner::User(by.actor.name.clone()),
        role,
        clusters: names(form.value("clusters")),
        expires_at,
    })
}

/// Revokes one of the user's tokens (an admin's: any).
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> UiResult<Response> {
    match api_tokens::revoke(&state.db, id, Some(&caller.principal), &caller.author).await {
        Ok(()) => Ok(redirect_with(
            "/account",
            FlashKind::Ok,
            "API token revoked: it no longer works.",
        )),
        Err(error) => refused("/account", error, "token"),
    }
}

/// Cluster names as typed: separated by commas or spaces.
pub fn names(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An expiry as typed: empty (never), a number of days (`30d`), a date (`2027-01-31`,
/// midnight UTC) or an RFC 3339 time; Unix milliseconds.
fn expiry(text: &str, now: i64) -> Result<Option<i64>, String> {
    const DAY_MS: i64 = 86_400_000;
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(days) = text.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| format!("{text:?}: a number of days is 1d to 3650d"))?;
        return Ok(Some(now + days * DAY_MS));
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(day) = time::Date::parse(text, &date) {
        let at = day.midnight().assume_utc().unix_timestamp() * 1000;
        return Ok(Some(at));
    }
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, rfc3339)
        .map(|t| Some(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)))
        .map_err(|_| format!("{text:?} is none of 30d, 2027-01-31 or 2027-01-31T12:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_as_typed() {
        let now = 1_000_000;
        assert_eq!(expiry("", now), Ok(None));
        assert_eq!(expiry("2d", now), Ok(Some(now + 2 * 86_400_000)));
        assert_eq!(expiry("1970-01-02", now), Ok(Some(86_400_000)));
        assert_eq!(expiry("1970-01-01T00:00:01Z", now), Ok(Some(1000)));
        assert!(expiry("0d", now).is_err());
        assert!(expiry("soon", now).is_err());
        assert_eq!(names(" a, b  c,"), ["a", "b", "c"]);
    }
}

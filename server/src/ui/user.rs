//! `/users/{user}` (admins): one user's role and grants changed, its password reset (a
//! generated one shown once), the user removed after a confirmation.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_model::access::Role;

use super::account::{names, ROLES};
use super::error::UiResult;
use super::extract::{Caller, Form, Path};
use super::form::FormState;
use super::page::{path_segment, Chrome, ConfirmPage};
use super::secret::SecretPage;
use super::session::{redirect_with, refused, Browser, FlashKind};
use super::users::UserLine;
use crate::edit::users::UserChange;
use crate::edit::{self, passwords, EditError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    chrome: Chrome,
    user: UserLine,
    form: FormState,
    password_form: FormState,
    roles: &'static [(&'static str, &'static str)],
}

pub async fn page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    browser: Browser,
) -> UiResult<Response> {
    let forms = (None, FormState::default());
    render(&state, &browser, &name, forms, StatusCode::OK).await
}

/// The page; the change form shows the stored role and grants unless `form` is given.
async fn render(
    state: &AppState,
    browser: &Browser,
    name: &str,
    (form, password_form): (Option<FormState>, FormState),
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let user = crate::db::users::get(&mut tx, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    drop(tx);
    let form = form.unwrap_or_else(|| {
        let mut form = FormState::default();
        form.set("role", user.role.as_str());
        form.set("clusters", &user.grants.join(", "));
        form
    });
    let page = UserPage {
        chrome: Chrome::new(browser, format!("User {}", user.name))
            .crumb("Fleet", "/")
            .crumb("Users", "/users"),
        user: user.into(),
        form,
        password_form,
        roles: ROLES,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Changes the user's role and grants.
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let result = match form.value("role").parse::<Role>() {
        Ok(role) => {
            let change = UserChange {
                role: Some(role),
                clusters: Some(names(form.value("clusters"))),
            };
            edit::users::change(&state.db, &name, &change, &caller.author).await
        }
        Err(why) => Err(EditError::invalid("role", why)),
    };
    match result {
        Ok(()) => {
            let here = format!("/users/{}", path_segment(&name));
            Ok(redirect_with(
                &here,
                FlashKind::Ok,
                &format!("User {name} changed."),
            ))
        }
        Err(error) => {
            form.refused(error, &["role", "clusters"])?;
            let forms = (Some(form), FormState::default());
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &browser, &name, forms, status).await
        }
    }
}

/// Sets the user's password, typed or generated (then shown once); its sessions end.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let (password, generated) = match form.text("password") {
        Some(password) => (password, false),
        None => (passwords::generate().map_err(EditError::Internal)?, true),
    };
    let here = format!("/users/{}", path_segment(&name));
    match edit::users::set_password(&state.db, &name, &password, &caller.author).await {
        Ok(()) if generated => SecretPage {
            chrome: Chrome::new(&browser, format!("New password of {name}"))
                .crumb("Users", "/users"),
            heading: format!("New password of {name}"),
            note: format!("Every session of user {name} ended. Give them this password."),
            label: "Password",
            secret: password,
            back: here,
            back_label: "Done: back to the user",
        }
        .respond(),
        Ok(()) => Ok(redirect_with(
            &here,
            FlashKind::Ok,
            &format!("Password of {name} changed; its sessions ended."),
        )),
        Err(error) => {
            form.refused(error, &["password"])?;
            let forms = (None, form);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &browser, &name, forms, status).await
        }
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let user = crate::db::users::get(&mut tx, &name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    drop(tx);
    let here = format!("/users/{}", path_segment(&user.name));
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Remove user {}", user.name))
            .crumb("Fleet", "/")
            .crumb("Users", "/users"),
        question: format!("Remove user {}?", user.name),
        detail: "Its sessions end and its API tokens stop working at once. What it changed \
                 stays in the history and the audit log."
            .to_owned(),
        action: format!("{here}/delete"),
        etag: String::new(),
        button: "Remove user",
        cancel: here,
    };
    Ok(Html(page.render()?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> UiResult<Response> {
    let here = format!("/users/{}", path_segment(&name));
    match edit::users::remove(&state.db, &name, &caller.author).await {
        Ok(()) => Ok(redirect_with(
            "/users",
            FlashKind::Ok,
            &format!("User {name} removed."),
        )),
        Err(error) => refused(&here, error, "user"),
    }
}

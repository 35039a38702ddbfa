//! `/users` (admins): every user with its role and grants, and adding one, with a password
//! typed or generated (then shown once).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_model::access::Role;

use super::account::{names, ROLES};
use super::error::UiResult;
use super::extract::{Caller, Form};
use super::form::FormState;
use super::format::utc;
use super::page::{path_segment, Chrome};
use super::secret::SecretPage;
use super::session::{redirect_with, Browser, FlashKind};
use crate::db::users;
use crate::edit::{self, passwords, EditError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserLine>,
    form: FormState,
    roles: &'static [(&'static str, &'static str)],
}

/// A user as the pages list it.
pub struct UserLine {
    pub name: String,
    pub href: String,
    pub role: String,
    pub clusters: String,
    pub created: String,
    pub password_changed: String,
}

impl From<users::User> for UserLine {
    fn from(user: users::User) -> Self {
        UserLine {
            href: format!("/users/{}", path_segment(&user.name)),
            name: user.name,
            role: user.role.to_string(),
            clusters: user.grants.join(", "),
            created: utc(user.created_at),
            password_changed: utc(user.password_changed_at),
        }
    }
}

pub async fn page(State(state): State<AppState>, browser: Browser) -> UiResult<Response> {
    let mut form = FormState::default();
    form.set("role", "viewer");
    render(&state, &browser, form, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    browser: &Browser,
    form: FormState,
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let users = users::list(&mut tx).await?;
    drop(tx);
    let page = UsersPage {
        chrome: Chrome::new(browser, "Users").crumb("Fleet", "/"),
        users: users.into_iter().map(UserLine::from).collect(),
        form,
        roles: ROLES,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Adds a user; a generated password is shown once.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let name = form.value("name").to_owned();
    let (password, generated) = match form.text("password") {
        Some(password) => (password, false),
        None => (passwords::generate().map_err(EditError::Internal)?, true),
    };
    let result = match form.value("role").parse::<Role>() {
        Ok(role) => {
            let clusters = names(form.value("clusters"));
            let author = &caller.author;
            edit::users::add(&state.db, &name, role, &clusters, &password, author).await
        }
        Err(why) => Err(EditError::invalid("role", why)),
    };
    match result {
        Ok(()) if generated => SecretPage {
            chrome: Chrome::new(&browser, format!("User {name} added")).crumb("Users", "/users"),
            heading: format!("User {name} added"),
            note: format!("The password of user {name}, to give to them."),
            label: "Password",
            secret: password,
            back: "/users".into(),
            back_label: "Done: back to users",
        }
        .respond(),
        Ok(()) => Ok(redirect_with(
            "/users",
            FlashKind::Ok,
            &format!("User {name} added."),
        )),
        Err(error) => {
            form.refused(error, &["name", "role", "clusters", "password"])?;
            render(&state, &browser, form, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

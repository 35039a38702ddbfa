//! Saving the service page's health-check form: the check, `min_healthy` and the sorry
//! server, through the same edit as the API, with the page's ETag as precondition.

use super::extract::Caller;
use axum::extract::State;
use axum::response::Response;

use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::health_form;
use super::service::{Forms, Submitted};
use super::session::Browser;
use crate::state::AppState;

pub async fn update(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let settings = health_form::settings(&mut form);
    // A number that is not one stops the edit; the check's other problems are still
    // named, so all are fixed at once.
    if form.has_errors() {
        form.add_validation(&settings.check_errors(), health_form::FIELDS);
    }
    let health = |form| Forms {
        health: Some(form),
        ..Forms::default()
    };
    let submitted = Submitted {
        form,
        refuse: |form, error| form.refused(error, health_form::FIELDS),
        place: health,
        saved: "health check of",
    };
    let apply = |stored| Ok(settings.apply(stored));
    submitted
        .save(&state, &browser, &caller, &cluster, id, apply)
        .await
}

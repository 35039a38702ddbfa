//! Saving the service page's health-check form: the check, `min_healthy` and the sorry
//! server, through the same edit as the API, with the page's ETag as precondition.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::health_form;
use super::page::path_segment;
use super::service::{self, Forms};
use super::session::{redirect_with, Browser, FlashKind};
use crate::edit::{self, IfMatch, Source};
use crate::state::AppState;

pub async fn update(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let settings = health_form::settings(&mut form);
    // A number that is not one stops the edit; the check's other problems are still
    // named, so all are fixed at once.
    if form.has_errors() {
        form.add_validation(&settings.check_errors(), health_form::FIELDS);
    } else {
        let if_match = IfMatch::from_etag(form.value("etag"));
        let apply = |stored| Ok(settings.apply(stored));
        match edit::services::update(&state, &cluster, id, &if_match, Source::Ui, apply).await {
            Ok(row) => {
                let location = format!("/clusters/{}/services/{id}", path_segment(&cluster));
                let text = format!("Health check of {} saved.", row.service_key);
                return Ok(redirect_with(&location, FlashKind::Ok, &text));
            }
            Err(error) => form.refused(error, health_form::FIELDS)?,
        }
    }
    let forms = Forms {
        health: Some(form),
        ..Forms::default()
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    service::render(&state, &browser, &cluster, id, forms, status).await
}

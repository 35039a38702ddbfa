//! The service page's real server actions: add, set weight, drain, restore, remove.
//! Each answers with a redirect to the service page, or with the page again showing the
//! refused form and why.

use super::extract::Caller;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, Response};

use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::page::{path_segment, Chrome, ConfirmPage, Tab};
use super::real_server_form;
use super::service::{self, Forms};
use super::session::{redirect_committed, refused, Browser};
use crate::edit::lookup;
use crate::edit::{self, IfMatch};
use crate::resources::etag;
use crate::resources::RealServer;
use crate::state::AppState;

type RealServerPath = (String, i64, i64);

fn service_href(cluster: &str, service: i64) -> String {
    format!("/clusters/{}/services/{service}", path_segment(cluster))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service)): Path<(String, i64)>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = real_server_form::spec(&mut form);
    if !form.has_errors() {
        match edit::real_servers::create(&state, &cluster, service, &spec, &caller.author).await {
            Ok(added) => {
                let text = format!(
                    "real server {} added. Directors send it connections once they apply it.",
                    added.value.key()
                );
                let location = service_href(&cluster, service);
                return Ok(redirect_committed(
                    &location,
                    &cluster,
                    added.generation,
                    &text,
                ));
            }
            Err(error) => form.refused(error, real_server_form::FIELDS)?,
        }
    }
    let forms = Forms {
        add: Some(form),
        ..Forms::default()
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    service::render(&state, &browser, &cluster, service, forms, status).await
}

/// The inline weight edit.
pub async fn weight(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let weight = form.required_number(
        "weight",
        "required: 0 to 65535 (0 takes no new connections)",
    );
    if let Some(weight) = weight {
        let if_match = IfMatch::from_etag(form.value("etag"));
        let edited = edit::real_servers::set_weight(
            &state,
            &cluster,
            service,
            id,
            weight,
            &if_match,
            &caller.author,
        )
        .await;
        match edited {
            Ok(edited) => {
                let row = &edited.value;
                let text = format!("weight of {} set to {}.", row.key(), row.weight);
                let location = service_href(&cluster, service);
                return Ok(redirect_committed(
                    &location,
                    &cluster,
                    edited.generation,
                    &text,
                ));
            }
            Err(error) => form.refused(error, &["weight"])?,
        }
    }
    let forms = Forms {
        weight: Some((id, form)),
        ..Forms::default()
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    service::render(&state, &browser, &cluster, service, forms, status).await
}

pub async fn drain(
    State(state): State<AppState>,
    Path((cluster, service, id)): Path<RealServerPath>,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    set_state(state, &caller, cluster, service, id, pairs, Drain::Drain).await
}

pub async fn restore(
    State(state): State<AppState>,
    Path((cluster, service, id)): Path<RealServerPath>,
    caller: Caller,
    Form(pairs): Form,
) -> UiResult<Response> {
    set_state(state, &caller, cluster, service, id, pairs, Drain::Restore).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    Drain,
    Restore,
}

async fn set_state(
    state: AppState,
    caller: &Caller,
    cluster: String,
    service: i64,
    id: i64,
    pairs: Vec<(String, String)>,
    action: Drain,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let if_match = IfMatch::from_etag(form.value("etag"));
    let location = service_href(&cluster, service);
    let result = match action {
        Drain::Drain => {
            edit::real_servers::drain(&state, &cluster, service, id, &if_match, &caller.author)
                .await
        }
        Drain::Restore => {
            edit::real_servers::restore(&state, &cluster, service, id, &if_match, &caller.author)
                .await
        }
    };
    match result {
        Ok(edited) => {
            let row = &edited.value;
            let text = match action {
                Drain::Drain => format!(
                    "{} drained. Directors stop sending it new connections as they apply \
                     this; its open ones finish.",
                    row.key()
                ),
                Drain::Restore => format!("{} restored to weight {}.", row.key(), row.weight),
            };
            Ok(redirect_committed(
                &location,
                &cluster,
                edited.generation,
                &text,
            ))
        }
        Err(error) => refused(&location, error, "real server"),
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Path((cluster, service, id)): Path<RealServerPath>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let mut tx = state.db.read().await?;
    let cluster_row = lookup::cluster(&mut tx, &cluster).await?;
    let service_row = lookup::service(&mut tx, &cluster_row, service).await?;
    let row = lookup::real_server(&mut tx, &service_row, id).await?;
    drop(tx);
    let back = service_href(&cluster_row.name, service);
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Remove {}", row.key()))
            .in_cluster(&cluster_row.name, Tab::Services)
            .crumb(service_row.service_key.clone(), back.clone()),
        question: format!("Remove {} from {}?", row.key(), service_row.service_key),
        detail: "Directors set its weight to 0 at once, so it gets no new connections, and \
                 delete it from the kernel once its open connections finish (UDP at once)."
            .to_owned(),
        action: format!("{back}/real-servers/{id}/delete"),
        etag: etag(&RealServer::from(&row)),
        button: "Remove real server",
        cancel: back,
    };
    Ok(Html(page.render()?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, service, id)): Path<RealServerPath>,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let if_match = IfMatch::from_etag(form.value("etag"));
    let location = service_href(&cluster, service);
    match edit::real_servers::delete(&state, &cluster, service, id, &if_match, &caller.author).await
    {
        Ok(removed) => Ok(redirect_committed(
            &location,
            &cluster,
            removed.generation,
            "real server removed. Directors drain it and delete it from the kernel as \
             they apply this.",
        )),
        Err(error) => refused(&location, error, "real server"),
    }
}

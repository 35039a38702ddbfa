//! A cluster's settings page: its description, connection timeouts and host settings (where
//! the agents put VIPs, IPVS sysctls,
//! connection sync) as one form. Everyone reads it; only admins may save
//! it, so the others are shown the settings read only.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::response::{IntoResponse, Response};
use lvs_model::spec::ClusterSpec;

use super::cluster::cluster_href;
use super::cluster_form::{self, Sysctl};
use super::error::UiResult;
use super::extract::{Caller, Form, Path};
use super::form::FormState;
use super::page::{Chrome, Tab};
use super::session::{redirect_committed, redirect_with, Browser, FlashKind};
use crate::db::clusters::ClusterRow;
use crate::edit::{self, lookup, IfMatch};
use crate::resources::cluster_etag;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "cluster_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    cluster: String,
    generation: u64,
    /// Where the form posts, and the page to reload after a conflict.
    action: String,
    form: FormState,
    vip_choices: &'static [(&'static str, &'static str)],
    sysctls: &'static [Sysctl],
    sync_roles: &'static [(&'static str, &'static str)],
}

pub async fn page(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    browser: Browser,
) -> UiResult<Response> {
    render(&state, &browser, &cluster, None, StatusCode::OK).await
}

/// Saves the form; the desired state changes (a new generation) when the timeouts or the
/// host settings do, not for the description alone.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = ClusterSpec {
        name: Some(cluster.clone()),
        description: form.value("description").to_owned(),
        timeouts: cluster_form::timeouts(&mut form),
        host: Some(cluster_form::host(&mut form)),
    };
    let fields = cluster_form::settings_fields();
    // A number that is not one stops the edit; the model still names every other
    // problem, so all are fixed at once.
    if form.has_errors() {
        if let Err(errors) = spec.parse() {
            form.add_validation(&errors, &fields);
        }
    } else {
        let if_match = IfMatch::from_etag(form.value("etag"));
        match edit::clusters::replace(&state, &cluster, spec, &if_match, &caller.author).await {
            Ok(saved) => {
                let row = &saved.value;
                let location = settings_href(&row.name);
                // Without a generation only the description changed: nothing to roll out.
                return Ok(match saved.generation {
                    Some(generation) => {
                        let text = format!("settings of cluster {} saved.", row.name);
                        redirect_committed(&location, &row.name, Some(generation), &text)
                    }
                    None => {
                        let text = format!("Settings of cluster {} saved.", row.name);
                        redirect_with(&location, FlashKind::Ok, &text)
                    }
                });
            }
            Err(error) => form.refused(error, &fields)?,
        }
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(&state, &browser, &cluster, Some(form), status).await
}

/// The page with `form` as submitted, or filled from the stored settings.
async fn render(
    state: &AppState,
    browser: &Browser,
    cluster: &str,
    form: Option<FormState>,
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let row = lookup::cluster(&mut tx, cluster).await?;
    drop(tx);
    let form = match form {
        Some(form) => form,
        None => filled(&row)?,
    };
    let page = SettingsPage {
        chrome: Chrome::new(browser, "Settings").in_cluster(&row.name, Tab::Settings),
        action: settings_href(&row.name),
        cluster: row.name,
        generation: row.generation.get(),
        form,
        vip_choices: cluster_form::VIP_CHOICES,
        sysctls: cluster_form::SYSCTLS,
        sync_roles: cluster_form::SYNC_ROLES,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// The form showing the stored settings, with the ETag and generation they were read at.
fn filled(row: &ClusterRow) -> UiResult<FormState> {
    let mut form = FormState::default();
    form.set("description", &row.description);
    cluster_form::fill_timeouts(&mut form, &row.timeouts_spec());
    cluster_form::fill_host(&mut form, &row.host()?);
    form.set("etag", &cluster_etag(row));
    form.set("generation", &row.generation());
    Ok(form)
}

pub fn settings_href(cluster: &str) -> String {
    format!("{}/settings", cluster_href(cluster))
}

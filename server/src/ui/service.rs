//! A virtual service's page: its settings as a form, its pool of real servers with inline
//! edits, and live traffic per real server and director; plus creating and deleting one.

use super::extract::Caller;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::UiResult;
use super::extract::{Form, Path};
use super::form::FormState;
use super::graph_range::GraphRange;
use super::page::{path_segment, Chrome, ConfirmPage, Tab};
use super::service_merge::{self, Merged, SettingsMerge};
use super::service_view::{self, ServiceView};
use super::session::{redirect_committed, refused, Browser};
use super::{health_form, real_server_form, service_form};
use crate::edit::lookup;
use crate::edit::{self, EditError, EditResult, IfMatch};
use crate::state::AppState;
use lvs_model::spec::ServiceSpec;

/// The forms of the service page, as submitted when one of them needs correcting.
#[derive(Debug, Default)]
pub struct Forms {
    pub settings: Option<FormState>,
    /// The settings form's fields that would undo someone's change, to choose.
    pub settings_merge: Option<SettingsMerge>,
    pub add: Option<FormState>,
    pub health: Option<FormState>,
    /// A real server's weight edit, by real server id.
    pub weight: Option<(i64, FormState)>,
    /// The time the traffic graphs show.
    pub range: GraphRange,
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    chrome: Chrome,
    /// The page's address, which its forms post under.
    base: String,
    view: ServiceView,
    settings: FormState,
    settings_merge: Option<SettingsMerge>,
    add: FormState,
    health: FormState,
    weight: Option<(i64, FormState)>,
    check_kinds: &'static [(&'static str, &'static str)],
    on_failures: &'static [(&'static str, &'static str)],
    initials: &'static [(&'static str, &'static str)],
    methods: &'static [(&'static str, &'static str)],
    sorry_forwarding: Vec<(&'static str, &'static str)>,
    kinds: &'static [(&'static str, &'static str)],
    families: &'static [(&'static str, &'static str)],
    engines: &'static [(&'static str, &'static str)],
    schedulers: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
    forwarding: &'static [(&'static str, &'static str)],
    tunnel_types: &'static [(&'static str, &'static str)],
    tunnel_checksums: &'static [(&'static str, &'static str)],
}

impl ServicePage {
    fn real_server_href(&self, id: &i64) -> String {
        format!("{}/real-servers/{id}", self.base)
    }

    /// The weight form's state for `id`: the submitted one when it is being corrected.
    fn weight_form(&self, id: &i64, weight: &i64) -> FormState {
        match &self.weight {
            Some((edited, form)) if edited == id => form.clone(),
            _ => {
                let mut form = FormState::default();
                form.set("weight", weight);
                form
            }
        }
    }
}

#[derive(Template)]
#[template(path = "service_live.html")]
struct LivePanel {
    view: ServiceView,
}

#[derive(Template)]
#[template(path = "service_new.html")]
struct NewServicePage {
    chrome: Chrome,
    cluster: String,
    form: FormState,
    kinds: &'static [(&'static str, &'static str)],
    families: &'static [(&'static str, &'static str)],
    engines: &'static [(&'static str, &'static str)],
    schedulers: Vec<(&'static str, String)>,
    flags: Vec<&'static str>,
}

pub async fn page(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    RawQuery(raw): RawQuery,
    browser: Browser,
) -> UiResult<Response> {
    let forms = Forms {
        range: GraphRange::from_query(raw.as_deref())?,
        ..Forms::default()
    };
    render(&state, &browser, &cluster, id, forms, StatusCode::OK).await
}

/// The page with `forms` as submitted; `status` tells a form's refusal from a plain view.
pub async fn render(
    state: &AppState,
    browser: &Browser,
    cluster: &str,
    id: i64,
    forms: Forms,
    status: StatusCode,
) -> UiResult<Response> {
    let view = service_view::load_over(state, cluster, id, forms.range).await?;
    let chrome = Chrome::new(browser, format!("Service {}", view.key))
        .in_cluster(&view.cluster, Tab::Services);
    let settings = forms.settings.unwrap_or_else(|| {
        let mut form = service_form::filled(&view.spec);
        form.set("etag", &view.etag);
        form.set("generation", &view.generation);
        form
    });
    let add = forms
        .add
        .unwrap_or_else(|| real_server_form::blank(view.usual_forwarding()));
    let health = forms.health.unwrap_or_else(|| {
        let mut form = health_form::filled(&view.spec);
        form.set("etag", &view.etag);
        form
    });
    let page = ServicePage {
        chrome,
        base: format!("/clusters/{}/services/{id}", path_segment(&view.cluster)),
        view,
        settings,
        settings_merge: forms.settings_merge,
        add,
        health,
        weight: forms.weight,
        check_kinds: health_form::KINDS,
        on_failures: health_form::ON_FAILURE,
        initials: health_form::INITIAL,
        methods: health_form::METHODS,
        sorry_forwarding: std::iter::once(("", "-"))
            .chain(real_server_form::FORWARDING.iter().copied())
            .collect(),
        kinds: service_form::KINDS,
        families: service_form::FAMILIES,
        engines: service_form::ENGINES,
        schedulers: service_form::schedulers(),
        flags: service_form::flags(),
        forwarding: real_server_form::FORWARDING,
        tunnel_types: real_server_form::TUNNEL_TYPES,
        tunnel_checksums: real_server_form::TUNNEL_CHECKSUMS,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Live numbers and graphs, refreshed in place every few seconds.
pub async fn live(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    RawQuery(raw): RawQuery,
) -> UiResult<Html<String>> {
    let range = GraphRange::from_query(raw.as_deref())?;
    let view = service_view::load_over(&state, &cluster, id, range).await?;
    Ok(Html(LivePanel { view }.render()?))
}

pub async fn new_form(
    State(state): State<AppState>,
    Path(cluster): Path<String>,
    browser: Browser,
) -> UiResult<Response> {
    render_new(
        &state,
        &browser,
        &cluster,
        service_form::blank(),
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(cluster): Path<String>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = service_form::spec(&mut form);
    // A number that is not one stops the edit; the model still names every other
    // problem, so all are fixed at once.
    if form.has_errors() {
        if let Err(errors) = spec.parse() {
            service_form::add_validation(&mut form, &errors);
        }
    } else {
        match edit::services::create(&state, &cluster, &spec, &caller.author).await {
            Ok(created) => {
                let row = &created.value;
                let location = format!("/clusters/{}/services/{}", path_segment(&cluster), row.id);
                let text = format!(
                    "service {} created. Add its real servers below.",
                    row.service_key
                );
                let generation = created.generation;
                return Ok(redirect_committed(&location, &cluster, generation, &text));
            }
            Err(error) => service_form::refused(&mut form, error)?,
        }
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render_new(&state, &browser, &cluster, form, status).await
}

async fn render_new(
    state: &AppState,
    browser: &Browser,
    cluster: &str,
    form: FormState,
    status: StatusCode,
) -> UiResult<Response> {
    let mut tx = state.db.read().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    drop(tx);
    let page = NewServicePage {
        chrome: Chrome::new(browser, "New service").in_cluster(&cluster.name, Tab::Services),
        cluster: cluster.name,
        form,
        kinds: service_form::KINDS,
        families: service_form::FAMILIES,
        engines: service_form::ENGINES,
        schedulers: service_form::schedulers(),
        flags: service_form::flags(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Saves the settings form.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
    Form(pairs): Form,
) -> UiResult<Response> {
    let mut form = FormState::from_pairs(pairs);
    let spec = service_form::spec(&mut form);
    // A number that is not one stops the edit; the model still names every other
    // problem, so all are fixed at once.
    if form.has_errors() {
        if let Err(errors) = spec.parse() {
            service_form::add_validation(&mut form, &errors);
        }
    }
    // Merged with what others changed since the form was loaded.
    let spec = if form.has_errors() {
        spec
    } else {
        match service_merge::resolve(&state, &cluster, id, &mut form, spec).await? {
            Merged::Save(spec) => *spec,
            Merged::Choose(merge) => {
                let forms = Forms {
                    settings: Some(form),
                    settings_merge: Some(merge),
                    ..Forms::default()
                };
                let status = StatusCode::CONFLICT;
                return render(&state, &browser, &cluster, id, forms, status).await;
            }
        }
    };
    // The form shows no health settings: those stored are kept.
    let keep_health = |stored: ServiceSpec| {
        Ok(ServiceSpec {
            health_check: stored.health_check,
            sorry_server: stored.sorry_server,
            min_healthy: stored.min_healthy,
            ..spec
        })
    };
    let settings = |form| Forms {
        settings: Some(form),
        ..Forms::default()
    };
    let submitted = Submitted {
        form,
        refuse: service_form::refused,
        place: settings,
        saved: "service",
    };
    submitted
        .save(&state, &browser, &caller, &cluster, id, keep_health)
        .await
}

/// One of the page's forms, read: saved unless it has errors of its own.
pub struct Submitted {
    pub form: FormState,
    /// Shows an edit's refusal on the form, each error at its field.
    pub refuse: fn(&mut FormState, EditError) -> Result<(), EditError>,
    /// Where on the page it goes when shown again.
    pub place: fn(FormState) -> Forms,
    /// What the message after saving calls the object saved, before the service's key.
    pub saved: &'static str,
}

impl Submitted {
    /// Saves the service as `apply` changes it, with the form's ETag as precondition, and
    /// goes back to the page; refused, or with errors of its own, the page again with the
    /// errors at their fields.
    pub async fn save(
        mut self,
        state: &AppState,
        browser: &Browser,
        caller: &Caller,
        cluster: &str,
        id: i64,
        apply: impl FnOnce(ServiceSpec) -> EditResult<ServiceSpec>,
    ) -> UiResult<Response> {
        if !self.form.has_errors() {
            let if_match = IfMatch::from_etag(self.form.value("etag"));
            match edit::services::update(state, cluster, id, &if_match, &caller.author, apply).await
            {
                Ok(saved) => {
                    let location = format!("/clusters/{}/services/{id}", path_segment(cluster));
                    let text = format!("{} {} saved.", self.saved, saved.value.service_key);
                    let generation = saved.generation;
                    return Ok(redirect_committed(&location, cluster, generation, &text));
                }
                Err(error) => (self.refuse)(&mut self.form, error)?,
            }
        }
        let forms = (self.place)(self.form);
        render(
            state,
            browser,
            cluster,
            id,
            forms,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    }
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    Path((cluster, id)): Path<(String, i64)>,
    browser: Browser,
) -> UiResult<Html<String>> {
    let view = service_view::load(&state, &cluster, id).await?;
    let page_href = format!("/clusters/{}/services/{id}", path_segment(&view.cluster));
    let page = ConfirmPage {
        chrome: Chrome::new(&browser, format!("Delete service {}", view.key))
            .in_cluster(&view.cluster, Tab::Services)
            .crumb(view.key.clone(), page_href.clone()),
        question: format!("Delete service {}?", view.key),
        detail: format!(
            "Its {} real servers go with it. Directors stop accepting new connections for it \
             and remove it from the kernel once its open connections finish (or their drain \
             timeout passes).",
            view.real_servers.len()
        ),
        action: format!("{page_href}/delete"),
        etag: view.etag,
        button: "Delete service",
        cancel: page_href,
    };
    Ok(Html(page.render()?))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((cluster, id)): Path<(String, i64)>,
    Form(pairs): Form,
) -> UiResult<Response> {
    let form = FormState::from_pairs(pairs);
    let if_match = IfMatch::from_etag(form.value("etag"));
    let back = format!("/clusters/{}", path_segment(&cluster));
    match edit::services::delete(&state, &cluster, id, &if_match, &caller.author).await {
        Ok(deleted) => Ok(redirect_committed(
            &back,
            &cluster,
            deleted.generation,
            "service deleted. Directors drain it and delete it from the kernel as they \
             apply this.",
        )),
        Err(error) => refused(&format!("{back}/services/{id}"), error, "service"),
    }
}

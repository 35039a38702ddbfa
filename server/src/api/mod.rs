//! The REST API: one module per resource, each handler documented for the OpenAPI spec,
//! which is generated from these same routes.

pub mod account;
pub mod agent;
pub mod api_tokens;
pub mod audit;
pub(crate) mod auth;
pub mod changes;
pub mod clusters;
pub mod desired_state;
pub mod directors;
mod doc;
pub mod error;
mod explorer;
pub mod extract;
pub mod health;
pub mod import;
pub mod metrics;
pub mod probes;
pub mod real_server_agent;
pub mod real_server_hosts;
pub mod real_servers;
pub mod response;
pub mod revert;
pub mod services;
pub mod stats;
pub mod tokens;
pub mod users;

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use error::ApiError;

#[derive(OpenApi)]
#[openapi(
    modifiers(&AgentTokenScheme),
    info(
        title = "LVS Fleet API",
        description = "Desired IPVS configuration of a fleet of Linux Virtual Server directors. \
            Errors are `application/problem+json` with a stable `code`. Every resource has an \
            `ETag`; send it back in `If-Match` on PUT, PATCH and DELETE to be told (412) \
            when someone else changed it first. PATCH takes a JSON merge patch.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "clusters", description = "Groups of directors that serve the same services"),
        (name = "directors", description = "Hosts running lvs-agent for a cluster"),
        (name = "services", description = "Virtual services"),
        (name = "real servers", description = "Where a virtual service sends connections"),
        (name = "desired state", description = "A cluster's whole configuration as one document"),
        (name = "statistics", description = "Counters and rates the agents report"),
        (name = "access", description = "API tokens, users and the audit log"),
        (name = "health checks", description = "Real servers' health as the directors \
            check it"),
        (name = "real-server hosts", description = "Hosts behind route and tunnel \
            services, whose lvs-agent (`--role real-server`) holds the VIPs they need"),
        (name = "agent", description = "What lvs-agent calls: a director's agent with its \
            director's token (`Authorization: Bearer lvsa_...`), a real-server host's agent \
            (`/api/v1/agent/real-server`) with its host's (`lvsr_...`)"),
        (name = "probes", description = "Liveness and readiness of the server"),
        (name = "metrics", description = "The server's and the fleet's metrics for Prometheus")
    )
)]
struct ApiDoc;

/// The `agent_token` security scheme of the `/api/v1/agent/*` endpoints.
struct AgentTokenScheme;

impl utoipa::Modify for AgentTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "agent_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A director's agent token (`lvsa_` and 64 hex digits), from \
                         `POST /api/v1/clusters/{cluster}/directors/{director}/token`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "real_server_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A real-server host's agent token (`lvsr_` and 64 hex digits), from \
                         `POST /api/v1/real-server-hosts/{host}/token`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`lvst_` and 64 hex digits), from \
                         `POST /api/v1/api-tokens` or `lvs-server tokens add`. A signed-in \
                         browser's session cookie also reads (GET) the API.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every operation but the probes' and the agents' needs an API token: it says so, with
/// the 401 and 403 answers of `crate::http::access`, which stands before every route.
struct SignedIn;

impl utoipa::Modify for SignedIn {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{Content, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" || path == "/readyz" || path.starts_with("/api/v1/agent/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation.security = Some(vec![SecurityRequirement::new(
                    "api_token",
                    Vec::<String>::new(),
                )]);
                let responses = &mut operation.responses.responses;
                let missing = problem(
                    "`unauthorized`: no API token, or one that is unknown, revoked or expired",
                );
                responses.insert("401".into(), missing.into());
                if !responses.contains_key("403") {
                    let below =
                        problem("`forbidden`: the token's role (or cluster grants) does not reach");
                    responses.insert("403".into(), below.into());
                }
            }
        }
    }
}

/// The answers of `crate::http::guard`, which stands before every route: 403 for a change
/// a browser sent from another site, 421 for a host name the server does not answer to
/// (the probes answer whatever the host).
struct BrowserGuard;

impl utoipa::Modify for BrowserGuard {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, HttpMethod, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/healthz" || path == "/readyz" {
                continue;
            }
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let responses = &mut operation.responses.responses;
                if method != HttpMethod::Get && !responses.contains_key("403") {
                    let refused = problem(
                        "`cross_site_request`: a browser sent this change from another site",
                    );
                    responses.insert("403".into(), refused.into());
                }
                let host = problem(
                    "`unknown_host`: the request's `Host` is not one of the server's \
                     `--allowed-hosts`",
                );
                responses.insert("421".into(), host.into());
            }
        }
    }
}

/// The API's routes with the OpenAPI document describing them.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(probes::healthz))
        .routes(routes!(probes::readyz))
        .routes(routes!(metrics::scrape))
        .routes(routes!(clusters::list, clusters::create))
        .routes(routes!(
            clusters::get,
            clusters::replace,
            clusters::modify,
            clusters::delete
        ))
        .routes(routes!(directors::list, directors::create))
        .routes(routes!(
            directors::get,
            directors::replace,
            directors::modify,
            directors::delete
        ))
        .routes(routes!(services::list, services::create))
        .routes(routes!(
            services::get,
            services::replace,
            services::modify,
            services::delete
        ))
        .routes(routes!(real_servers::list, real_servers::create))
        .routes(routes!(
            real_servers::get,
            real_servers::replace,
            real_servers::modify,
            real_servers::delete
        ))
        .routes(routes!(real_servers::drain))
        .routes(routes!(real_servers::restore))
        .routes(routes!(desired_state::get, desired_state::replace))
        .routes(routes!(changes::list))
        .routes(routes!(changes::get))
        .routes(routes!(revert::revert))
        .routes(routes!(tokens::create, tokens::revoke))
        .routes(routes!(stats::director))
        .routes(routes!(stats::history))
        .routes(routes!(import::import))
        .routes(routes!(agent::desired_state))
        .routes(routes!(agent::report))
        .routes(routes!(agent::stats))
        .routes(routes!(agent::health))
        .routes(routes!(real_server_hosts::list, real_server_hosts::create))
        .routes(routes!(
            real_server_hosts::get,
            real_server_hosts::modify,
            real_server_hosts::delete
        ))
        .routes(routes!(
            real_server_hosts::create_token,
            real_server_hosts::revoke_token
        ))
        .routes(routes!(real_server_agent::needs))
        .routes(routes!(real_server_agent::report))
        .routes(routes!(health::service))
        .routes(routes!(health::events))
        .routes(routes!(api_tokens::list, api_tokens::create))
        .routes(routes!(api_tokens::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::modify, users::delete))
        .routes(routes!(users::set_password))
        .routes(routes!(account::change_password))
}

/// The API's routes and the finished OpenAPI document describing them: what applies to
/// every path is added once they are all there.
fn api_routes_and_doc() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::Modify;
    let (routes, mut openapi) = api_routes().split_for_parts();
    SignedIn.modify(&mut openapi);
    BrowserGuard.modify(&mut openapi);
    doc::finish(&mut openapi);
    (routes, openapi)
}

/// The OpenAPI document, as checked in at `openapi/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes_and_doc().1
}

/// The API's routes, the OpenAPI document and its explorer, with `state`.
pub fn routes(state: AppState) -> Router {
    let (api, spec) = api_routes_and_doc();
    let spec_json = spec.to_pretty_json().unwrap_or_default();
    api.route(
        "/api/openapi.json",
        axum::routing::get(move || async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                spec_json,
            )
        }),
    )
    .merge(explorer::routes())
    .with_state(state)
}

/// The answer to a path under `/api` that names no resource.
pub async fn not_found(uri: Uri) -> Response {
    ApiError::NotFound(format!("no resource at {}", uri.path())).into_response()
}

/// The answer to a method that a path under `/api` does not take.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path())).into_response()
}

/// The answer to a request handler that panicked.
pub fn panicked() -> Response {
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

/// The API's paths: `/api/...`, the probes and the metrics; the others are the UI's.
pub fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics"
}

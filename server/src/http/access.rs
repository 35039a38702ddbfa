//! Who may use which route, decided for every route in one place, before any handler runs.
//!
//! Denied by default: a route is public only on [`PUBLIC`]; an agent's only under
//! [`AGENT_PREFIX`] (its handlers take the `Agent` extractor); every other route needs a
//! signed-in role: reading needs `viewer`, changing a cluster's services and real servers
//! needs `operator` granted that cluster, and every other change needs `admin`. A route
//! added tomorrow is therefore admin-only until it is listed here, never open.
//!
//! The API takes `Authorization: Bearer` API tokens, and for reading also the UI's session
//! cookie (so the API explorer works in a signed-in browser); the UI takes its session
//! cookie only. The principal found is handed to the handler in the request's extensions.

use std::sync::Arc;

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::header::{AUTHORIZATION, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lvs_model::access::Role;

use crate::access::{secret, Refused};
use crate::api::error::ApiError;
use crate::cookies::{self, SESSION as SESSION_COOKIE};
use crate::db::credentials::Principal;
use crate::state::AppState;
use crate::ui::error::UiError;

/// The routes anyone may use: probes, signing in, static files, the API's description.
pub const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/login",
    "/static/{*path}",
    "/api/openapi.json",
    "/api/docs",
    "/api/docs/swagger-ui-bundle-5.35.0.js",
    "/api/docs/swagger-ui-5.35.0.css",
    "/api/docs/api-explorer.js",
    "/api/docs/api-explorer.css",
];

/// The agents' routes, authenticated by agent tokens in their handlers.
pub const AGENT_PREFIX: &str = "/api/v1/agent/";

/// Reads that reveal who uses the server: admins only.
pub const ADMIN_READS: &[&str] = &[
    "/api/v1/users",
    "/api/v1/users/{user}",
    "/api/v1/audit",
    "/audit",
    "/users",
    "/users/{user}",
    "/users/{user}/delete",
];

/// Changes anyone signed in may ask for; their handlers bound them to the caller's own
/// (its tokens, its session).
pub const SELF_SERVICE: &[&str] = &[
    "/logout",
    "/api/v1/api-tokens",
    "/api/v1/api-tokens/{id}",
    "/api/v1/account/password",
    "/account/password",
    "/account/tokens",
    "/account/tokens/{id}/revoke",
];

/// The UI's pages that exist only to make a change (a form to fill in, a plan or a
/// confirmation to accept): reading them needs what the change needs, so nobody is shown a
/// form the server would refuse.
pub const CHANGE_PAGES: &[&str] = &[
    "/new-cluster",
    "/clusters/{cluster}/services/new",
    "/clusters/{cluster}/services/{service}/delete",
    "/clusters/{cluster}/services/{service}/pool",
    "/clusters/{cluster}/services/{service}/real-servers/{id}/delete",
    "/clusters/{cluster}/directors/{director}/delete",
    "/clusters/{cluster}/directors/{director}/token",
    "/clusters/{cluster}/changes/{generation}/revert",
    "/real-server-hosts/{host}/delete",
    "/real-server-hosts/{host}/token",
    "/real-server-hosts/{host}/token/revoke",
];

/// The changes an operator may make, to the clusters it is granted: services and what is
/// in them (real servers, weights, drain, health checks, pools).
pub const OPERATOR_PREFIXES: &[&str] = &[
    "/api/v1/clusters/{cluster}/services",
    "/clusters/{cluster}/services",
];

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Public,
    /// An agent token, checked by the handler.
    Agent,
    /// A signed-in principal with at least this role.
    Role(Role),
    /// An operator granted the route's `{cluster}`, or an admin.
    Operate,
}

/// What `method` on the route `path` (its pattern, as `MatchedPath` gives it) needs.
pub fn need(method: &Method, path: &str) -> Need {
    let reads = matches!(*method, Method::GET | Method::HEAD) && !CHANGE_PAGES.contains(&path);
    if PUBLIC.contains(&path) {
        Need::Public
    } else if path.starts_with(AGENT_PREFIX) {
        Need::Agent
    } else if ADMIN_READS.contains(&path) {
        Need::Role(Role::Admin)
    } else if reads || SELF_SERVICE.contains(&path) {
        Need::Role(Role::Viewer)
    } else if OPERATOR_PREFIXES
        .iter()
        .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
    {
        Need::Operate
    } else {
        Need::Role(Role::Admin)
    }
}

/// The middleware.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // No route matched: the fallback answers 404, and there is nothing to protect.
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    let api = crate::api::is_api_path(&path);
    let required = need(request.method(), &path);
    let role = match required {
        Need::Public | Need::Agent => return next.run(request).await,
        Need::Role(role) => role,
        Need::Operate => Role::Operator,
    };
    let principal = match authenticate(&state, request.method(), request.headers(), api).await {
        Ok(principal) => principal,
        Err(Refused::Unauthenticated(why)) => return unauthenticated(api, &request, &why),
        Err(Refused::Store(error)) => {
            let error = anyhow::Error::new(error).context("authenticating a request");
            return if api {
                ApiError::Internal(error).into_response()
            } else {
                UiError::Internal(error).into_response()
            };
        }
    };
    if principal.role < role {
        let why = format!(
            "this needs the {role} role; {} is a {}",
            principal.actor, principal.role
        );
        return forbidden(api, why);
    }
    if required == Need::Operate && principal.role == Role::Operator {
        let mut parts_request = request;
        let (mut parts, body) = parts_request.into_parts();
        let params =
            <RawPathParams as axum::extract::FromRequestParts<AppState>>::from_request_parts(
                &mut parts, &state,
            )
            .await;
        let cluster: Option<String> = params.ok().and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "cluster")
                .map(|(_, value)| value.to_owned())
        });
        parts_request = Request::from_parts(parts, body);
        let allowed = cluster
            .as_deref()
            .is_some_and(|c| principal.grants.allows(c));
        if !allowed {
            let cluster = cluster.unwrap_or_default();
            return forbidden(
                api,
                format!(
                    "{} is an operator of other clusters, not of cluster {cluster}",
                    principal.actor
                ),
            );
        }
        return run_as(parts_request, principal, next).await;
    }
    run_as(request, principal, next).await
}

async fn run_as(mut request: Request, principal: Arc<Principal>, next: Next) -> Response {
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The principal of the request's credentials.
async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    api: bool,
) -> Result<Arc<Principal>, Refused> {
    let access = &state.access;
    if api {
        if let Some(header) = headers.get(AUTHORIZATION) {
            let token = header
                .to_str()
                .ok()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(|| refused("the Authorization header is not `Bearer <token>`"))?;
            if token.starts_with(secret::AGENT_TOKEN_PREFIX)
                || token.starts_with(secret::REAL_SERVER_TOKEN_PREFIX)
            {
                return Err(refused(
                    "an agent token gives no access to the admin API; use an API token \
                     (POST /api/v1/api-tokens, or `lvs-server tokens add`)",
                ));
            }
            return access.api_token(&state.db, token).await;
        }
        let reads = matches!(*method, Method::GET | Method::HEAD);
        if let Some(cookie) = cookies::value(headers, SESSION_COOKIE).filter(|_| reads) {
            return access.session(&state.db, &cookie).await;
        }
        return Err(refused(
            "the request has no Authorization header; send `Authorization: Bearer <token>` \
             with an API token (POST /api/v1/api-tokens, or `lvs-server tokens add`)",
        ));
    }
    match cookies::value(headers, SESSION_COOKIE) {
        Some(cookie) => access.session(&state.db, &cookie).await,
        None => Err(refused("you are not signed in")),
    }
}

fn refused(why: &str) -> Refused {
    Refused::Unauthenticated(why.to_owned())
}

/// 401 for the API; for the UI, to the sign-in page and back here afterwards.
fn unauthenticated(api: bool, request: &Request, why: &str) -> Response {
    if api {
        return ApiError::Unauthorized(why.to_owned()).into_response();
    }
    let here = request
        .headers()
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.find("://").map(|at| &url[at + 3..]))
        .and_then(|rest| rest.find('/').map(|at| rest[at..].to_owned()))
        .unwrap_or_else(|| {
            request
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
        });
    let next = if *request.method() == Method::GET || request.headers().contains_key("hx-request") {
        here
    } else {
        "/".to_owned()
    };
    let location = format!("/login?next={}", crate::ui::encode_component(&next));
    let mut response = if request.headers().contains_key("hx-request") {
        // htmx swaps what it is given; this makes it load the sign-in page instead.
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert("hx-redirect", value);
        }
        response
    } else {
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(LOCATION, value);
        }
        response
    };
    if cookies::value(request.headers(), SESSION_COOKIE).is_some() {
        let clear = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

fn forbidden(api: bool, why: String) -> Response {
    if api {
        ApiError::Forbidden(why).into_response()
    } else {
        let mut sentence = why;
        if let Some(first) = sentence.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        sentence.push('.');
        UiError::Status(StatusCode::FORBIDDEN, sentence).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_a_viewer_changes_an_admin_unless_listed() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(need(&get, "/healthz"), Need::Public);
        assert_eq!(need(&post, "/login"), Need::Public);
        assert_eq!(need(&post, "/api/v1/agent/report"), Need::Agent);
        assert_eq!(need(&get, "/api/v1/clusters"), Need::Role(Role::Viewer));
        assert_eq!(need(&get, "/api/v1/users"), Need::Role(Role::Admin));
        assert_eq!(need(&post, "/api/v1/clusters"), Need::Role(Role::Admin));
        assert_eq!(
            need(
                &Method::PATCH,
                "/api/v1/clusters/{cluster}/services/{service}"
            ),
            Need::Operate
        );
        assert_eq!(
            need(&post, "/clusters/{cluster}/services/{service}/pool/apply"),
            Need::Operate
        );
        // A page that is only a change's form or confirmation needs the change's role.
        assert_eq!(
            need(&get, "/clusters/{cluster}/services/{service}/delete"),
            Need::Operate
        );
        assert_eq!(need(&get, "/new-cluster"), Need::Role(Role::Admin));
        // Real-server hosts are the fleet's: everyone reads them, admins change them.
        assert_eq!(need(&get, "/real-server-hosts"), Need::Role(Role::Viewer));
        assert_eq!(need(&post, "/real-server-hosts"), Need::Role(Role::Admin));
        assert_eq!(
            need(&get, "/real-server-hosts/{host}/token/revoke"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&Method::PATCH, "/api/v1/real-server-hosts/{host}"),
            Need::Role(Role::Admin)
        );
        assert_eq!(need(&get, "/api/v1/agent/real-server"), Need::Agent);
        // A cluster's settings: everyone reads them, only an admin saves them.
        assert_eq!(
            need(&get, "/clusters/{cluster}/settings"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(
            need(&post, "/clusters/{cluster}/settings"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&get, "/clusters/{cluster}/changes/{generation}/revert"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&Method::PUT, "/api/v1/clusters/{cluster}/desired-state"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&post, "/clusters/{cluster}/servicesx"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&post, "/a/route/added/tomorrow"),
            Need::Role(Role::Admin)
        );
        assert_eq!(need(&post, "/logout"), Need::Role(Role::Viewer));
        assert_eq!(need(&get, "/users/{user}"), Need::Role(Role::Admin));
        assert_eq!(
            need(&post, "/users/{user}/password"),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need(&Method::PUT, "/api/v1/account/password"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(need(&post, "/account/tokens"), Need::Role(Role::Viewer));
    }
}

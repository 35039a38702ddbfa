//! `/api/v1/real-server-hosts`: the fleet's hosts behind route and tunnel services, whose
//! agent (`lvs-agent --role real-server`) puts the VIPs they need on them; and each host's
//! agent token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lvs_model::spec::RealServerHostSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, Problem};
use super::extract::{Caller, IfMatch, Json, Path, Query};
use super::response::{page, Page, PageParams, Tagged};
use crate::db::real_server_hosts::{self, HostRow};
use crate::db::{now_millis, real_server_needs};
use crate::edit::{self, lookup};
use crate::resources::{real_server_host_etag, timestamp, RealServerHost};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HostFilter {
    /// Only hosts whose name contains this.
    pub name: Option<String>,
}

/// List the real-server hosts, by name, each with its status.
#[utoipa::path(get, operation_id = "listRealServerHosts", path = "/api/v1/real-server-hosts", tag = "real-server hosts",
    params(PageParams, HostFilter),
    responses((status = 200, body = Page<RealServerHost>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Query(paging): Query<PageParams>,
    Query(filter): Query<HostFilter>,
) -> ApiResult<axum::Json<Page<RealServerHost>>> {
    let limit = paging.limit()?;
    let mut tx = state.db.read().await?;
    let rows = real_server_hosts::list(
        &mut tx,
        paging.cursor.as_deref(),
        filter.name.as_deref(),
        limit + 1,
    )
    .await?;
    // One read for the page's needs, which their states are judged against.
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut needs = real_server_needs::of_hosts(&mut tx, &ids).await?;
    drop(tx);
    let now = now_millis();
    page(
        rows,
        limit,
        |row| row.name.clone(),
        |row| {
            let version = needs
                .remove(&row.id)
                .unwrap_or_else(real_server_needs::HostNeeds::none)
                .needs
                .version;
            Ok(RealServerHost::new(&row, &version, &state.agents, now))
        },
    )
    .map(axum::Json)
}

/// Add a real-server host. Its agent needs a token next:
/// `POST /api/v1/real-server-hosts/{host}/token`.
#[utoipa::path(post, operation_id = "createRealServerHost", path = "/api/v1/real-server-hosts", tag = "real-server hosts",
    request_body = RealServerHostSpec,
    responses((status = 201, body = RealServerHost),
              (status = 409, body = Problem,
               description = "`already_exists`: the name is taken; `address_claimed`: another \
                   host has one of the addresses (named in `detail`)"),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(spec): Json<RealServerHostSpec>,
) -> ApiResult<Tagged> {
    let row = edit::real_server_hosts::create(&state, &spec, &caller.author).await?;
    let location = format!("/api/v1/real-server-hosts/{}", row.name);
    answer(&state, &row, Some(location)).await
}

/// Get a real-server host, with what it must hold now (`needs`) and its status.
#[utoipa::path(get, operation_id = "getRealServerHost", path = "/api/v1/real-server-hosts/{host}", tag = "real-server hosts",
    params(("host" = String, Path)),
    responses((status = 200, body = RealServerHost), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let row = lookup::real_server_host(&mut tx, &name).await?;
    drop(tx);
    answer(&state, &row, None).await
}

/// Change a real-server host's description or addresses (JSON merge patch; an absent field
/// keeps its value, the name cannot change). New addresses change its needs at once.
#[utoipa::path(patch, operation_id = "patchRealServerHost", path = "/api/v1/real-server-hosts/{host}", tag = "real-server hosts",
    params(("host" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = RealServerHostSpec, content_type = "application/merge-patch+json"),
    responses((status = 200, body = RealServerHost), (status = 404, body = Problem),
              (status = 409, body = Problem,
               description = "`address_claimed`: another host has one of the addresses"),
              (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    if_match: IfMatch,
    Json(changes): Json<Value>,
) -> ApiResult<Tagged> {
    let row =
        edit::real_server_hosts::merge_patch(&state, &name, &changes, &if_match, &caller.author)
            .await?;
    answer(&state, &row, None).await
}

/// Remove a real-server host; its agent token stops working at once.
#[utoipa::path(delete, operation_id = "deleteRealServerHost", path = "/api/v1/real-server-hosts/{host}", tag = "real-server hosts",
    params(("host" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    if_match: IfMatch,
) -> ApiResult<StatusCode> {
    edit::real_server_hosts::delete(&state, &name, &if_match, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A host with its current needs and status, answered with its ETag.
async fn answer(state: &AppState, row: &HostRow, created: Option<String>) -> ApiResult<Tagged> {
    let mut tx = state.db.read().await?;
    let needs = real_server_needs::of_host(&mut tx, row.id).await?.needs;
    drop(tx);
    let host = RealServerHost::new(row, &needs.version, &state.agents, now_millis());
    let host = host.with_needs(needs);
    let tag = real_server_host_etag(row);
    Ok(match created {
        Some(location) => Tagged::created(host, location),
        None => Tagged::ok(host),
    }
    .with_etag(tag))
}

/// A new agent token of a real-server host. It is shown only in this answer: the server
/// keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealServerAgentToken {
    /// `lvsr_` and 64 hex digits; `lvs-agent --role real-server` sends it as
    /// `Authorization: Bearer <token>`.
    pub token: String,
    pub host: String,
    pub created_at: String,
}

/// Create the host's agent token, replacing (and so invalidating) the one it had.
#[utoipa::path(post, operation_id = "createRealServerHostToken", path = "/api/v1/real-server-hosts/{host}/token",
    tag = "real-server hosts",
    params(("host" = String, Path)),
    responses((status = 201, body = RealServerAgentToken), (status = 404, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let issued = edit::host_tokens::create(&state, &name, &caller.author).await?;
    let location = format!("/api/v1/real-server-hosts/{name}/token");
    let body = RealServerAgentToken {
        token: issued.token,
        host: name,
        created_at: timestamp(issued.created_at),
    };
    Ok(super::response::secret_created(body, &location))
}

/// Revoke the host's agent token (if it has one): its agent is refused from now on, and a
/// long-poll it holds ends with 401.
#[utoipa::path(delete, operation_id = "revokeRealServerHostToken", path = "/api/v1/real-server-hosts/{host}/token",
    tag = "real-server hosts",
    params(("host" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    edit::host_tokens::revoke(&state, &name, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

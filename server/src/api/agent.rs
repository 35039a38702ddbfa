//! `/api/v1/agent/*`: what `lvs-agent` calls, authenticated by its director's token
//! (`Authorization: Bearer lvsa_...`). The token names the director, and so the cluster:
//! an agent reads its own cluster's desired state and writes its own director's reports.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lvs_model::agent::{
    ApplyReport, DesiredStateChanges, HealthReport, StatsReport, CHANGES_MEDIA_TYPE,
};
use lvs_model::spec::DesiredStateSpec;
use serde::Deserialize;
use tokio::sync::watch;
use utoipa::IntoParams;

use super::auth::Agent;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{parse_json, Json, Query, RawJson};
use crate::agents::reports::{self, ReportError};
use crate::agents::stats::Latest;
use crate::db::{clusters, health_events, now_millis, Announced, Generation};
use crate::resources::generation_etag;
use crate::state::AppState;

/// The default and the longest time a long-poll is held, in seconds.
pub const DEFAULT_POLL_SECONDS: u64 = 30;
pub const MAX_POLL_SECONDS: u64 = 120;

/// The failed changes kept from a report.
pub const MAX_ERRORS: usize = 100;
pub use crate::agents::reports::MAX_DRIFT_REPAIRED;

/// Optional names the agent believes it is: when given, they must be its token's (403
/// otherwise), which catches an agent started with another director's token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Scope {
    /// The cluster the agent is configured for.
    pub cluster: Option<String>,
    /// The director the agent is configured as.
    pub director: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollParams {
    /// The generation the agent has; the answer waits for a newer one. Absent: answer at
    /// once. Above the cluster's generation (the server's database was restored from an
    /// older backup): answered at once with the whole document.
    pub after: Option<u64>,
    /// How long to wait for a newer generation, in seconds (default 30, at most 120).
    pub timeout: Option<u64>,
    /// With `after`: answer with the changes since `after`
    /// (`application/vnd.lvs-fleet.changes+json`) when every one of them is stored whole
    /// and they span at most 100 generations; with the whole document otherwise.
    // 100 is `agents::state_changes::MAX_CHANGED_GENERATIONS`.
    #[serde(default)]
    pub changes: bool,
    /// The generation the agent's last pass applied completely: recorded as the director's
    /// applied generation, as a report that succeeded would be. The agent sends a report
    /// only when it has more to say (errors, repaired drift, new versions).
    pub applied: Option<u64>,
}

/// Long-poll the agent's cluster's desired state: answered at once when the cluster's
/// generation is not `after` (or `after` is absent), otherwise as soon as a change
/// commits, or with 204 when `timeout` passes first. The answer is the whole document, or,
/// with `changes=true` when the cluster is ahead of `after`, each generation's diff since
/// `after` if the server has them all.
#[utoipa::path(get, operation_id = "getAgentDesiredState", path = "/api/v1/agent/desired-state", tag = "agent",
    params(PollParams, Scope),
    security(("agent_token" = [])),
    responses((status = 200,
               description = "The whole document (`application/json`), or with `changes=true` \
                   the diffs since `after` (`application/vnd.lvs-fleet.changes+json`)",
               content((DesiredStateSpec = "application/json"),
                       (DesiredStateChanges = CHANGES_MEDIA_TYPE)),
               headers(("ETag" = String, description = "`\"gen-<generation>\"`"))),
              (status = 204, description = "No newer generation within the timeout"),
              (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem)))]
pub async fn desired_state(
    State(state): State<AppState>,
    agent: Agent,
    Query(params): Query<PollParams>,
    Query(scope): Query<Scope>,
) -> ApiResult<Response> {
    agent.check_scope(scope.cluster.as_deref(), scope.director.as_deref())?;
    let deadline = poll_deadline(params.timeout)?;
    let owner = &agent.0;
    if let Some(applied) = params.applied {
        // The database stores generations as SQLite integers.
        if i64::try_from(applied).is_err() {
            return Err(ApiError::BadRequest {
                code: "invalid_query",
                detail: format!("applied must be at most {}, not {applied}", i64::MAX),
            });
        }
        state
            .agents
            .applied(owner.director_id, Generation::new(applied), now_millis());
    }
    // Subscribed before the generation is read: a change that commits after the read
    // always wakes the wait that follows it.
    let mut commits = state.db.announcer().subscribe(owner.cluster_id);
    let mut stopping = state.agents.stopping();
    // Likewise before the token is checked again: a revocation that commits while this
    // request waits ends it at once, with 401, rather than with the next generation.
    let mut revocations = state.db.token_owners_changed();
    agent.check_still_valid(&state.db).await?;
    // The cluster's generation, and its announcement when it came from one.
    let (mut generation, mut announced) = match announced_generation(&mut commits, params.after) {
        Some(announced) => (announced.generation, Some(announced)),
        None => {
            let mut conn = state.db.read().await?;
            let generation = clusters::generation(&mut conn, owner.cluster_id).await?;
            drop(conn);
            (generation.ok_or_else(|| cluster_gone(&agent))?, None)
        }
    };
    let answer = loop {
        let at = announced.as_ref().filter(|a| a.generation == generation);
        if let Some(answer) = answer_at(&state, &agent, &params, generation, at).await? {
            break answer;
        }
        let woken = tokio::select! {
            () = tokio::time::sleep_until(deadline) => Woken::Timeout,
            changed = commits.changed() => match changed {
                Ok(()) => Woken::Commit,
                // The cluster was deleted, and the token with it.
                Err(_) => Woken::ClusterGone,
            },
            _ = stopping.wait_for(|stopping| *stopping) => Woken::Timeout,
            _ = revocations.changed() => Woken::Revocation,
        };
        match woken {
            Woken::Timeout => break StatusCode::NO_CONTENT.into_response(),
            Woken::ClusterGone => {
                agent.check_still_valid(&state.db).await?;
                break StatusCode::NO_CONTENT.into_response();
            }
            Woken::Revocation => {
                agent.check_still_valid(&state.db).await?;
                continue;
            }
            Woken::Commit => {}
        }
        // Woken by a commit, which announced its generation (the channel keeps the
        // highest): no need to read it back. Marked seen here, so a later commit wakes the
        // next wait. A generation never goes back while the channel lives (deleting the
        // cluster closes it), so the highest of the two is the current one.
        let latest = commits.borrow_and_update().clone();
        if latest.generation > generation {
            generation = latest.generation;
            announced = Some(latest);
        }
    };
    state.agents.seen(owner.director_id, now_millis());
    Ok(answer)
}

/// When a long-poll asking to wait `timeout` seconds (default 30, at most 120) ends.
pub fn poll_deadline(timeout: Option<u64>) -> ApiResult<tokio::time::Instant> {
    let seconds = timeout.unwrap_or(DEFAULT_POLL_SECONDS);
    if seconds > MAX_POLL_SECONDS {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: format!("timeout must be at most {MAX_POLL_SECONDS} seconds, not {seconds}"),
        });
    }
    Ok(tokio::time::Instant::now() + Duration::from_secs(seconds))
}

/// What ended a long-poll's wait.
enum Woken {
    /// The timeout passed, or the server is stopping.
    Timeout,
    Commit,
    ClusterGone,
    /// A commit may have revoked the token.
    Revocation,
}

/// The cluster's last commit as it was announced, marked seen; `None` when the generation
/// must be read instead. The channel keeps the highest generation announced since it was
/// created, which is the latest committed one unless no commit was announced since (0) or
/// one has committed and not yet announced: an agent holding a generation above the
/// announced one may have read it from such a commit, and must not be taken for one ahead
/// of the server.
fn announced_generation(
    commits: &mut watch::Receiver<Announced>,
    after: Option<u64>,
) -> Option<Announced> {
    let announced = commits.borrow_and_update().clone();
    let generation = announced.generation;
    (generation > 0 && after.is_none_or(|after| after <= generation)).then_some(announced)
}

fn cluster_gone(agent: &Agent) -> ApiError {
    ApiError::Unauthorized(format!(
        "cluster {} was deleted, and with it this agent's token",
        agent.0.cluster
    ))
}

/// The answer to a poll while the cluster is at `generation` (announced by `announced`,
/// when a commit told it), or `None` to wait for a newer one, as the agent holds this one.
/// An agent ahead of the server (its database was restored from an older backup) gets the
/// whole document at once, to follow it back.
async fn answer_at(
    state: &AppState,
    agent: &Agent,
    params: &PollParams,
    generation: u64,
    announced: Option<&Announced>,
) -> ApiResult<Option<Response>> {
    let owner = &agent.0;
    match params.after {
        Some(after) if after == generation => return Ok(None),
        Some(after) if after < generation && params.changes => {
            let changes = state
                .agents
                .changes(&state.db, owner, after, generation, announced);
            if let Some(changes) = changes.await? {
                let response = state_response(changes.json, CHANGES_MEDIA_TYPE, changes.generation);
                return Ok(Some(response));
            }
        }
        _ => {}
    }
    let Some(document) = state.agents.document(&state.db, owner, generation).await? else {
        return Err(cluster_gone(agent));
    };
    let response = state_response(document.json, "application/json", document.generation);
    Ok(Some(response))
}

/// A 200 with a serialised document or changes, tagged with the generation it leads to.
fn state_response(json: Bytes, content_type: &'static str, generation: u64) -> Response {
    let mut response = (StatusCode::OK, json).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(etag) = HeaderValue::from_str(&generation_etag(generation)) {
        headers.insert(ETAG, etag);
    }
    response
}

/// Report a reconcile pass: the generation applied, each change's outcome, repaired drift,
/// versions, and the services and timeouts left alone at generation 0. Shown in the
/// director's `status`.
#[utoipa::path(post, operation_id = "reportAgentApply", path = "/api/v1/agent/report", tag = "agent",
    params(Scope), request_body = ApplyReport,
    security(("agent_token" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    agent: Agent,
    Query(scope): Query<Scope>,
    Json(report): Json<ApplyReport>,
) -> ApiResult<StatusCode> {
    agent.check_scope(scope.cluster.as_deref(), scope.director.as_deref())?;
    let applied_generation = i64::try_from(report.applied_generation)
        .map_err(|_| ApiError::invalid("applied_generation", "is too large"))?;
    for (field, value) in [
        ("agent_version", &report.agent_version),
        ("kernel_version", &report.kernel_version),
    ] {
        if value.len() > 256 {
            return Err(ApiError::invalid(field, "must be at most 256 bytes"));
        }
    }
    let now = now_millis();
    let errors: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| o.error.is_some())
        .take(MAX_ERRORS)
        .collect();
    let errors = if errors.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&errors).map_err(anyhow::Error::from)?)
    };
    let unmanaged_services =
        serde_json::to_string(&report.unmanaged_services).map_err(anyhow::Error::from)?;
    let unmanaged_timeouts = report
        .unmanaged_timeouts
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(anyhow::Error::from)?;
    let drift_repaired = reports::stored_drift(&report.drift_repaired, now);
    let director_id = agent.0.director_id;
    let row = reports::Report {
        director_id,
        now,
        applied_generation,
        ok: report.succeeded(),
        errors,
        drift_repaired,
        agent_version: report.agent_version,
        kernel_version: report.kernel_version,
        unmanaged_services,
        unmanaged_timeouts,
    };
    // Answered once committed, in one transaction with the reports queued beside it.
    state
        .reports
        .write(row)
        .await
        .map_err(|error| match error {
            ReportError::DirectorGone => ApiError::Unauthorized(format!(
                "director {} of cluster {} was deleted, and with it this agent's token",
                agent.0.director, agent.0.cluster
            )),
            ReportError::Stopped => ApiError::Unavailable("the server is stopping".to_owned()),
            failed @ ReportError::Failed(_) => ApiError::Internal(failed.into()),
        })?;
    state.agents.seen(director_id, now);
    Ok(StatusCode::NO_CONTENT)
}

/// Report the kernel's counters and rates. The latest report per director is served at
/// `.../directors/{director}/stats`; every interval the server sums the latest reports per
/// service into `.../services/{service}/stats/history`.
#[utoipa::path(post, operation_id = "reportAgentStats", path = "/api/v1/agent/stats", tag = "agent",
    params(Scope), request_body = StatsReport,
    security(("agent_token" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn stats(
    State(state): State<AppState>,
    agent: Agent,
    Query(scope): Query<Scope>,
    request: Request,
) -> ApiResult<StatusCode> {
    agent.check_scope(scope.cluster.as_deref(), scope.director.as_deref())?;
    // The body is read only in its turn, and parsed at low priority.
    let stats = &state.agents.stats;
    let turn = stats.ingestion_turn().await;
    let RawJson(body) = RawJson::from_request(request, &state).await?;
    let report: StatsReport = stats
        .off_api(move || parse_json(&body))
        .await
        .context("parsing statistics")??;
    drop(turn);
    let now = now_millis();
    let replaced = stats.record(
        agent.0.director_id,
        Latest {
            cluster_id: agent.0.cluster_id,
            received_at: now,
            report: Arc::new(report),
        },
    );
    if let Some(replaced) = replaced {
        // Freed here if the pool is gone, which happens only at shutdown.
        if let Err(error) = stats.off_api(move || drop(replaced)).await {
            tracing::warn!(%error, "freeing the previous statistics report");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The longest service key, real server key and reason an agent may report: a bad agent
/// cannot grow the server's memory beyond what real keys need.
const MAX_HEALTH_TEXT: usize = 256;

/// Report the health checks' findings: changes soon after they happen, everything every
/// minute (`full`), and the check engine's pulse. Served per service at
/// `.../services/{service}/health`; changes go to the cluster's `.../health-events`.
#[utoipa::path(post, operation_id = "reportAgentHealth", path = "/api/v1/agent/health", tag = "agent",
    params(Scope), request_body = HealthReport,
    security(("agent_token" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 403, body = Problem), (status = 413, body = Problem),
              (status = 422, body = Problem)))]
pub async fn health(
    State(state): State<AppState>,
    agent: Agent,
    Query(scope): Query<Scope>,
    Json(report): Json<HealthReport>,
) -> ApiResult<StatusCode> {
    agent.check_scope(scope.cluster.as_deref(), scope.director.as_deref())?;
    for (i, rs) in report.real_servers.iter().enumerate() {
        for (field, value) in [
            ("service", Some(&rs.service)),
            ("real_server", Some(&rs.real_server)),
            ("reason", rs.reason.as_ref()),
        ] {
            if value.is_some_and(|v| v.len() > MAX_HEALTH_TEXT) {
                return Err(ApiError::invalid(
                    &format!("real_servers[{i}].{field}"),
                    format!("must be at most {MAX_HEALTH_TEXT} bytes"),
                ));
            }
        }
    }
    if let Some(i) = report
        .services
        .iter()
        .position(|s| s.service.len() > MAX_HEALTH_TEXT)
    {
        return Err(ApiError::invalid(
            &format!("services[{i}].service"),
            format!("must be at most {MAX_HEALTH_TEXT} bytes"),
        ));
    }
    let now = now_millis();
    let owner = &agent.0;
    let events = state
        .agents
        .health
        .record(owner.director_id, owner.cluster_id, report, now);
    if !events.is_empty() {
        let stored: Vec<_> = events
            .iter()
            .map(|e| health_events::NewEvent {
                director_id: owner.director_id,
                service_key: &e.service,
                real_server: &e.real_server,
                health: e.health,
                reason: e.reason.as_deref(),
                at: e.at_ms,
            })
            .collect();
        let mut tx = state.db.write().await?;
        health_events::insert(&mut tx, owner.cluster_id, &stored).await?;
        tx.commit().await?;
    }
    state.agents.seen(owner.director_id, now);
    Ok(StatusCode::NO_CONTENT)
}

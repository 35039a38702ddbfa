//! `/api/v1/agent/real-server*`: what `lvs-agent --role real-server` calls, authenticated
//! by its host's token (`Authorization: Bearer lvsr_...`), which names the host: it
//! long-polls what the host must hold and reports what it did.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lvs_model::agent::{DriftRepair, ObjectOutcome};
use lvs_model::real_server_host::{RealServerNeeds, RealServerReport};
use serde::Deserialize;
use utoipa::IntoParams;

use super::agent::{poll_deadline, MAX_DRIFT_REPAIRED, MAX_ERRORS};
use super::auth::RealServerAgent;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Query};
use crate::db::now_millis;
use crate::db::real_server_hosts;
use crate::db::real_server_needs::{self, HostNeeds};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NeedsPollParams {
    /// The needs' `version` the agent holds; the answer waits for another. Absent: answer
    /// at once.
    pub after: Option<String>,
    /// How long to wait for other needs, in seconds (default 30, at most 120).
    pub timeout: Option<u64>,
}

/// Long-poll what the agent's host must hold: answered at once when the needs' version is
/// not `after` (or `after` is absent), otherwise as soon as a change makes it another, or
/// with 204 when `timeout` passes first. Only the changes that may concern the host wake
/// it: a real server at one of its addresses added, removed or forwarding otherwise, a
/// service using it changing its VIPs, its own addresses edited.
#[utoipa::path(get, operation_id = "getAgentRealServerNeeds", path = "/api/v1/agent/real-server", tag = "agent",
    params(NeedsPollParams),
    security(("real_server_token" = [])),
    responses((status = 200, body = RealServerNeeds),
              (status = 204, description = "The needs stayed at `after` for the timeout"),
              (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn needs(
    State(state): State<AppState>,
    agent: RealServerAgent,
    Query(params): Query<NeedsPollParams>,
) -> ApiResult<Response> {
    let deadline = poll_deadline(params.timeout)?;
    // Registered before the needs are read: a commit after the read always wakes the wait.
    let registration = state.db.host_polls().register(agent.0.host_id);
    let mut stopping = state.agents.stopping();
    // Likewise before the token is checked again: a revocation that commits while this
    // request waits ends it at once, with 401.
    let mut revocations = state.db.host_token_owners_changed();
    agent.check_still_valid(&state.db).await?;
    let answer = 'poll: loop {
        let (addresses, current) = read(&state, &agent).await?;
        registration.watch(addresses, current.services);
        if params.after.as_deref() != Some(current.needs.version.as_str()) {
            break (StatusCode::OK, axum::Json(current.needs)).into_response();
        }
        loop {
            let woken = tokio::select! {
                () = tokio::time::sleep_until(deadline) => Woken::Timeout,
                _ = stopping.wait_for(|stopping| *stopping) => Woken::Timeout,
                _ = revocations.changed() => Woken::Revocation,
                () = registration.woken() => Woken::Commit,
            };
            match woken {
                Woken::Timeout => break 'poll StatusCode::NO_CONTENT.into_response(),
                Woken::Revocation => agent.check_still_valid(&state.db).await?,
                Woken::Commit => break,
            }
        }
        registration.reread();
    };
    state.agents.host_seen(agent.0.host_id, now_millis());
    Ok(answer)
}

/// What ended a long-poll's wait.
enum Woken {
    /// The timeout passed, or the server is stopping.
    Timeout,
    /// A commit may have revoked the token.
    Revocation,
    /// A commit may have changed the host's needs.
    Commit,
}

/// The host's addresses and needs, read in one snapshot.
async fn read(
    state: &AppState,
    agent: &RealServerAgent,
) -> ApiResult<(Vec<std::net::IpAddr>, HostNeeds)> {
    let mut tx = state.db.read().await?;
    let Some(host) = real_server_hosts::get(&mut tx, &agent.0.host).await? else {
        return Err(host_gone(agent));
    };
    let needs = real_server_needs::of_host(&mut tx, host.id).await?;
    Ok((host.addresses, needs))
}

fn host_gone(agent: &RealServerAgent) -> ApiError {
    ApiError::Unauthorized(format!(
        "real-server host {} was deleted, and with it this agent's token",
        agent.0.host
    ))
}

/// The longest version, versions and texts of outcomes and drift an agent may report: a
/// bad agent cannot grow what the server stores beyond what real reports need.
const MAX_VERSION: usize = 64;
const MAX_SOFTWARE_VERSION: usize = 256;
const MAX_REPORT_TEXT: usize = 1024;

/// Report a preparation pass: the needs' version it prepared the host for, each change's
/// outcome (only failures are kept, at most 100), repaired drift (at most 50) and versions.
/// Shown in the host's `status`.
#[utoipa::path(post, operation_id = "reportAgentRealServer", path = "/api/v1/agent/real-server/report", tag = "agent",
    request_body = RealServerReport,
    security(("real_server_token" = [])),
    responses((status = 204), (status = 400, body = Problem), (status = 401, body = Problem),
              (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    agent: RealServerAgent,
    Json(report): Json<RealServerReport>,
) -> ApiResult<StatusCode> {
    check_lengths(&report)?;
    let kept = RealServerReport {
        outcomes: report
            .outcomes
            .into_iter()
            .filter(|o| o.error.is_some())
            .take(MAX_ERRORS)
            .collect(),
        drift_repaired: kept_drift(report.drift_repaired),
        ..report
    };
    let json = serde_json::to_string(&kept).map_err(anyhow::Error::from)?;
    let now = now_millis();
    let mut tx = state.db.write().await?;
    let found = real_server_hosts::record_report(&mut tx, agent.0.host_id, &json, now).await?;
    tx.commit().await?;
    if !found {
        return Err(host_gone(&agent));
    }
    state.agents.host_seen(agent.0.host_id, now);
    Ok(StatusCode::NO_CONTENT)
}

/// 422 naming the first text longer than its bound.
fn check_lengths(report: &RealServerReport) -> ApiResult<()> {
    let too_long =
        |field: &str, max: usize| ApiError::invalid(field, format!("must be at most {max} bytes"));
    if report.version.len() > MAX_VERSION {
        return Err(too_long("version", MAX_VERSION));
    }
    for (field, value) in [
        ("agent_version", &report.agent_version),
        ("kernel_version", &report.kernel_version),
    ] {
        if value.len() > MAX_SOFTWARE_VERSION {
            return Err(too_long(field, MAX_SOFTWARE_VERSION));
        }
    }
    for (
        i,
        ObjectOutcome {
            object,
            action,
            error,
        },
    ) in report.outcomes.iter().enumerate()
    {
        let texts = [
            ("object", Some(object)),
            ("action", Some(action)),
            ("error", error.as_ref()),
        ];
        if let Some((field, _)) = texts
            .iter()
            .find(|(_, text)| text.is_some_and(|t| t.len() > MAX_REPORT_TEXT))
        {
            return Err(too_long(&format!("outcomes[{i}].{field}"), MAX_REPORT_TEXT));
        }
    }
    for (i, DriftRepair { object, found }) in report.drift_repaired.iter().enumerate() {
        for (field, text) in [("object", object), ("found", found)] {
            if text.len() > MAX_REPORT_TEXT {
                return Err(too_long(
                    &format!("drift_repaired[{i}].{field}"),
                    MAX_REPORT_TEXT,
                ));
            }
        }
    }
    Ok(())
}

/// At most [`MAX_DRIFT_REPAIRED`] drifts; when there were more, the last one kept says how
/// many more were repaired, so none is dropped without a word.
fn kept_drift(mut drift: Vec<DriftRepair>) -> Vec<DriftRepair> {
    if drift.len() <= MAX_DRIFT_REPAIRED {
        return drift;
    }
    let left_out = drift.len() - (MAX_DRIFT_REPAIRED - 1);
    drift.truncate(MAX_DRIFT_REPAIRED - 1);
    drift.push(DriftRepair {
        object: format!("{left_out} more objects"),
        found: format!(
            "repaired in the same pass, not listed: a host keeps {MAX_DRIFT_REPAIRED} drifts \
             of its latest report"
        ),
    });
    drift
}

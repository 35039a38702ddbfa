//! `/api/v1/audit`: who did what (admins only).

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::Query;
use super::response::{page, Page};
use crate::db::audit::{self, Entry, Filter};
use crate::state::AppState;

/// Which entries: all by default, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only this user's or service account's (a failed sign-in: the name tried).
    pub actor: Option<String>,
    /// Only at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Items per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The audit log: changes, sign-ins and their failures, sign-outs, users and tokens.
#[utoipa::path(get, operation_id = "listAudit", path = "/api/v1/audit", tag = "access",
    params(AuditParams),
    responses((status = 200, body = Page<Entry>), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<AuditParams>,
) -> ApiResult<axum::Json<Page<Entry>>> {
    let limit = match params.limit.unwrap_or(100) {
        limit @ 1..=1000 => limit,
        other => {
            return Err(bad_query(format!(
                "limit: must be between 1 and 1000, not {other}"
            )))
        }
    };
    let before = params
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad_query(format!("cursor: {c:?} is not one this API gave")))
        })
        .transpose()?;
    let filter = Filter {
        actor: params.actor,
        since: params
            .since
            .as_deref()
            .map(|t| time_param("since", t))
            .transpose()?,
        until: params
            .until
            .as_deref()
            .map(|t| time_param("until", t))
            .transpose()?,
        before,
    };
    let mut tx = state.db.read().await?;
    let rows = audit::list(&mut tx, &filter, limit + 1).await?;
    page(rows, limit, |row| row.id.to_string(), Ok).map(axum::Json)
}

fn bad_query(detail: String) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        detail,
    }
}

fn time_param(name: &str, text: &str) -> Result<i64, ApiError> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| bad_query(format!("{name}: {text:?} is not an RFC 3339 time: {e}")))?;
    Ok(i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

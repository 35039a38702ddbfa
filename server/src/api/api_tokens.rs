//! `/api/v1/api-tokens`: tokens for CI and scripts. Anyone signed in manages its own;
//! admins also those of other users and of service accounts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lvs_model::access::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Json, Path};
use crate::db::credentials::ApiTokenRow;
use crate::edit::api_tokens::{self, Owner, TokenRequest};
use crate::resources::timestamp;
use crate::state::AppState;

/// A token to issue. Without `user` or `service_account`, it is the caller's own.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenSpec {
    /// What it is for: lowercase letters, digits and '-', unique among its owner's tokens.
    pub name: String,
    /// `viewer`, `operator` or `admin`; never above its owner's (or the caller's) role.
    #[schema(example = "operator")]
    pub role: String,
    /// The clusters an operator token may edit; empty: its owner's.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// RFC 3339; absent: until revoked.
    pub expires_at: Option<String>,
    /// Another user's (admins only).
    pub user: Option<String>,
    /// A service account's (admins only).
    pub service_account: Option<String>,
}

/// An API token as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub user: Option<String>,
    pub service_account: Option<String>,
    #[schema(example = "operator")]
    pub role: String,
    pub clusters: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// Within a minute or so.
    pub last_used_at: Option<String>,
}

impl From<ApiTokenRow> for ApiToken {
    fn from(row: ApiTokenRow) -> Self {
        ApiToken {
            id: row.id,
            name: row.name,
            user: row.user,
            service_account: row.service_account,
            role: row.role.to_string(),
            clusters: row.clusters,
            created_by: row.created_by,
            created_at: timestamp(row.created_at),
            expires_at: row.expires_at.map(timestamp),
            last_used_at: row.last_used_at.map(timestamp),
        }
    }
}

/// A token just issued: `token` is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedApiToken {
    /// `lvst_` and 64 hex digits; send it as `Authorization: Bearer <token>`.
    pub token: String,
    #[serde(flatten)]
    pub api_token: ApiToken,
}

/// The caller's tokens (an admin's: every token).
#[utoipa::path(get, operation_id = "listApiTokens", path = "/api/v1/api-tokens", tag = "access",
    responses((status = 200, body = Vec<ApiToken>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<ApiToken>>> {
    let rows = api_tokens::list(&state.db, Some(&caller.principal)).await?;
    Ok(axum::Json(rows.into_iter().map(ApiToken::from).collect()))
}

/// Issue an API token.
#[utoipa::path(post, operation_id = "createApiToken", path = "/api/v1/api-tokens", tag = "access",
    request_body = ApiTokenSpec,
    responses((status = 201, body = IssuedApiToken), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(spec): Json<ApiTokenSpec>,
) -> ApiResult<Response> {
    let role: Role = spec.role.parse().map_err(|why: String| {
        ApiError::Validation(lvs_model::ValidationErrors::one("role", why))
    })?;
    let expires_at = spec.expires_at.as_deref().map(parse_time).transpose()?;
    let owner = match (spec.user, spec.service_account) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Validation(lvs_model::ValidationErrors::one(
                "service_account",
                "a token belongs to a user or to a service account, not both",
            )))
        }
        (Some(user), None) => Owner::User(user),
        (None, Some(account)) => Owner::ServiceAccount(account),
        (None, None) if caller.principal.user_id.is_some() => {
            Owner::User(caller.principal.actor.name.clone())
        }
        (None, None) => {
            return Err(ApiError::Validation(lvs_model::ValidationErrors::one(
                "service_account",
                "a service account's token issues tokens only for a named owner",
            )))
        }
    };
    let request = TokenRequest {
        name: spec.name,
        owner,
        role,
        clusters: spec.clusters,
        expires_at,
    };
    let issued =
        api_tokens::create(&state.db, &request, Some(&caller.principal), &caller.author).await?;
    let location = format!("/api/v1/api-tokens/{}", issued.row.id);
    let body = IssuedApiToken {
        token: issued.token,
        api_token: issued.row.into(),
    };
    Ok(super::response::secret_created(body, &location))
}

/// Revoke an API token: refused from the moment this answers.
#[utoipa::path(delete, operation_id = "revokeApiToken", path = "/api/v1/api-tokens/{id}", tag = "access",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    api_tokens::revoke(&state.db, id, Some(&caller.principal), &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// RFC 3339 as Unix milliseconds, or a 422 naming `expires_at`.
fn parse_time(text: &str) -> Result<i64, ApiError> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            ApiError::Validation(lvs_model::ValidationErrors::one(
                "expires_at",
                format!("must be an RFC 3339 time such as 2027-01-31T00:00:00Z: {e}"),
            ))
        })?;
    Ok(i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

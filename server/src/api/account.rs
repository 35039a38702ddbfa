//! `/api/v1/account`: the caller's own user.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiResult, Problem};
use super::extract::{Caller, Json};
use crate::edit::account;
use crate::state::AppState;

/// The caller's current password and the one to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// At least 12 characters.
    pub password: String,
}

/// Change your own password: every session of yours ends (API tokens go on working). A
/// wrong current password counts as a failed sign-in.
#[utoipa::path(put, operation_id = "changeOwnPassword", path = "/api/v1/account/password",
    tag = "access",
    request_body = PasswordChange,
    responses((status = 204),
              (status = 409, body = Problem,
               description = "`no_password`: a service account's token has no password"),
              (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    account::change_password(
        &state,
        &caller.principal,
        &body.current_password,
        &body.password,
        &caller.author,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

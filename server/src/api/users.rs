//! `/api/v1/users`: who signs in, with which role and grants (admins only). A password left
//! out is generated and shown once, in the answer that made it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lvs_model::access::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Caller, Json, Path};
use crate::db::users;
use crate::edit::users::{self as edit_users, UserChange};
use crate::edit::{passwords, EditError};
use crate::resources::timestamp;
use crate::state::AppState;

/// A user, as admins see them: never its password.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub name: String,
    #[schema(example = "operator")]
    pub role: String,
    /// The clusters an operator may edit.
    pub clusters: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub password_changed_at: String,
}

impl From<users::User> for User {
    fn from(user: users::User) -> Self {
        User {
            name: user.name,
            role: user.role.to_string(),
            clusters: user.grants,
            created_at: timestamp(user.created_at),
            password_changed_at: timestamp(user.password_changed_at),
        }
    }
}

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Lowercase letters, digits and '-'.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    #[schema(example = "operator")]
    pub role: String,
    /// The clusters an operator may edit (operators only).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// At least 12 characters; absent: one is generated and returned once.
    pub password: Option<String>,
}

/// A user just added, with its password when it was generated (shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct AddedUser {
    #[serde(flatten)]
    pub user: User,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// What to change of a user; a field left out stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// `viewer`, `operator` or `admin`. The last admin stays one.
    #[schema(example = "viewer")]
    pub role: Option<String>,
    /// The clusters an operator may edit, replacing those it had (operators only).
    pub clusters: Option<Vec<String>>,
}

/// A new password for a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// At least 12 characters.
    pub password: String,
}

/// List the users.
#[utoipa::path(get, operation_id = "listUsers", path = "/api/v1/users", tag = "access",
    responses((status = 200, body = Vec<User>)))]
pub async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<Vec<User>>> {
    let mut tx = state.db.read().await?;
    let users = users::list(&mut tx).await?;
    Ok(axum::Json(users.into_iter().map(User::from).collect()))
}

/// Add a user.
#[utoipa::path(post, operation_id = "createUser", path = "/api/v1/users", tag = "access",
    request_body = NewUser,
    responses((status = 201, body = AddedUser), (status = 409, body = Problem),
              (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(spec): Json<NewUser>,
) -> ApiResult<Response> {
    let role = parse_role(&spec.role)?;
    let generated = match spec.password {
        Some(_) => None,
        None => Some(passwords::generate().map_err(EditError::Internal)?),
    };
    let password = spec.password.as_deref().or(generated.as_deref());
    let password = password.unwrap_or_default();
    edit_users::add(
        &state.db,
        &spec.name,
        role,
        &spec.clusters,
        password,
        &caller.author,
    )
    .await?;
    let user = stored(&state, &spec.name).await?;
    let location = format!("/api/v1/users/{}", user.name);
    let body = AddedUser {
        user,
        password: generated,
    };
    Ok(super::response::secret_created(body, &location))
}

/// One user.
#[utoipa::path(get, operation_id = "getUser", path = "/api/v1/users/{user}", tag = "access",
    params(("user" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<User>> {
    Ok(axum::Json(stored(&state, &name).await?))
}

/// Change a user's role or grants: its sessions and tokens act with them from their next
/// request, and its tokens above the new role are lowered to it.
#[utoipa::path(patch, operation_id = "patchUser", path = "/api/v1/users/{user}", tag = "access",
    params(("user" = String, Path)),
    request_body = UserPatch,
    responses((status = 200, body = User), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn modify(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(patch): Json<UserPatch>,
) -> ApiResult<axum::Json<User>> {
    let change = UserChange {
        role: patch.role.as_deref().map(parse_role).transpose()?,
        clusters: patch.clusters,
    };
    edit_users::change(&state.db, &name, &change, &caller.author).await?;
    Ok(axum::Json(stored(&state, &name).await?))
}

/// Set a user's password: every session it has ends.
#[utoipa::path(put, operation_id = "setUserPassword", path = "/api/v1/users/{user}/password",
    tag = "access",
    params(("user" = String, Path)),
    request_body = NewPassword,
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<NewPassword>,
) -> ApiResult<StatusCode> {
    edit_users::set_password(&state.db, &name, &body.password, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user, with its sessions and API tokens; never the last admin.
#[utoipa::path(delete, operation_id = "deleteUser", path = "/api/v1/users/{user}", tag = "access",
    params(("user" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    edit_users::remove(&state.db, &name, &caller.author).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stored(state: &AppState, name: &str) -> ApiResult<User> {
    let mut tx = state.db.read().await?;
    let user = users::get(&mut tx, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {name} does not exist")))?;
    Ok(user.into())
}

/// A role named in a body, or a 422 naming `role`.
pub(crate) fn parse_role(text: &str) -> Result<Role, ApiError> {
    text.parse()
        .map_err(|why: String| ApiError::Validation(lvs_model::ValidationErrors::one("role", why)))
}

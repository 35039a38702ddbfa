//! One's own account: a signed-in user changes its password, proving it knows the current
//! one. A wrong current password counts as a failed sign-in, so this is no way around the
//! sign-in throttle.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use lvs_model::access::check_password;

use super::error::{EditError, EditResult};
use super::{passwords, users, Author};
use crate::db::credentials::Principal;
use crate::db::users as stored;
use crate::state::AppState;

/// Sets `by`'s password to `password` if `current` is its password now; every session of
/// the user ends, this one too.
pub async fn change_password(
    state: &AppState,
    by: &Principal,
    current: &str,
    password: &str,
    author: &Author,
) -> EditResult<()> {
    if by.user_id.is_none() {
        return Err(EditError::Conflict {
            code: "no_password",
            detail: format!(
                "service account {} signs in with API tokens only and has no password",
                by.actor.name
            ),
        });
    }
    let name = by.actor.name.as_str();
    let client = author
        .client
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let throttle = &state.access.throttle;
    if let Err(refusal) = throttle.check(name, client, Instant::now()) {
        let wait = refusal.retry_after().as_secs().max(1);
        return Err(EditError::invalid(
            "current_password",
            format!("too many wrong passwords; try again in {wait} seconds"),
        ));
    }
    check_password(password).map_err(|why| EditError::invalid("password", why))?;
    let mut read = state.db.read().await?;
    let user = stored::get(&mut read, name)
        .await?
        .ok_or_else(|| EditError::not_found(format!("user {name}")))?;
    drop(read);
    if !passwords::verify(current.to_owned(), user.password_hash).await? {
        throttle.failed(name, client, Instant::now());
        tracing::warn!(user = %name, %client, "password change refused: wrong current password");
        return Err(EditError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    throttle.succeeded(name);
    users::set_password(&state.db, name, password, author).await
}

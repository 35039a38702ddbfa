//! Signing in and out of the UI. A sign-in checks the throttle before the password (a
//! refused attempt costs no hashing), answers a wrong name and a wrong password alike and
//! in the same time, and records every outcome.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lvs_model::access::Role;
use tokio::sync::OnceCell;

use super::error::EditResult;
use super::{audit, passwords, Actor, ActorKind, Author, Source};
use crate::access::secret::{self, SESSION_PREFIX};
use crate::access::throttle::Refusal;
use crate::db::{credentials, now_millis, users};
use crate::state::AppState;

/// A session just started.
#[derive(Debug)]
pub struct SignedIn {
    /// The cookie's value: the only time it is known.
    pub cookie: String,
    pub user: String,
    pub role: Role,
}

/// Why a sign-in did not happen.
#[derive(Debug)]
pub enum SignInError {
    /// Wrong name or password: one answer for both.
    Refused,
    /// Too many failures: the next attempt may be made after this long.
    Throttled(Duration),
    Failed(super::EditError),
}

impl<E: Into<super::EditError>> From<E> for SignInError {
    fn from(error: E) -> Self {
        SignInError::Failed(error.into())
    }
}

/// Checks `name` and `password` from `client` and starts a session.
pub async fn sign_in(
    state: &AppState,
    name: &str,
    password: &str,
    client: IpAddr,
) -> Result<SignedIn, SignInError> {
    let throttle = &state.access.throttle;
    if let Err(refusal) = throttle.check(name, client, Instant::now()) {
        let wait = refusal.retry_after();
        let locked = matches!(refusal, Refusal::Locked(_));
        tracing::warn!(user = %printable(name), %client, locked, wait_s = wait.as_secs(), "sign-in refused: too many failures");
        return Err(SignInError::Throttled(wait));
    }
    let mut read = state.db.read().await?;
    let user = users::get(&mut read, name).await?;
    drop(read);
    // An unknown name costs the same hashing as a wrong password, so timing tells nothing.
    let hash = match &user {
        Some(user) => user.password_hash.clone(),
        None => decoy_hash().await?.to_owned(),
    };
    let matches = passwords::verify(password.to_owned(), hash).await?;
    let author = Author {
        actor: Actor::user(name),
        source: Source::Ui,
        client: Some(client.to_string()),
    };
    let Some(user) = user.filter(|_| matches) else {
        throttle.failed(name, client, Instant::now());
        tracing::warn!(user = %printable(name), %client, "sign-in failed: wrong user name or password");
        let anonymous = Author {
            actor: Actor {
                kind: ActorKind::Anonymous,
                name: printable(name),
                token: None,
            },
            ..author
        };
        let event_target = format!("user {}", printable(name));
        let mut tx = state.db.write().await?;
        audit(
            &mut tx,
            &anonymous,
            "login_failed",
            event_target,
            String::new(),
        )
        .await?;
        tx.commit().await?;
        return Err(SignInError::Refused);
    };
    throttle.succeeded(name);
    let (cookie, hash) = secret::new(SESSION_PREFIX)?;
    let mut tx = state.db.write().await?;
    credentials::insert_session(&mut tx, &hash, user.id, &client.to_string(), now_millis()).await?;
    audit(
        &mut tx,
        &author,
        "login",
        format!("user {}", user.name),
        String::new(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user = %user.name, %client, "signed in");
    Ok(SignedIn {
        cookie,
        user: user.name,
        role: user.role,
    })
}

/// Ends the session of `cookie`, if it is one.
pub async fn sign_out(state: &AppState, cookie: &str, author: &Author) -> EditResult<()> {
    if !secret::well_formed(SESSION_PREFIX, cookie) {
        return Ok(());
    }
    let hash = secret::hash(cookie);
    let mut tx = state.db.write().await?;
    if credentials::delete_session(&mut tx, &hash).await? {
        let target = format!("user {}", author.actor.name);
        audit(&mut tx, author, "logout", target, String::new()).await?;
    }
    tx.commit().await?;
    state.access.forget_session(&hash);
    Ok(())
}

/// A hash of a random password, made once, that unknown names are checked against.
async fn decoy_hash() -> EditResult<&'static str> {
    static DECOY: OnceCell<String> = OnceCell::const_new();
    let hash = DECOY
        .get_or_try_init(|| async { passwords::hash(passwords::generate()?).await })
        .await?;
    Ok(hash)
}

/// A name as tried, safe to log and store: at most 64 characters, no control characters.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

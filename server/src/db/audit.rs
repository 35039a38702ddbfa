//! Who did what: the author of every change (`change_authors`) and the `audit_log`, which
//! also holds sign-ins, their failures, sign-outs, and users and tokens added or removed.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sqlx::SqliteConnection;
use utoipa::ToSchema;

use super::changes::Source;
use super::{in_row, Tx};

/// What kind of identity acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A user signed in to the UI (or its API token, see [`Actor::token`]).
    User,
    /// An API token of a service account.
    Token,
    /// `lvs-server` run on the host (`users ...`, `tokens ...`).
    Cli,
    /// Nobody signed in: a failed sign-in.
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::Cli => "cli",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

impl FromStr for ActorKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [
            ActorKind::User,
            ActorKind::Token,
            ActorKind::Cli,
            ActorKind::Anonymous,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .ok_or_else(|| format!("unknown actor kind {text:?}"))
    }
}

/// Who acted: a user, a service account, the host's `lvs-server` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// The user's or service account's name; for the CLI, the host's user.
    pub name: String,
    /// The API token's name, when one was used.
    pub token: Option<String>,
}

impl Actor {
    pub fn user(name: &str) -> Actor {
        Actor {
            kind: ActorKind::User,
            name: name.to_owned(),
            token: None,
        }
    }

    /// `lvs-server` on the host, run by the operating system's user `$USER`.
    pub fn cli() -> Actor {
        let name = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        Actor {
            kind: ActorKind::Cli,
            name,
            token: None,
        }
    }
}

impl fmt::Display for Actor {
    /// `alice`, `alice (token deploy)`, `ci (token deploy)`, `root (lvs-server command)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match (&self.token, self.kind) {
            (Some(token), _) => write!(f, " (token {token})"),
            (None, ActorKind::Cli) => f.write_str(" (lvs-server command)"),
            _ => Ok(()),
        }
    }
}

/// Who made a change, through what, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub actor: Actor,
    pub source: Source,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
}

impl Author {
    /// The host's `lvs-server` command.
    pub fn cli() -> Author {
        Author {
            actor: Actor::cli(),
            source: Source::Cli,
            client: None,
        }
    }

    /// The same actor, through another way in (an import is asked for through the API).
    pub fn via(&self, source: Source) -> Author {
        Author {
            source,
            ..self.clone()
        }
    }
}

/// Records who made generation `generation` of cluster `cluster_id`; in the transaction
/// that made it, after its row in `changes`.
pub(super) async fn insert_change_author(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    generation: super::Generation,
    author: &Author,
) -> Result<(), sqlx::Error> {
    let kind = author.actor.kind.as_str();
    sqlx::query!(
        "INSERT INTO change_authors (cluster_id, generation, actor_kind, actor, token, client)
         VALUES (?, ?, ?, ?, ?, ?)",
        cluster_id,
        generation,
        kind,
        author.actor.name,
        author.actor.token,
        author.client
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One entry of the audit log, to write.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub author: &'a Author,
    /// A stable keyword: `change`, `login`, `login_failed`, `logout`, `user_added`, ...
    pub action: &'static str,
    /// What it happened to, in words.
    pub target: String,
    /// For a change: the cluster and the generation it made.
    pub change: Option<(&'a str, u64)>,
    pub detail: String,
}

/// Appends `event`, at `now`.
pub async fn record(
    conn: &mut SqliteConnection,
    event: &Event<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let author = event.author;
    let kind = author.actor.kind.as_str();
    let source = author.source;
    let cluster = event.change.map(|(cluster, _)| cluster);
    let generation = event.change.map(|(_, g)| super::Generation::new(g));
    sqlx::query!(
        "INSERT INTO audit_log (at, actor_kind, actor, token, source, client, action, target,
                                cluster, generation, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        now,
        kind,
        author.actor.name,
        author.actor.token,
        source,
        author.client,
        event.action,
        event.target,
        cluster,
        generation,
        event.detail
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends `event` in a write transaction of its own.
pub async fn record_alone(db: &super::Db, event: &Event<'_>) -> Result<(), sqlx::Error> {
    let mut tx: Tx = db.write().await?;
    record(&mut tx, event, super::now_millis()).await?;
    tx.commit().await
}

/// An entry as read back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Entry {
    /// Increasing; `before` in the next page's query.
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    #[schema(value_type = String, example = "user")]
    pub actor_kind: String,
    pub actor: String,
    /// The API token used, if one was.
    pub token: Option<String>,
    #[schema(value_type = String, example = "ui")]
    pub source: String,
    pub client: Option<String>,
    pub action: String,
    pub target: String,
    pub cluster: Option<String>,
    pub generation: Option<i64>,
    pub detail: String,
}

/// Which entries to read: all of them by default.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this actor's (a user or service account name).
    pub actor: Option<String>,
    /// Only at or after (Unix ms).
    pub since: Option<i64>,
    /// Only before (Unix ms).
    pub until: Option<i64>,
    /// Only ids below (paging, newest first).
    pub before: Option<i64>,
}

/// Entries matching `filter`, newest first, at most `limit`.
pub async fn list(
    conn: &mut SqliteConnection,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Entry>, sqlx::Error> {
    let since = filter.since.unwrap_or(i64::MIN);
    let until = filter.until.unwrap_or(i64::MAX);
    let before = filter.before.unwrap_or(i64::MAX);
    sqlx::query_as!(
        Entry,
        r#"SELECT id AS "id!", at, actor_kind, actor, token, source, client, action, target,
                  cluster, generation, detail
           FROM audit_log
           WHERE (?1 IS NULL OR actor = ?1) AND at >= ?2 AND at < ?3 AND id < ?4
           ORDER BY id DESC LIMIT ?5"#,
        filter.actor,
        since,
        until,
        before,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("audit_log", &"(a page)", e))
}

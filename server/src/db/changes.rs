//! The `changes` table: what each generation of a cluster's desired state changed, written
//! by [`super::clusters::bump_generation`] in the transaction that made it. (Announcing new
//! generations to waiting agents is [`super::Announcer`], in memory.)

use std::str::FromStr;

use lvs_model::{Diff, DiffSpec, DiffSummary};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use utoipa::ToSchema;

use super::audit::{self, Actor, Author};
use super::{corrupt, in_row, Generation};

/// Entries (timeouts, services, real servers) of a diff stored in full. A bigger diff keeps
/// its whole summary and its first entries, so a 100,000-row import stores about 200 KB
/// rather than 16 MB.
pub const MAX_STORED_ENTRIES: usize = 1000;

/// Who made a change.
// Stored as its word (`api`, `ui`, `import`); another word fails to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(rename_all = "snake_case")]
pub enum Source {
    /// The REST API.
    Api,
    /// The web UI.
    Ui,
    /// `POST .../import`: a director's own services adopted as the desired state.
    Import,
    /// `lvs-server` on the host; never the source of a desired state's change.
    Cli,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Ui => "ui",
            Source::Import => "import",
            Source::Cli => "cli",
        }
    }
}

impl FromStr for Source {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "api" => Ok(Source::Api),
            "ui" => Ok(Source::Ui),
            "import" => Ok(Source::Import),
            "cli" => Ok(Source::Cli),
            other => Err(format!("unknown source {other:?}")),
        }
    }
}

/// A stored change without its diff.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub generation: Generation,
    pub committed_at: i64,
    pub source: Source,
    /// JSON of a [`DiffSummary`].
    pub summary: String,
    /// Whether the stored diff lists only its first [`MAX_STORED_ENTRIES`] entries.
    pub truncated: bool,
    /// Who made it; `None` for changes made before authors were recorded.
    pub author: Option<Author>,
}

/// A row of `changes` joined with its `change_authors` row, as SQLite returns it.
struct Joined {
    generation: Generation,
    committed_at: i64,
    source: Source,
    summary: String,
    truncated: bool,
    actor_kind: Option<String>,
    actor: Option<String>,
    token: Option<String>,
    client: Option<String>,
}

impl Joined {
    fn into_row(self) -> Result<ChangeRow, sqlx::Error> {
        let author = match (self.actor_kind, self.actor) {
            (Some(kind), Some(name)) => Some(Author {
                actor: Actor {
                    kind: kind
                        .parse()
                        .map_err(|why: String| corrupt("change author", &why))?,
                    name,
                    token: self.token,
                },
                source: self.source,
                client: self.client,
            }),
            _ => None,
        };
        Ok(ChangeRow {
            generation: self.generation,
            committed_at: self.committed_at,
            source: self.source,
            summary: self.summary,
            truncated: self.truncated,
            author,
        })
    }
}

impl ChangeRow {
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// The stored summary, validated again on the way out.
    pub fn summary(&self) -> Result<DiffSummary, sqlx::Error> {
        serde_json::from_str(&self.summary).map_err(|e| corrupt(&self.what(), &e.to_string()))
    }

    fn what(&self) -> String {
        format!("change of generation {}", self.generation)
    }
}

/// Records `diff`, whose generations are set, as made by `author` at `now`. Returns the
/// stored JSON when it holds the whole diff.
pub(super) async fn insert(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    diff: &Diff,
    author: &Author,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let source = author.source;
    let (spec, truncated) = DiffSpec::bounded(diff, MAX_STORED_ENTRIES);
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let summary = serde_json::to_string(&spec.summary).map_err(encode)?;
    let json = serde_json::to_string(&spec).map_err(encode)?;
    let generation = Generation::new(diff.to_generation);
    sqlx::query!(
        "INSERT INTO changes (cluster_id, generation, committed_at, source, summary, truncated, diff)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        cluster_id,
        generation,
        now,
        source,
        summary,
        truncated,
        json
    )
    .execute(&mut *conn)
    .await?;
    audit::insert_change_author(conn, cluster_id, generation, author).await?;
    Ok((!truncated).then_some(json))
}

/// A cluster's changes, newest first, older than generation `before`.
pub async fn list(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Joined,
        r#"SELECT c.generation AS "generation: Generation", c.committed_at,
                  c.source AS "source: Source", c.summary, c.truncated AS "truncated: bool",
                  a.actor_kind AS "actor_kind?", a.actor AS "actor?", a.token, a.client
           FROM changes c
           LEFT JOIN change_authors a
             ON a.cluster_id = c.cluster_id AND a.generation = c.generation
           WHERE c.cluster_id = ? AND c.generation < ?
           ORDER BY c.generation DESC LIMIT ?"#,
        cluster_id,
        before,
        limit
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("changes", &format!("of cluster {cluster_id}"), e))?;
    rows.into_iter().map(Joined::into_row).collect()
}

/// The change that produced `generation`, with its diff as stored JSON.
pub async fn get(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    generation: i64,
) -> Result<Option<(ChangeRow, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT c.generation AS "generation: Generation", c.committed_at,
                  c.source AS "source: Source", c.summary, c.truncated AS "truncated: bool",
                  c.diff, a.actor_kind AS "actor_kind?", a.actor AS "actor?", a.token, a.client
           FROM changes c
           LEFT JOIN change_authors a
             ON a.cluster_id = c.cluster_id AND a.generation = c.generation
           WHERE c.cluster_id = ? AND c.generation = ?"#,
        cluster_id,
        generation
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("changes", &format!("of generation {generation}"), e))?;
    let Some(r) = row else { return Ok(None) };
    let joined = Joined {
        generation: r.generation,
        committed_at: r.committed_at,
        source: r.source,
        summary: r.summary,
        truncated: r.truncated,
        actor_kind: r.actor_kind,
        actor: r.actor,
        token: r.token,
        client: r.client,
    };
    Ok(Some((joined.into_row()?, r.diff)))
}

/// When the change that produced `generation` was committed (Unix ms); `None` when the
/// history does not hold it.
pub async fn committed_at(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    generation: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT committed_at FROM changes WHERE cluster_id = ? AND generation = ?",
        cluster_id,
        generation
    )
    .fetch_optional(conn)
    .await
    .map_err(|e| in_row("changes", &format!("of generation {generation}"), e))
}

/// A stored diff as served to agents.
#[derive(Debug, Clone)]
pub struct StoredDiff {
    pub generation: Generation,
    /// Whether `diff` lists only its first [`MAX_STORED_ENTRIES`] entries.
    pub truncated: bool,
    /// JSON of a [`DiffSpec`].
    pub diff: String,
}

/// The stored diffs of generations `after + 1 ..= to`, in order. The primary key
/// `(cluster_id, generation)` serves the range, so this reads only the rows it returns.
pub async fn diffs_between(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    after: i64,
    to: i64,
) -> Result<Vec<StoredDiff>, sqlx::Error> {
    sqlx::query_as!(
        StoredDiff,
        r#"SELECT generation AS "generation: Generation", truncated AS "truncated: bool", diff
           FROM changes
           WHERE cluster_id = ? AND generation > ? AND generation <= ?
           ORDER BY generation"#,
        cluster_id,
        after,
        to
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("changes", &format!("of cluster {cluster_id}"), e))
}

/// How many of a cluster's changes are older than generation `before` (all: `i64::MAX`),
/// counted in the primary key: a history page's "page X of N".
pub async fn count_before(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    before: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!: i64" FROM changes WHERE cluster_id = ? AND generation < ?"#,
        cluster_id,
        before
    )
    .fetch_one(conn)
    .await
}

/// The generation `offset` changes below the newest, if there is one: the cursor a
/// history page's jump starts after.
pub async fn generation_at(
    conn: &mut SqliteConnection,
    cluster_id: i64,
    offset: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT generation AS "generation!: i64" FROM changes WHERE cluster_id = ?
           ORDER BY generation DESC LIMIT 1 OFFSET ?"#,
        cluster_id,
        offset
    )
    .fetch_optional(conn)
    .await
}

//! The SQLite store: one writer connection (writes queue in-process, each in a
//! `BEGIN IMMEDIATE` transaction) and a pool of readers, which WAL lets run alongside it.

pub mod agent_tokens;
pub mod audit;
pub mod changes;
pub mod clusters;
pub mod credentials;
pub mod desired_state;
pub mod director_status;
pub mod directors;
pub mod health;
pub mod health_events;
pub mod host_polls;
mod migrate;
pub mod pools;
pub mod real_server_hosts;
pub mod real_server_needs;
pub mod real_servers;
pub mod revert_diffs;
pub mod search;
pub mod search_names;
pub mod services;
pub mod stats_history;
pub mod types;
pub mod users;

pub use types::Generation;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};
use tokio::sync::watch;

use agent_tokens::{OwnerCache, TokenOwner};
use credentials::CredentialCache;
use host_polls::{HostChanges, HostPolls};
use real_server_hosts::HostOwner;

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    read: SqlitePool,
    write: SqlitePool,
    announcer: Arc<Announcer>,
    owners: Arc<OwnerCache>,
    host_owners: Arc<OwnerCache<HostOwner>>,
    host_polls: Arc<HostPolls>,
    credentials: Arc<CredentialCache>,
    probe: Arc<health::WriteProbe>,
}

/// A transaction. [`clusters::bump_generation`] records the clusters whose desired state it
/// changed (and what changed, in the `changes` table), and [`Tx::commit`] announces them through [`Announcer`] once they are durable, so
/// no write path can change a desired state without waking the agents waiting for it.
/// Likewise, the writes that can change who an agent token belongs to mark it, and
/// committing it invalidates the cached owners ([`OwnerCache`]); real-server hosts' tokens
/// likewise, in a cache of their own. What a write changes that can change a real-server
/// host's needs is recorded too ([`HostChanges`]), and committing wakes the hosts' long-polls
/// it concerns ([`HostPolls`]).
/// Dropping it rolls back and announces nothing.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Sqlite>,
    announcer: Arc<Announcer>,
    bumped: Vec<(i64, Announced)>,
    owners: Arc<OwnerCache>,
    owners_changed: bool,
    host_owners: Arc<OwnerCache<HostOwner>>,
    host_owners_changed: bool,
    host_polls: Arc<HostPolls>,
    host_changes: HostChanges,
    credentials: Arc<CredentialCache>,
    credentials_changed: bool,
}

impl Tx {
    /// Commits, then tells the waiters of every cluster whose generation was bumped, and
    /// forgets the cached token owners if a write may have changed one.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let committed = self.inner.commit().await;
        if self.owners_changed {
            // Even after a failed COMMIT: invalidating costs one read per agent, a stale
            // owner would let a revoked token in.
            self.owners.invalidate();
        }
        if self.host_owners_changed {
            self.host_owners.invalidate();
        }
        if self.credentials_changed {
            // Likewise: a revoked token or ended session must not stay cached.
            self.credentials.invalidate();
        }
        committed?;
        for (cluster_id, announced) in self.bumped {
            self.announcer.committed(cluster_id, announced);
        }
        self.host_polls.wake(&self.host_changes);
        Ok(())
    }

    pub(crate) fn record_bump(&mut self, cluster_id: i64, announced: Announced) {
        self.bumped.push((cluster_id, announced));
    }

    /// A write in this transaction may change what [`agent_tokens::owner`] returns.
    pub(crate) fn record_owners_changed(&mut self) {
        self.owners_changed = true;
    }

    /// A write in this transaction may change what [`real_server_hosts::owner`] returns.
    pub(crate) fn record_host_owners_changed(&mut self) {
        self.host_owners_changed = true;
    }

    /// Where a write records what it changed that can change real-server hosts' needs.
    pub(crate) fn host_changes(&mut self) -> &mut HostChanges {
        &mut self.host_changes
    }

    /// A write in this transaction may change what a session or an API token stands for
    /// (see [`credentials::CredentialCache`]).
    pub(crate) fn record_credentials_changed(&mut self) {
        self.credentials_changed = true;
    }
}

impl Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.inner
    }
}

/// Committed generations, per cluster, for whoever waits for the next one (agents'
/// long-polls). A cluster's channel exists only while someone has subscribed to it.
#[derive(Debug, Default)]
pub struct Announcer {
    clusters: Mutex<HashMap<i64, watch::Sender<Announced>>>,
}

/// A committed generation as its waiters learn it: with the diff that led to it, so the
/// agents it wakes need not read that back.
#[derive(Debug, Clone, Default)]
pub struct Announced {
    /// Which cluster of this id (a deleted cluster's id may be used again).
    pub cluster_created_at: i64,
    /// 0 until a commit is announced.
    pub generation: u64,
    /// The JSON stored in the `changes` table for this generation, when stored whole.
    pub diff: Option<Arc<str>>,
}

impl Announcer {
    /// A receiver that sees every generation of the cluster committed from now on (each
    /// commit marks it changed, see [`watch::Receiver::changed`]).
    pub fn subscribe(&self, cluster_id: i64) -> watch::Receiver<Announced> {
        let mut clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        clusters
            .entry(cluster_id)
            .or_insert_with(|| watch::channel(Announced::default()).0)
            .subscribe()
    }

    /// Called after the commit that took `cluster_id` to `announced.generation`. The
    /// generation only ever grows, so it is the cluster's latest committed one even when two
    /// commits announce theirs out of order (each announces after its COMMIT returns).
    pub fn committed(&self, cluster_id: i64, announced: Announced) {
        let clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = clusters.get(&cluster_id) {
            sender.send_if_modified(|latest| {
                let newer = announced.generation > latest.generation;
                if newer {
                    *latest = announced;
                }
                newer
            });
        }
    }

    /// The cluster was deleted: its waiters' receivers close.
    pub fn forget(&self, cluster_id: i64) {
        let mut clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        clusters.remove(&cluster_id);
    }
}

impl Db {
    /// Opens (creating if needed) the database at `url`, checks that it is intact, applies
    /// pending migrations and checks that a write commits: a server that cannot write must
    /// not start and answer reads as if all were well.
    pub async fn open(url: &str) -> Result<Db, health::OpenError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let opening = migrate::lock(options.get_filename()).await?;
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(health::OpenError::classify)?;
        health::check_integrity(&write).await?;
        migrate::run(&write).await?;
        health::write(&write, now_millis()).await.map_err(
            |error| match health::OpenError::classify(error) {
                health::OpenError::Sqlx(error) => health::OpenError::ReadOnly(error),
                other => other,
            },
        )?;
        drop(opening);
        // Readers only wait on the disk and the CPU: a few per core keep both busy, and each
        // connection has its own page cache.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Db {
            read,
            write,
            announcer: Arc::default(),
            owners: Arc::default(),
            host_owners: Arc::default(),
            host_polls: Arc::default(),
            credentials: Arc::default(),
            probe: Arc::default(),
        })
    }

    /// A write transaction; it holds the database's write lock from the start, so what it
    /// reads cannot change before it commits.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        let inner = self.write.begin_with("BEGIN IMMEDIATE").await?;
        Ok(self.tx(inner))
    }

    /// A read transaction: a consistent snapshot for multi-query reads.
    pub async fn read(&self) -> Result<Tx, sqlx::Error> {
        let inner = self.read.begin().await?;
        Ok(self.tx(inner))
    }

    fn tx(&self, inner: Transaction<'static, Sqlite>) -> Tx {
        Tx {
            inner,
            announcer: self.announcer.clone(),
            bumped: Vec::new(),
            owners: self.owners.clone(),
            owners_changed: false,
            host_owners: self.host_owners.clone(),
            host_owners_changed: false,
            host_polls: self.host_polls.clone(),
            host_changes: HostChanges::default(),
            credentials: self.credentials.clone(),
            credentials_changed: false,
        }
    }

    /// Who the agent token with this hash belongs to, from the cache ([`OwnerCache`]) or
    /// else the database. `None` for an unknown token, which is never cached.
    pub async fn token_owner(&self, hash: &[u8; 32]) -> Result<Option<TokenOwner>, sqlx::Error> {
        let epoch = match self.owners.get(hash) {
            Ok(owner) => return Ok(Some(owner)),
            Err(epoch) => epoch,
        };
        let mut tx = self.read().await?;
        let owner = agent_tokens::owner(&mut tx, hash).await?;
        drop(tx);
        if let Some(owner) = &owner {
            self.owners.insert(epoch, *hash, owner.clone());
        }
        Ok(owner)
    }

    /// Which real-server host the agent token with this hash belongs to, cached like
    /// [`Db::token_owner`]'s answers. `None` for an unknown token, which is never cached.
    pub async fn host_token_owner(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<HostOwner>, sqlx::Error> {
        let epoch = match self.host_owners.get(hash) {
            Ok(owner) => return Ok(Some(owner)),
            Err(epoch) => epoch,
        };
        let mut tx = self.read().await?;
        let owner = real_server_hosts::owner(&mut tx, hash).await?;
        drop(tx);
        if let Some(owner) = &owner {
            self.host_owners.insert(epoch, *hash, owner.clone());
        }
        Ok(owner)
    }

    /// What the session or API token with this hash stands for, from the cache
    /// ([`CredentialCache`]) or else the database. `None` for an unknown one, never cached.
    /// Expiry is the caller's to check.
    pub async fn principal(
        &self,
        kind: credentials::Kind,
        hash: &[u8; 32],
    ) -> Result<Option<Arc<credentials::Principal>>, sqlx::Error> {
        let now = now_millis();
        let epoch = match self.credentials.get(kind, hash, now) {
            Ok(principal) => return Ok(Some(principal)),
            Err(epoch) => epoch,
        };
        let mut tx = self.read().await?;
        let principal = match kind {
            credentials::Kind::Session => credentials::session(&mut tx, hash).await?,
            credentials::Kind::ApiToken => credentials::api_token(&mut tx, hash).await?,
        };
        drop(tx);
        let principal = principal.map(Arc::new);
        if let Some(principal) = &principal {
            self.credentials
                .insert(epoch, kind, *hash, principal.clone(), now);
        }
        Ok(principal)
    }

    /// Marked changed by every commit that may have revoked a token (see [`OwnerCache`]):
    /// whoever holds a request authenticated by one checks it again.
    pub fn token_owners_changed(&self) -> watch::Receiver<u64> {
        self.owners.subscribe()
    }

    /// Marked changed by every commit that may have revoked a real-server host's token.
    pub fn host_token_owners_changed(&self) -> watch::Receiver<u64> {
        self.host_owners.subscribe()
    }

    /// The real-server hosts' waiting long-polls, which commits wake.
    pub fn host_polls(&self) -> &Arc<HostPolls> {
        &self.host_polls
    }

    /// Where committed generations are announced.
    pub fn announcer(&self) -> &Announcer {
        &self.announcer
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.read).await.map(drop)
    }

    /// Whether a write commits now (see [`health::WriteProbe`]).
    pub async fn writes(&self) -> bool {
        self.probe.writes(&self.write, now_millis()).await
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Whether `error` is a UNIQUE constraint violation, which callers report as a duplicate.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Rows of `table` that SQLite packed into one JSON array (`json_group_array`), which sqlx
/// returns much faster than as rows. Each row is a JSON array of its values in the order of
/// `columns`, the one list its query is generated from, and is handed to the row type as a
/// map keyed by those names: a row type reads its fields by name. (Objects would repeat
/// every column name in every row, twice the text, held by SQLite and by sqlx at once.)
#[derive(Debug)]
pub struct JsonRows {
    table: &'static str,
    columns: &'static [&'static str],
    json: String,
}

impl JsonRows {
    pub(crate) fn new(
        table: &'static str,
        columns: &'static [&'static str],
        json: String,
    ) -> JsonRows {
        JsonRows {
            table,
            columns,
            json,
        }
    }

    /// The rows, each parsed only when it is reached, so they are never all in memory.
    pub fn iter<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<impl Iterator<Item = Result<T, sqlx::Error>> + '_, sqlx::Error> {
        check_columns::<T>(self.table, self.columns)?;
        let rows: Vec<&serde_json::value::RawValue> = serde_json::from_str(&self.json)
            .map_err(|e| corrupt(&format!("{} rows", self.table), &e.to_string()))?;
        Ok(rows.into_iter().map(|row| self.row(row.get())))
    }

    /// Every row at once.
    pub fn collect<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, sqlx::Error> {
        self.iter()?.collect()
    }

    /// One row; an error names its id and the column that did not decode.
    fn row<T: serde::de::DeserializeOwned>(&self, json: &str) -> Result<T, sqlx::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let row = ByName {
            columns: self.columns,
            values: &mut deserializer,
        };
        serde_path_to_error::deserialize(row).map_err(|error| {
            #[derive(serde::Deserialize)]
            struct Id {
                id: i64,
            }
            let mut deserializer = serde_json::Deserializer::from_str(json);
            let row = ByName {
                columns: self.columns,
                values: &mut deserializer,
            };
            let id = <Id as serde::Deserialize>::deserialize(row).map_or(-1, |row| row.id);
            let column = error.path().to_string();
            corrupt(
                &format!("{} row {id}", self.table),
                &format!("column {column}: {}", error.into_inner()),
            )
        })
    }
}

/// `SELECT json_group_array(json_array(..)) FROM ..`: the rows that [`JsonRows`] reads, each
/// the values of `columns` in their order, each read by the SQL `value` gives for its name.
pub(crate) fn json_rows_sql(
    columns: &[&str],
    value: impl Fn(&str) -> String,
    from: &str,
) -> String {
    let values: Vec<_> = columns.iter().map(|c| value(c)).collect();
    format!(
        "SELECT json_group_array(json_array({})) FROM {from}",
        values.join(", ")
    )
}

/// A table's columns as bulk reads select them: `id`, the parent's id, the columns writes
/// set (`settings`), then the timestamps. Derived from the write list, so a new column is
/// listed once. `M` must be `N + 4`.
pub(crate) const fn read_columns<const N: usize, const M: usize>(
    parent: &'static str,
    settings: [&'static str; N],
) -> [&'static str; M] {
    assert!(
        M == N + 4,
        "read columns are id, parent, settings and two timestamps"
    );
    let mut columns = [""; M];
    columns[0] = "id";
    columns[1] = parent;
    let mut i = 0;
    while i < N {
        columns[i + 2] = settings[i];
        i += 1;
    }
    columns[N + 2] = "created_at";
    columns[N + 3] = "updated_at";
    columns
}

/// The values of a multi-row write: for each of `columns`, the field of that name of the
/// JSON object `json_each` yields as `alias` (`s.value ->> 'port'`), so values are bound by
/// name, never by position.
pub(crate) fn json_fields(alias: &str, columns: &[&str]) -> String {
    let fields: Vec<_> = columns
        .iter()
        .map(|c| format!("{alias}.value ->> '{c}'"))
        .collect();
    fields.join(", ")
}

/// `UPDATE table` of the rows that the objects of the JSON array `?1` name by `id`,
/// updated at `?2`: each of `columns` set from the object's field of the same name.
pub(crate) fn update_from_json_sql(table: &str, columns: &[&str]) -> String {
    let set: Vec<_> = columns
        .iter()
        .map(|c| format!("{c} = j.value ->> '{c}'"))
        .collect();
    format!(
        "UPDATE {table} SET {}, updated_at = ?2
         FROM json_each(?1) AS j WHERE {table}.id = j.value ->> 'id'",
        set.join(", ")
    )
}

/// Fails unless `columns` are exactly the fields `T` decodes, in any order: a column the
/// row type lacks would fail every row, but a field the query lacks would be read as absent
/// (`None`) without a word.
fn check_columns<'de, T: serde::Deserialize<'de>>(
    table: &str,
    columns: &[&str],
) -> Result<(), sqlx::Error> {
    let fields = fields_of::<T>();
    let missing: Vec<_> = fields.iter().filter(|f| !columns.contains(f)).collect();
    let unknown: Vec<_> = columns.iter().filter(|c| !fields.contains(c)).collect();
    if missing.is_empty() && unknown.is_empty() && fields.len() == columns.len() {
        return Ok(());
    }
    Err(sqlx::Error::Protocol(format!(
        "{table} rows are read as columns {columns:?}, not the row's fields {fields:?}"
    )))
}

/// The field names the derived `Deserialize` of the struct `T` asks for (none for other
/// types), learnt from a deserializer that answers nothing else.
fn fields_of<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{Deserializer, Visitor};

    #[derive(Debug)]
    struct Fields(&'static [&'static str]);

    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fields {:?}", self.0)
        }
    }

    impl std::error::Error for Fields {}

    impl serde::de::Error for Fields {
        fn custom<M: std::fmt::Display>(_: M) -> Fields {
            Fields(&[])
        }
    }

    struct Introspect;

    impl<'de> Deserializer<'de> for Introspect {
        type Error = Fields;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    T::deserialize(Introspect).map_or_else(|Fields(fields)| fields, |_| &[])
}

/// A row as a JSON array of values, handed to a row type as a map from `columns`, in
/// order, to them.
struct ByName<D> {
    columns: &'static [&'static str],
    values: D,
}

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ByName<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.values.deserialize_seq(Zip {
            columns: self.columns,
            visitor,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
        enum identifier ignored_any
    }
}

/// Visits a row's array as the map [`ByName`] stands for.
struct Zip<V> {
    columns: &'static [&'static str],
    visitor: V,
}

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for Zip<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an array of {} values", self.columns.len())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<V::Value, A::Error> {
        let row = self.visitor.visit_map(Columns {
            names: self.columns.iter(),
            seq: &mut seq,
        })?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(serde::de::Error::custom(format_args!(
                "more values than the {} columns",
                self.columns.len()
            )));
        }
        Ok(row)
    }
}

/// A row's values, each keyed by the name of its column.
struct Columns<'s, A> {
    names: std::slice::Iter<'static, &'static str>,
    seq: &'s mut A,
}

impl<'de, A: serde::de::SeqAccess<'de>> serde::de::MapAccess<'de> for Columns<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(name) = self.names.next() else {
            return Ok(None);
        };
        seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(name))
            .map(Some)
    }

    fn next_value_seed<S: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, A::Error> {
        self.seq
            .next_element_seed(seed)?
            .ok_or_else(|| serde::de::Error::custom("fewer values than columns"))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.names.len())
    }
}

/// A decode error of a row read from `table` with the query macros (a keyword outside its
/// set, a negative generation), made to name the table and `row`; other errors pass as
/// they are.
pub(crate) fn in_row(table: &str, row: &dyn std::fmt::Display, error: sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::ColumnDecode { index, source } => corrupt(
            &format!("{table} row {row}"),
            &format!("column {index}: {source}"),
        ),
        other => other,
    }
}

/// Rows per multi-row statement: at most 17 values each, well under SQLite's bound of 32,766
/// parameters, and each statement a round trip to SQLite's thread whatever its size. Such
/// statements are not kept prepared: each takes hundreds of kilobytes, and bulk writes are
/// rare.
const ROWS_PER_STATEMENT: usize = 500;

/// `DELETE FROM table WHERE id IN (..)`, `ROWS_PER_STATEMENT` ids at a time.
async fn delete_ids(
    conn: &mut SqliteConnection,
    table: &'static str,
    ids: &[i64],
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {table} WHERE id IN ("));
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        query.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rows that fail the model's validation on the way out: the database was changed behind
/// the server's back.
pub fn corrupt(what: &str, why: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is invalid: {why}").into())
}

/// Now, in Unix milliseconds, as stored.
pub fn now_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

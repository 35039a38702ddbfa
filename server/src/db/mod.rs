//! The SQLite store: one writer connection (writes queue in-process, each in a
//! `BEGIN IMMEDIATE` transaction) and a pool of readers, which WAL lets run alongside it.

pub mod clusters;
pub mod desired_state;
pub mod directors;
pub mod real_servers;
pub mod services;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

/// Handle to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    read: SqlitePool,
    write: SqlitePool,
}

pub type Tx = Transaction<'static, Sqlite>;

impl Db {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Db, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("../migrations").run(&write).await?;
        // Readers only wait on the disk and the CPU: a few per core keep both busy, and each
        // connection has its own page cache.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Db { read, write })
    }

    /// A write transaction; it holds the database's write lock from the start, so what it
    /// reads cannot change before it commits.
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin_with("BEGIN IMMEDIATE").await
    }

    /// A read transaction: a consistent snapshot for multi-query reads.
    pub async fn read(&self) -> Result<Tx, sqlx::Error> {
        self.read.begin().await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.read).await.map(drop)
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

/// Rows that SQLite packed into one JSON array of arrays (each in its row type's field
/// order), which sqlx returns much faster than as rows.
#[derive(Debug)]
pub struct JsonRows(String);

impl JsonRows {
    /// The rows, each parsed only when it is reached, so they are never all in memory.
    pub fn iter<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<impl Iterator<Item = Result<T, sqlx::Error>> + '_, sqlx::Error> {
        let rows: Vec<&serde_json::value::RawValue> =
            serde_json::from_str(&self.0).map_err(decode_error)?;
        Ok(rows
            .into_iter()
            .map(|row| serde_json::from_str(row.get()).map_err(decode_error)))
    }

    /// Every row at once.
    pub fn collect<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>, sqlx::Error> {
        serde_json::from_str(&self.0).map_err(decode_error)
    }
}

fn decode_error(error: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

/// Now, in Unix milliseconds, as stored.
pub fn now_millis() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

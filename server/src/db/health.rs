//! Whether the database can do its job: checked whole before the server starts, and by a
//! write that commits for the readiness probe.

use std::time::{Duration, Instant};

use sqlx::SqlitePool;
use tokio::sync::Mutex;

/// Why the database cannot be used; the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(
        "the database file is damaged (PRAGMA quick_check: {0}); restore it from a backup or \
         repair it with sqlite3's .recover before starting the server"
    )]
    Corrupt(String),
    #[error(
        "the database cannot be written ({0}); check the owner and mode of the file, of its \
         -wal and -shm files and of their directory, and that the file system is mounted \
         read-write"
    )]
    ReadOnly(sqlx::Error),
}

impl OpenError {
    /// Names what SQLite's error codes say: a read-only database (`SQLITE_READONLY` and its
    /// extended codes), a damaged one (`SQLITE_CORRUPT`, `SQLITE_NOTADB`).
    pub fn classify(error: sqlx::Error) -> OpenError {
        let code = match &error {
            sqlx::Error::Database(e) => e.code().and_then(|c| c.parse::<i32>().ok()),
            _ => None,
        };
        match code.map(|c| c & 0xff) {
            Some(8) => OpenError::ReadOnly(error),
            Some(11 | 26) => OpenError::Corrupt(error.to_string()),
            _ => OpenError::Sqlx(error),
        }
    }
}

/// Checks every page's structure (`quick_check`: the integrity check without the costly
/// index-content comparison) before anything is read or written.
pub async fn check_integrity(pool: &SqlitePool) -> Result<(), OpenError> {
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(10)")
        .fetch_all(pool)
        .await
        // A damaged header or schema page fails the check itself.
        .map_err(OpenError::classify)?;
    match problems.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(OpenError::Corrupt(problems.join("; "))),
    }
}

/// A write that commits, as every change does.
pub async fn write(pool: &SqlitePool, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query!("UPDATE write_probe SET checked_at = ? WHERE id = 1", now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The readiness probe's write, shared: concurrent probes wait for one write, and a result
/// younger than [`Self::FRESH`] is reused, so that probing cannot crowd out real writes.
#[derive(Debug, Default)]
pub struct WriteProbe {
    last: Mutex<Option<(Instant, bool)>>,
}

impl WriteProbe {
    /// How long a probe's result stands for the next ones.
    const FRESH: Duration = Duration::from_secs(1);
    /// A write waits behind the writes queued before it; one that has not committed by then
    /// means the database is not usable now.
    const PATIENCE: Duration = Duration::from_secs(5);

    /// Whether a write commits now (or did within [`Self::FRESH`]).
    pub async fn writes(&self, pool: &SqlitePool, now: i64) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last {
            if at.elapsed() < Self::FRESH {
                return ok;
            }
        }
        let ok = match tokio::time::timeout(Self::PATIENCE, write(pool, now)).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "readiness: the database does not accept writes");
                false
            }
            Err(_) => {
                tracing::warn!(
                    seconds = Self::PATIENCE.as_secs(),
                    "readiness: a write did not commit in time"
                );
                false
            }
        };
        *last = Some((Instant::now(), ok));
        ok
    }
}

//! Schema migrations, applied by one process at a time.
//!
//! `lvs-server` and its subcommands (`users`, `tokens`) open the same file, often at once in
//! setup scripts. sqlx takes no lock on SQLite, so two processes that both find a migration
//! pending would both apply it and one would fail half-way through start-up ("duplicate
//! column"). An exclusive `flock` on the database's directory serialises them: the second
//! waits, then finds nothing pending. The directory rather than the file, because closing any
//! descriptor of the database file would drop SQLite's own POSIX locks held by this process.

use std::fs::File;
use std::path::Path;

use rustix::fs::{flock, FlockOperation};
use sqlx::SqlitePool;

use super::health::OpenError;

/// Applies pending migrations to the database in `file` (`:memory:` or empty: no lock).
pub async fn run(write: &SqlitePool, file: &Path) -> Result<(), OpenError> {
    let _lock = match file.parent() {
        Some(dir) if !is_memory(file) => Some(lock(dir).await?),
        _ => None,
    };
    sqlx::migrate!("../migrations")
        .run(write)
        .await
        .map_err(|error| OpenError::classify(error.into()))
}

fn is_memory(file: &Path) -> bool {
    file.as_os_str().is_empty() || file == Path::new(":memory:")
}

/// Held until dropped (closing the descriptor releases the lock).
async fn lock(dir: &Path) -> Result<File, OpenError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let path = dir.to_owned();
    // flock blocks the thread while another process migrates.
    tokio::task::spawn_blocking(move || {
        let handle = File::open(&path)?;
        flock(&handle, FlockOperation::LockExclusive)?;
        Ok(handle)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|result| result)
    .map_err(|error: std::io::Error| {
        OpenError::Sqlx(sqlx::Error::Io(std::io::Error::new(
            error.kind(),
            format!("cannot lock {} for migrations: {error}", dir.display()),
        )))
    })
}

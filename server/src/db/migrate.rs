//! Opening a database one process at a time, and its schema migrations.
//!
//! `lvs-server` and its subcommands (`users`, `tokens`) open the same file, often at once in
//! setup scripts. Opening a new database writes to it (WAL mode, migrations, the write
//! check), and sqlx takes no lock on SQLite: two processes that both found a migration
//! pending would both apply it ("duplicate column"), and a process converting the file to
//! WAL mode can make another's first statement fail at once ("database is locked"). An
//! exclusive `flock` on the database's directory, held from before the first connection
//! until the open is done, serialises them; serving afterwards is SQLite's own locking. The
//! directory rather than the file, because closing any descriptor of the database file
//! would drop SQLite's own POSIX locks held by this process.

use std::fs::File;
use std::path::Path;

use rustix::fs::{flock, FlockOperation};
use sqlx::SqlitePool;

use super::health::OpenError;

/// Held until dropped (closing the descriptor releases the lock); `None` for a database
/// in memory.
pub struct OpenLock {
    _held: Option<File>,
}

/// Waits until no other process is opening the database in `file` (`:memory:` or empty:
/// at once), and keeps others from opening it until the lock is dropped.
pub async fn lock(file: &Path) -> Result<OpenLock, OpenError> {
    if file.as_os_str().is_empty() || file == Path::new(":memory:") {
        return Ok(OpenLock { _held: None });
    }
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    let shown = dir.display().to_string();
    // flock blocks the thread while another process opens the database.
    tokio::task::spawn_blocking(move || {
        let handle = File::open(&dir)?;
        flock(&handle, FlockOperation::LockExclusive)?;
        Ok(handle)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|result| result)
    .map(|handle| OpenLock {
        _held: Some(handle),
    })
    .map_err(|error: std::io::Error| {
        OpenError::Sqlx(sqlx::Error::Io(std::io::Error::new(
            error.kind(),
            format!("cannot lock {shown} to open the database: {error}"),
        )))
    })
}

/// Applies pending migrations; call it holding the [`OpenLock`].
pub async fn run(write: &SqlitePool) -> Result<(), OpenError> {
    sqlx::migrate!("../migrations")
        .run(write)
        .await
        .map_err(|error| OpenError::classify(error.into()))
}

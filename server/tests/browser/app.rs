//! The real server, in this process, on `127.0.0.1:0` with a fresh SQLite file.

use std::path::PathBuf;

use lvs_testkit::server::InProcessServer;

/// A running server; dropping it stops the server and deletes its database.
#[derive(Debug)]
pub struct App {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    _server: InProcessServer,
}

impl App {
    pub async fn start() -> App {
        let server = InProcessServer::start(lvs_server::ServeOptions::default()).await;
        App {
            base: server.base(),
            _server: server,
        }
    }
}

/// Where screenshots go: `<target dir>/ui-screenshots/`, the target dir being
/// `$CARGO_TARGET_DIR` if set (relative to the workspace), else the workspace's `target/`.
pub fn screenshot_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .expect("the server crate sits in the workspace");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    };
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

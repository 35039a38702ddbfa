//! The real server, in this process, on `127.0.0.1:0` with a fresh SQLite file.

use std::path::PathBuf;

use lvs_server::agents::AgentOptions;
use lvs_server::db::Db;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server; dropping it stops the server and deletes its database.
#[derive(Debug)]
pub struct App {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    _dir: TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl App {
    pub async fn start() -> App {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("fleet.db").display());
        let db = Db::open(&url).await.expect("open the database");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let options = lvs_server::ServeOptions {
            agents: AgentOptions::default(),
            ..lvs_server::ServeOptions::default()
        };
        tokio::spawn(lvs_server::serve_with(listener, db, options, shutdown));
        App {
            base: format!("http://{addr}"),
            _dir: dir,
            _shutdown: tx,
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

//! The real `lvs-server` in the calling process, on `127.0.0.1:0`, with a SQLite file in a
//! directory of its own: what the server's API tests, browser tests and UI benchmark start.

use std::net::SocketAddr;

use lvs_server::db::Db;
use lvs_server::ServeOptions;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server. Dropping it stops the server and deletes its directory; [`stop`]
/// stops it gracefully and keeps the directory, to start another on the same file.
///
/// [`stop`]: InProcessServer::stop
#[derive(Debug)]
pub struct InProcessServer {
    pub addr: SocketAddr,
    /// `https` with `ServeOptions::tls`, `http` otherwise.
    scheme: &'static str,
    dir: Option<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl InProcessServer {
    /// A server with `options` on a fresh database.
    pub async fn start(options: ServeOptions) -> InProcessServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        InProcessServer::start_in(dir, options).await
    }

    /// A server with `options` on the database in `dir` (created if missing).
    pub async fn start_in(dir: TempDir, options: ServeOptions) -> InProcessServer {
        let db = Db::open(&database_url(&dir))
            .await
            .expect("open the database");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let (tx, rx) = oneshot::channel::<()>();
        // Dropping the sender, with the server, stops it too.
        let shutdown = async move {
            let _ = rx.await;
        };
        let task = tokio::spawn(lvs_server::serve_with(listener, db, options, shutdown));
        InProcessServer {
            addr,
            scheme,
            dir: Some(dir),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), without a trailing slash.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The `sqlite://` URL of its database file.
    pub fn database_url(&self) -> String {
        database_url(
            self.dir
                .as_ref()
                .expect("a running server has its directory"),
        )
    }

    /// Stops the server gracefully, waits until it has closed the database, and returns
    /// the directory that holds it.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
        self.dir.take().expect("a running server has its directory")
    }
}

fn database_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("fleet.db").display())
}

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
    /// An admin API token of the service account `tests`, made before the server started:
    /// what tests send unless they test credentials themselves.
    pub admin_token: String,
    /// The session cookie's value of user `admin` (password [`ADMIN_PASSWORD`]), signed
    /// in before the server started: what UI tests browse with.
    pub admin_session: String,
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
        let admin_token = admin_token(&db).await;
        let admin_session = admin_session(&db).await;
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
            admin_token,
            admin_session,
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

/// Issues an admin token to the service account `tests`, as `lvs-server tokens add` would;
/// a database that has one (a restart) gets another.
async fn admin_token(db: &Db) -> String {
    use lvs_server::edit::api_tokens::{create, Owner, TokenRequest};
    let (_, hash) = lvs_server::access::secret::new("x").expect("randomness");
    let name = format!(
        "tests-{}",
        hash[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let request = TokenRequest {
        name,
        owner: Owner::ServiceAccount("tests".into()),
        role: lvs_model::access::Role::Admin,
        clusters: Vec::new(),
        expires_at: None,
    };
    let author = lvs_server::edit::Author::cli();
    create(db, &request, None, &author)
        .await
        .expect("issue the tests' admin token")
        .token
}

/// The password of user `admin` of every in-process server.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Adds user `admin` unless it exists, and starts a session for it, as signing in would.
async fn admin_session(db: &Db) -> String {
    session_of(db, "admin", lvs_model::access::Role::Admin).await
}

/// Adds user `name` with `role` (password [`ADMIN_PASSWORD`]) unless it exists, and starts
/// a session for it; the session cookie's value.
pub async fn session_of(db: &Db, name: &str, role: lvs_model::access::Role) -> String {
    use lvs_server::db::{credentials, now_millis, users};
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let hash = HASH
        .get_or_init(|| async {
            lvs_server::edit::passwords::hash(ADMIN_PASSWORD.to_owned())
                .await
                .expect("hash the admin's password")
        })
        .await;
    let mut tx = db.write().await.expect("a write transaction");
    let user = match users::get(&mut tx, name).await.expect("read users") {
        Some(user) => user.id,
        None => users::insert(&mut tx, name, role, hash, now_millis())
            .await
            .expect("add the user"),
    };
    let (cookie, hash) =
        lvs_server::access::secret::new(lvs_server::access::secret::SESSION_PREFIX)
            .expect("randomness");
    credentials::insert_session(&mut tx, &hash, user, "127.0.0.1", now_millis())
        .await
        .expect("start a session");
    tx.commit().await.expect("commit");
    cookie
}

/// An HTTP client that sends `token` on every request (a request's own `Authorization`,
/// an agent's, takes its place).
pub fn client_with_token(token: &str) -> reqwest::ClientBuilder {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("a token is a header value");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers)
}

fn database_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("fleet.db").display())
}

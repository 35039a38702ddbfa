//! The real server, in this process, on `127.0.0.1:0` with a fresh SQLite file.

use std::path::PathBuf;

use lvs_testkit::server::InProcessServer;
use serde_json::Value;

/// A running server; dropping it stops the server and deletes its database.
#[derive(Debug)]
pub struct App {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    /// For what the test sets up through the API, as an operator's script or an agent would.
    client: reqwest::Client,
    _server: InProcessServer,
}

impl App {
    pub async fn start() -> App {
        App::start_with(lvs_server::ServeOptions::default()).await
    }

    pub async fn start_with(options: lvs_server::ServeOptions) -> App {
        let server = InProcessServer::start(options).await;
        let client = lvs_testkit::server::client_with_token(&server.admin_token)
            .build()
            .expect("an HTTP client");
        App {
            base: server.base(),
            client,
            _server: server,
        }
    }

    /// POSTs `body` (none for `Null`) to the API, as the agent of `token` if given; the
    /// answer must have `status`. Returns its JSON body (`Null` when it has none).
    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>, status: u16) -> Value {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if !body.is_null() {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// GETs `path` from the API as the agent of `token`; the answer must have `status`.
    pub async fn agent_get(&self, path: &str, token: &str, status: u16) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "GET {path} with an agent token: {text}");
    }
}

impl App {
    /// A handle for tasks that play agents while the test drives the browser.
    pub fn clone_client(&self) -> (reqwest::Client, String) {
        (self.client.clone(), self.base.clone())
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

//! `TestApp`: the real server on a fresh SQLite file, spoken to over HTTP.

use std::net::SocketAddr;

use lvs_server::agents::AgentOptions;
use lvs_server::ServeOptions;
use lvs_testkit::server::InProcessServer;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The server's default body limit, as `lvs-server` starts with.
pub const DEFAULT_MAX_BODY: usize = 128 * 1024 * 1024;

pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// A running server with its own database file, which lives as long as the `TestApp`.
#[derive(Debug)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    options: ServeOptions,
    server: InProcessServer,
}

/// One answer, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub etag: Option<String>,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is empty or not JSON.
    pub body: Value,
}

impl Resp {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected {status}, got {}: {}",
            self.status, self.text
        );
        &self.body
    }

    /// Asserts an RFC 9457 problem with this status and code; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        self.expect(status);
        assert_eq!(
            self.content_type, "application/problem+json",
            "problem content type: {}",
            self.text
        );
        let body = &self.body;
        assert_eq!(body["code"], code, "problem code: {}", self.text);
        assert_eq!(body["status"], status, "problem status: {}", self.text);
        assert_eq!(body["type"], format!("urn:lvs-fleet:problem:{code}"));
        assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        body
    }

    /// Asserts a 422 and returns the offending fields, in order.
    #[track_caller]
    pub fn invalid_fields(&self) -> Vec<String> {
        let body = self.problem(422, "validation_failed");
        let errors = body["errors"].as_array().expect("errors array");
        assert!(!errors.is_empty(), "a 422 names its fields: {}", self.text);
        errors
            .iter()
            .map(|e| {
                assert!(
                    e["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "every field error has a message: {e}"
                );
                e["field"].as_str().expect("field").to_owned()
            })
            .collect()
    }

    #[track_caller]
    pub fn etag(&self) -> String {
        self.etag.clone().expect("an ETag header")
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with_limit(DEFAULT_MAX_BODY).await
    }

    /// A server that refuses bodies above `max_body_bytes`.
    pub async fn spawn_with_limit(max_body_bytes: usize) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = ServeOptions {
            max_body_bytes,
            ..ServeOptions::default()
        };
        TestApp::start(dir, options).await
    }

    /// A server with its agent tunables (online threshold, statistics interval) set.
    pub async fn spawn_with_agents(agents: AgentOptions) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = ServeOptions {
            agents,
            ..ServeOptions::default()
        };
        TestApp::start(dir, options).await
    }

    /// A server with these options (allowed hosts, read timeouts, ...).
    pub async fn spawn_with_options(options: ServeOptions) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        TestApp::start(dir, options).await
    }

    async fn start(dir: TempDir, options: ServeOptions) -> TestApp {
        let server = InProcessServer::start_in(dir, options.clone()).await;
        // Signed in both ways: the token for the API, the session for the UI's pages.
        let mut cookie = reqwest::header::HeaderMap::new();
        let session = format!("lvs_session={}", server.admin_session);
        cookie.insert(
            reqwest::header::COOKIE,
            session.parse().expect("a cookie header"),
        );
        let client = lvs_testkit::server::client_with_token(&server.admin_token)
            .default_headers(cookie)
            .build()
            .expect("an HTTP client");
        TestApp {
            addr: server.addr,
            client,
            options,
            server,
        }
    }

    /// The admin API token every request of [`TestApp::client`] carries.
    pub fn admin_token(&self) -> &str {
        &self.server.admin_token
    }

    /// The session cookie's value of user `admin`, signed in before the server started.
    pub fn admin_session(&self) -> &str {
        &self.server.admin_session
    }

    /// The session cookie's value of a new user `name` with `role`.
    pub async fn session_of(&self, name: &str, role: &str) -> String {
        let db = lvs_server::db::Db::open(&self.database_url())
            .await
            .expect("open the database");
        let role = role.parse().expect("a role");
        let session = lvs_testkit::server::session_of(&db, name, role).await;
        db.close().await;
        session
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn database_url(&self) -> String {
        self.server.database_url()
    }

    /// Stops the server gracefully and waits until it has closed the database.
    pub async fn stop(self) -> TempDir {
        self.server.stop().await
    }

    /// Stops this server and starts a new one on the same database file.
    pub async fn restart(self) -> TestApp {
        let options = self.options.clone();
        let dir = self.stop().await;
        TestApp::start(dir, options).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn send(&self, request: RequestBuilder) -> Resp {
        read(request.send().await.expect("the request is answered")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// POST without a body (drain, restore), optionally with `If-Match`.
    pub async fn post_empty(&self, path: &str, if_match: Option<&str>) -> Resp {
        self.send(with_if_match(self.request(Method::POST, path), if_match))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value, if_match: Option<&str>) -> Resp {
        let request = self.request(Method::PUT, path).json(body);
        self.send(with_if_match(request, if_match)).await
    }

    /// PATCH with `application/merge-patch+json`.
    pub async fn patch(&self, path: &str, body: &Value, if_match: Option<&str>) -> Resp {
        self.patch_as(path, body, MERGE_PATCH, if_match).await
    }

    pub async fn patch_as(
        &self,
        path: &str,
        body: &Value,
        content_type: &str,
        if_match: Option<&str>,
    ) -> Resp {
        let request = self
            .request(Method::PATCH, path)
            .header(CONTENT_TYPE, content_type)
            .body(body.to_string());
        self.send(with_if_match(request, if_match)).await
    }

    pub async fn delete(&self, path: &str, if_match: Option<&str>) -> Resp {
        self.send(with_if_match(self.request(Method::DELETE, path), if_match))
            .await
    }

    /// A request with a raw body and content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Resp {
        let request = self
            .request(method, path)
            .header(CONTENT_TYPE, content_type)
            .body(body.to_owned());
        self.send(request).await
    }

    // Resources ------------------------------------------------------------------------

    pub async fn create_cluster(&self, name: &str) -> Value {
        self.post("/api/v1/clusters", &json!({ "name": name }))
            .await
            .expect(201)
            .clone()
    }

    pub async fn create_director(&self, cluster: &str, name: &str) -> Value {
        self.post(&directors(cluster), &json!({ "name": name }))
            .await
            .expect(201)
            .clone()
    }

    /// Creates a service; returns its representation.
    pub async fn create_service(&self, cluster: &str, spec: &Value) -> Value {
        self.post(&services(cluster), spec)
            .await
            .expect(201)
            .clone()
    }

    pub async fn create_real_server(&self, cluster: &str, service: i64, spec: &Value) -> Value {
        self.post(&real_servers(cluster, service), spec)
            .await
            .expect(201)
            .clone()
    }

    /// The desired-state document and its ETag.
    pub async fn desired_state(&self, cluster: &str) -> (Value, String) {
        let resp = self.get(&desired_state(cluster)).await;
        let body = resp.expect(200).clone();
        (body, resp.etag())
    }

    /// The generation, checked to agree everywhere it is shown.
    pub async fn generation(&self, cluster: &str) -> u64 {
        let (document, etag) = self.desired_state(cluster).await;
        let generation = document["generation"].as_u64().expect("generation");
        assert_eq!(etag, format!("\"gen-{generation}\""));
        let shown = self.get(&cluster_path(cluster)).await;
        assert_eq!(shown.expect(200)["generation"], generation);
        generation
    }

    /// Creates (or rotates) the director's agent token; returns it.
    pub async fn create_token(&self, cluster: &str, director: &str) -> String {
        let resp = self.post_empty(&token_path(cluster, director), None).await;
        resp.expect(201)["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// Creates the director and its agent token; returns the token.
    pub async fn create_agent(&self, cluster: &str, director: &str) -> String {
        self.create_director(cluster, director).await;
        self.create_token(cluster, director).await
    }

    /// PATCH without `If-Match`, which must succeed; returns the new representation.
    pub async fn patch_ok(&self, path: &str, body: &Value) -> Value {
        self.patch(path, body, None).await.expect(200).clone()
    }

    /// POSTs `report` to the agent report endpoint as an agent with `token`; it must be
    /// accepted.
    pub async fn agent_report(&self, token: &str, report: &Value) {
        self.agent_post(AGENT_REPORT, token, report)
            .await
            .expect(204);
    }

    /// GET as an agent with `token`.
    pub async fn agent_get(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path).bearer_auth(token))
            .await
    }

    /// POST a JSON body as an agent with `token`.
    pub async fn agent_post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(
            self.request(Method::POST, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Every service of a cluster, following cursors.
    pub async fn all_services(&self, cluster: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("{}?limit=1000&cursor={c}", services(cluster)),
                None => format!("{}?limit=1000", services(cluster)),
            };
            let page = self.get(&path).await.expect(200).clone();
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }
}

fn with_if_match(request: RequestBuilder, if_match: Option<&str>) -> RequestBuilder {
    match if_match {
        Some(tag) => request.header(IF_MATCH, tag),
        None => request,
    }
}

pub async fn read(response: reqwest::Response) -> Resp {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let etag = header(ETAG);
    let location = header(reqwest::header::LOCATION);
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        content_type,
        etag,
        location,
        headers,
        text,
        body,
    }
}

// Paths -------------------------------------------------------------------------------

/// Runs `statement` on the server's database, behind its back.
pub async fn sql_execute(app: &TestApp, statement: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url())
        .await
        .expect("open the database");
    sqlx::query(statement)
        .execute(&mut conn)
        .await
        .expect(statement);
}

pub fn cluster_path(cluster: &str) -> String {
    format!("/api/v1/clusters/{cluster}")
}

pub fn directors(cluster: &str) -> String {
    format!("/api/v1/clusters/{cluster}/directors")
}

pub fn director_path(cluster: &str, name: &str) -> String {
    format!("/api/v1/clusters/{cluster}/directors/{name}")
}

pub fn services(cluster: &str) -> String {
    format!("/api/v1/clusters/{cluster}/services")
}

pub fn service_path(cluster: &str, id: i64) -> String {
    format!("/api/v1/clusters/{cluster}/services/{id}")
}

pub fn real_servers(cluster: &str, service: i64) -> String {
    format!("/api/v1/clusters/{cluster}/services/{service}/real-servers")
}

pub fn real_server_path(cluster: &str, service: i64, id: i64) -> String {
    format!("/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}")
}

pub fn token_path(cluster: &str, director: &str) -> String {
    format!("/api/v1/clusters/{cluster}/directors/{director}/token")
}

pub const AGENT_DESIRED_STATE: &str = "/api/v1/agent/desired-state";
pub const AGENT_REPORT: &str = "/api/v1/agent/report";
pub const AGENT_STATS: &str = "/api/v1/agent/stats";

/// An apply report of `generation` with the given failed objects.
pub fn apply_report(generation: u64, errors: &[&str]) -> Value {
    let outcomes: Vec<Value> = errors
        .iter()
        .map(|object| json!({"object": object, "action": "add", "error": "File exists (EEXIST)"}))
        .chain([json!({"object": "timeouts", "action": "set"})])
        .collect();
    json!({
        "applied_generation": generation,
        "outcomes": outcomes,
        "agent_version": "0.1.0",
        "kernel_version": "6.1.0-test",
    })
}

pub fn desired_state(cluster: &str) -> String {
    format!("/api/v1/clusters/{cluster}/desired-state")
}

/// The `id` of a created resource.
#[track_caller]
pub fn id(value: &Value) -> i64 {
    value["id"].as_i64().expect("an id")
}

/// A TCP service on 10.0.0.1.
pub fn tcp_service(port: u16) -> Value {
    json!({ "protocol": "tcp", "address": "10.0.0.1", "port": port })
}

/// `service` with an empty pool written out, as a desired-state document needs it.
pub fn pooled(mut service: Value) -> Value {
    service["real_servers"] = json!([]);
    service
}

/// A masq real server on 10.1.0.`host`.
pub fn masq_server(host: u8, port: u16) -> Value {
    json!({ "address": format!("10.1.0.{host}"), "port": port, "forwarding": "masq" })
}

/// A cluster with one service (with real servers 10.1.0.1:80 and 10.1.0.2:80); returns
/// the service's id.
pub async fn cluster_with_service(app: &TestApp, cluster: &str) -> i64 {
    app.create_cluster(cluster).await;
    let mut spec = tcp_service(80);
    spec["real_servers"] = json!([masq_server(1, 80), masq_server(2, 80)]);
    id(&app.create_service(cluster, &spec).await)
}

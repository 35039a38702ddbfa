//! The LVS Fleet REST API as `lvsctl` uses it: JSON in and out, a bearer token, problem
//! documents turned into [`Failure`]s with the exit code their status means.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::exit::{Exit, Failure, Outcome};

/// How long one request may take; a long-poll is never used, so this is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server is and who we are.
#[derive(Debug, Clone)]
pub struct Connection {
    /// `http://host:port` or `https://...`, without `/api/v1`.
    pub server: String,
    pub token: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// A JSON answer and its `ETag`.
#[derive(Debug)]
pub struct Tagged<T> {
    pub body: T,
    pub etag: Option<String>,
}

/// One page of a list.
#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(default)]
    next_cursor: Option<String>,
}

/// The parts of an `application/problem+json` answer worth showing.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    errors: Vec<FieldProblem>,
}

#[derive(Debug, Deserialize)]
struct FieldProblem {
    field: String,
    message: String,
}

impl Api {
    pub fn new(connection: &Connection) -> Outcome<Api> {
        let mut http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("lvsctl/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &connection.ca_file {
            http = http.tls_built_in_root_certs(false);
            for ca in read_ca_file(path)? {
                http = http.add_root_certificate(ca);
            }
        }
        let http = http
            .build()
            .map_err(|e| Failure::error(format!("cannot set up HTTPS: {e}")))?;
        let server = connection.server.trim_end_matches('/');
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(Failure::new(
                Exit::Usage,
                format!("--server {server:?}: give a URL such as https://control.example:8443"),
            ));
        }
        Ok(Api {
            http,
            base: format!("{server}/api/v1"),
            token: connection.token.clone(),
        })
    }

    /// `GET path` (under `/api/v1`).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Outcome<T> {
        Ok(self.get_tagged(path).await?.body)
    }

    /// `GET path` with its `ETag`.
    pub async fn get_tagged<T: DeserializeOwned>(&self, path: &str) -> Outcome<Tagged<T>> {
        self.call(Method::GET, path, None::<&()>, None).await
    }

    /// Every item of a paged list, following `next_cursor`.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Outcome<Vec<T>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                None => format!("{path}{separator}limit=1000"),
                Some(c) => format!("{path}{separator}limit=1000&cursor={}", encode(c)),
            };
            let page: Page<T> = self.get(&page_path).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// `method path` with a JSON body (and `If-Match` when given).
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        if_match: Option<&str>,
    ) -> Outcome<T> {
        Ok(self.call(method, path, body, if_match).await?.body)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        if_match: Option<&str>,
    ) -> Outcome<Tagged<T>> {
        let url = format!("{}{path}", self.base);
        let what = format!("{method} {url}");
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(etag) = if_match {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
        if let Some(body) = body {
            let content_type = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            let bytes = serde_json::to_vec(body)
                .map_err(|e| Failure::error(format!("{what}: cannot encode the body: {e}")))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::error(format!("{what}: {}", transport_error(&e))))?;
        let status = response.status();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::error(format!("{what}: reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(problem_failure(status, &bytes));
        }
        // 204 and other empty answers read as JSON null.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        let body = serde_json::from_slice(bytes).map_err(|e| {
            Failure::error(format!(
                "{what}: the answer is not what lvsctl expects: {e}"
            ))
        })?;
        Ok(Tagged { body, etag })
    }
}

/// A problem document as a failure: its detail and each field error, with the exit code of
/// its status.
fn problem_failure(status: StatusCode, bytes: &[u8]) -> Failure {
    let problem: Problem = serde_json::from_slice(bytes).unwrap_or_default();
    let mut message = problem
        .detail
        .or(problem.title)
        .unwrap_or_else(|| format!("the server answered {status}"));
    for error in &problem.errors {
        message.push_str(&format!("\n  {}: {}", error.field, error.message));
    }
    let exit = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Exit::Denied,
        StatusCode::NOT_FOUND => Exit::NotFound,
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Exit::Conflict,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Exit::Invalid,
        _ => Exit::Error,
    };
    Failure::new(exit, message)
}

/// A transport error with its causes, which is where reqwest keeps the useful part
/// ("connection refused", "certificate not trusted").
fn transport_error(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

fn read_ca_file(path: &Path) -> Outcome<Vec<reqwest::Certificate>> {
    let what = format!("--ca-file {}", path.display());
    let pem = std::fs::read(path).map_err(|e| Failure::error(format!("{what}: {e}")))?;
    let cas = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| Failure::error(format!("{what}: not a PEM certificate file: {e}")))?;
    if cas.is_empty() {
        return Err(Failure::error(format!(
            "{what}: no PEM certificate (BEGIN CERTIFICATE) in it"
        )));
    }
    Ok(cas)
}

/// Percent-encodes a query value or path segment.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

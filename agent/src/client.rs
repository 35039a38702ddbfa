//! The server's agent API: long-polling the desired state, posting reports and statistics.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lvs_model::agent::{
    ApplyReport, DesiredStateChanges, HealthReport, StatsReport, CHANGES_MEDIA_TYPE,
};
use lvs_model::real_server_host::{RealServerNeeds, RealServerReport};
use lvs_model::spec::DesiredStateSpec;
use lvs_model::{DesiredState, Diff};
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, StatusCode, Url};

use crate::applied::Announce;
use crate::token::Token;

/// How long an idle connection to the server is kept for reuse: half the server's default
/// header timeout, after which it closes idle connections.
const IDLE_CONNECTION: Duration = Duration::from_secs(5);

/// How long past the poll timeout a long-poll may take before it counts as lost.
const POLL_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    urls: Arc<Urls>,
    token: Arc<Token>,
    poll_timeout: Duration,
}

/// The endpoints, parsed once: every change costs a long-poll and a report.
#[derive(Debug)]
struct Urls {
    desired_state: Url,
    report: Url,
    stats: Url,
    health: Url,
    real_server: Url,
    real_server_report: Url,
}

impl Urls {
    /// From `--server`, which must be an `http://` or `https://` URL with a host.
    fn new(server: &str) -> anyhow::Result<Urls> {
        let base = Url::parse(server.trim_end_matches('/'))
            .with_context(|| format!("--server: {server:?} is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            anyhow::bail!(
                "--server: {server:?} is not an http:// or https:// URL with a host \
                 (for example https://lvs-server:8443)"
            );
        }
        let url = |path: &str| {
            let url = format!(
                "{}/api/v1/agent/{path}",
                base.as_str().trim_end_matches('/')
            );
            Url::parse(&url).with_context(|| format!("--server: {server:?} is not a URL"))
        };
        Ok(Urls {
            desired_state: url("desired-state")?,
            report: url("report")?,
            stats: url("stats")?,
            health: url("health")?,
            real_server: url("real-server")?,
            real_server_report: url("real-server/report")?,
        })
    }
}

/// What a long-poll asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The whole document, at once: at start, and when changes did not fit the state held.
    Document,
    /// A generation newer than this one, which the agent holds, held by the server until
    /// there is one: the changes since, when the server has them all (the whole document
    /// otherwise).
    After(u64),
}

/// The answer to a long-poll.
#[derive(Debug)]
pub enum Poll {
    /// A newer desired state, whole.
    Changed(DesiredState),
    /// The diffs from the generation asked `after` to `generation`, each starting where the
    /// previous one ends.
    Changes { generation: u64, diffs: Vec<Diff> },
    /// Nothing newer within the poll timeout.
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// 401/403: a wrong, revoked or misplaced token. Retrying will not help until someone
    /// fixes the token, but the agent keeps trying (and keeps the kernel as it is).
    #[error("the server rejected this agent's token ({status}): {body}")]
    Unauthorized { status: StatusCode, body: String },
    #[error("the server answered {status}: {body}")]
    Status { status: StatusCode, body: String },
    /// The server's certificate did not verify against the system's roots or `--ca-file`.
    #[error("the server's certificate is not trusted ({reason}); give the CA that signed it with --ca-file, or fix the server's certificate")]
    Untrusted { reason: String },
    #[error("cannot reach the server: {0}")]
    Transport(reqwest::Error),
    #[error("the server sent an invalid desired state or changes: {0}")]
    Invalid(String),
}

impl From<reqwest::Error> for ClientError {
    fn from(error: reqwest::Error) -> Self {
        match certificate_error(&error) {
            Some(reason) => ClientError::Untrusted { reason },
            None => ClientError::Transport(error),
        }
    }
}

/// Whom an `https://` server's certificate must be signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's CA certificates.
    SystemRoots,
    /// Only the CAs in this PEM file (`--ca-file`).
    CaFile(PathBuf),
}

impl Client {
    /// A client of `server` that trusts the system's roots.
    pub fn new(
        server: &str,
        token: Token,
        poll_timeout: Duration,
        request_timeout: Duration,
    ) -> anyhow::Result<Self> {
        Client::with_trust(
            server,
            token,
            poll_timeout,
            request_timeout,
            &Trust::SystemRoots,
        )
    }

    /// A client of `server` that trusts what `trust` says.
    pub fn with_trust(
        server: &str,
        token: Token,
        poll_timeout: Duration,
        request_timeout: Duration,
        trust: &Trust,
    ) -> anyhow::Result<Self> {
        let mut http = reqwest::Client::builder();
        if let Trust::CaFile(path) = trust {
            http = http.tls_built_in_root_certs(false);
            for ca in read_ca_file(path)? {
                http = http.add_root_certificate(ca);
            }
        }
        let http = http
            .connect_timeout(request_timeout.min(Duration::from_secs(10)))
            .timeout(request_timeout)
            // The server closes a connection idle for its header timeout (10 s by default),
            // the very period of the reports: a report sent on it as it closes would fail.
            // Connections idle for half that are not reused.
            .pool_idle_timeout(IDLE_CONNECTION)
            .user_agent(concat!("lvs-agent/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            urls: Arc::new(Urls::new(server)?),
            token: Arc::new(token),
            poll_timeout,
        })
    }

    /// `GET /api/v1/agent/desired-state`, asking for `ask` (held by the server up to the
    /// poll timeout for [`Ask::After`]), and saying what `applied` announces: a generation
    /// applied completely with nothing else to report, which the server records as a report
    /// would (see [`crate::applied`]).
    pub async fn desired_state(&self, ask: Ask, applied: Announce) -> Result<Poll, ClientError> {
        let after = match ask {
            Ask::Document => None,
            Ask::After(generation) => Some(generation),
        };
        let mut request = self
            .http
            .get(self.urls.desired_state.clone())
            .query(&[("timeout", self.poll_timeout.as_secs())])
            .timeout(self.poll_timeout + POLL_GRACE);
        if let Some(after) = after {
            request = request.query(&[("after", after.to_string().as_str()), ("changes", "true")]);
        }
        if let Some(applied) = applied.query() {
            request = request.query(&[("applied", applied)]);
        }
        let response = self.send(request).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Poll::Unchanged);
        }
        let changes = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(CHANGES_MEDIA_TYPE.as_bytes()));
        let bytes = response.bytes().await?;
        let started = std::time::Instant::now();
        let poll = if let (true, Some(after)) = (changes, after) {
            parse_changes(&bytes, after)?
        } else {
            Poll::Changed(parse_document(&bytes)?)
        };
        let generation = match &poll {
            Poll::Changed(state) => state.generation,
            Poll::Changes { generation, .. } => *generation,
            Poll::Unchanged => 0,
        };
        tracing::debug!(
            generation,
            changes,
            bytes = bytes.len(),
            parse_us = started.elapsed().as_micros() as u64,
            "desired state received"
        );
        Ok(poll)
    }

    /// `POST /api/v1/agent/report`.
    pub async fn report(&self, report: &ApplyReport) -> Result<(), ClientError> {
        let request = self.http.post(self.urls.report.clone()).json(report);
        self.send(request).await.map(drop)
    }

    /// `POST /api/v1/agent/health`.
    pub async fn health(&self, report: &HealthReport) -> Result<(), ClientError> {
        let request = self.http.post(self.urls.health.clone()).json(report);
        self.send(request).await.map(drop)
    }

    /// `POST /api/v1/agent/stats`.
    pub async fn stats(&self, stats: &StatsReport) -> Result<(), ClientError> {
        let request = self.http.post(self.urls.stats.clone()).json(stats);
        self.send(request).await.map(drop)
    }

    /// `GET /api/v1/agent/real-server`: what this real-server host must hold, at once
    /// without `after`, or held by the server until it differs from version `after`
    /// (`None` when the poll timeout passed first).
    pub async fn real_server_needs(
        &self,
        after: Option<&str>,
    ) -> Result<Option<RealServerNeeds>, ClientError> {
        let mut request = self
            .http
            .get(self.urls.real_server.clone())
            .query(&[("timeout", self.poll_timeout.as_secs())])
            .timeout(self.poll_timeout + POLL_GRACE);
        if let Some(after) = after {
            request = request.query(&[("after", after)]);
        }
        let response = self.send(request).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Invalid(e.to_string()))
    }

    /// `POST /api/v1/agent/real-server/report`.
    pub async fn real_server_report(&self, report: &RealServerReport) -> Result<(), ClientError> {
        let request = self
            .http
            .post(self.urls.real_server_report.clone())
            .json(report);
        self.send(request).await.map(drop)
    }

    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request.bearer_auth(&*self.token.get()).send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            // The next attempt uses the file's token if someone replaced it.
            self.token.reload();
        }
        let mut body = response.text().await.unwrap_or_default();
        body.truncate(500);
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ClientError::Unauthorized { status, body }
            }
            _ => ClientError::Status { status, body },
        })
    }
}

/// The CAs of `--ca-file`: one or more PEM certificates.
fn read_ca_file(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let what = || format!("--ca-file {}", path.display());
    let pem = std::fs::read(path).with_context(|| format!("{}: cannot read it", what()))?;
    let cas = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("{}: not a PEM certificate file", what()))?;
    if cas.is_empty() {
        anyhow::bail!("{}: no PEM certificate (BEGIN CERTIFICATE) in it", what());
    }
    Ok(cas)
}

/// Why the server's certificate was refused, when that is why `error` happened.
fn certificate_error(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        // I/O errors hide the errors they wrap from `source()`; they are unwrapped here.
        let mut inner = current;
        loop {
            if let Some(rustls::Error::InvalidCertificate(why)) = inner.downcast_ref() {
                return Some(format!("{why:?}"));
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        source = current.source();
    }
    None
}

fn parse_document(bytes: &[u8]) -> Result<DesiredState, ClientError> {
    let spec: DesiredStateSpec =
        serde_json::from_slice(bytes).map_err(|e| ClientError::Invalid(e.to_string()))?;
    spec.parse()
        .map_err(|e| ClientError::Invalid(e.to_string()))
}

/// Changes, which must start at `after`, the generation the agent holds.
fn parse_changes(bytes: &[u8], after: u64) -> Result<Poll, ClientError> {
    let changes: DesiredStateChanges =
        serde_json::from_slice(bytes).map_err(|e| ClientError::Invalid(e.to_string()))?;
    if changes.from_generation != after {
        return Err(ClientError::Invalid(format!(
            "from_generation: the changes start at generation {}, not at {after}, the one held",
            changes.from_generation
        )));
    }
    let diffs = changes
        .parse()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    Ok(Poll::Changes {
        generation: changes.generation,
        diffs,
    })
}

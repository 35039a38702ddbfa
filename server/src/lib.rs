//! `lvs-server`: the LVS Fleet control plane. It keeps clusters, directors, virtual
//! services and real servers in SQLite and serves them over a versioned REST API.

pub mod access;
pub mod agents;
pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod cookies;
pub mod db;
pub mod edit;
pub mod http;
pub mod json;
mod low_priority;
pub mod metrics;
pub mod resources;
mod same_site;
pub mod state;
pub mod ui;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use lvs_telemetry::init_logging;

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns. It answers to the default host names (see
/// [`http::guard::AllowedHosts::new`]).
pub async fn serve(
    listener: TcpListener,
    db: db::Db,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let options = ServeOptions {
        max_body_bytes,
        ..ServeOptions::default()
    };
    serve_with(listener, db, options, shutdown).await
}

/// What [`serve_with`] can tune.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub max_body_bytes: usize,
    pub agents: agents::AgentOptions,
    /// The host names requests may be addressed to; empty: the defaults of
    /// [`http::guard::AllowedHosts::new`] for the listener's address.
    pub allowed_hosts: Vec<String>,
    pub timeouts: http::listen::Timeouts,
    /// Serve HTTPS with this certificate, reloaded when it changes; `None`: plain HTTP.
    pub tls: Option<Arc<http::tls::Tls>>,
    /// How often the TLS files are checked for changes.
    pub tls_check_interval: std::time::Duration,
    /// How long browser sessions last.
    pub sessions: access::SessionPolicy,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: client::TrustedProxies,
    /// How finely GET /metrics breaks down IPVS statistics.
    pub metrics_detail: config::MetricsDetail,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_body_bytes: config::DEFAULT_MAX_BODY_BYTES,
            agents: agents::AgentOptions::default(),
            allowed_hosts: Vec::new(),
            timeouts: http::listen::Timeouts::default(),
            tls: None,
            tls_check_interval: http::tls::CHECK_INTERVAL,
            sessions: access::SessionPolicy::default(),
            trusted_proxies: client::TrustedProxies::default(),
            metrics_detail: config::MetricsDetail::default(),
        }
    }
}

/// [`serve`] with every option.
pub async fn serve_with(
    listener: TcpListener,
    db: db::Db,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Long-polls end when shutdown begins, or the graceful shutdown would wait for them.
    let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
    let agents = Arc::new(agents::Agents::new(options.agents, stopping_rx)?);
    let background = tokio::spawn(agents.clone().run_background(db.clone()));
    // Loads the saved statistics history while the server already answers.
    let history = tokio::spawn(agents.clone().run_history(db.clone()));
    let (reports, report_writer) = agents::reports::Reports::spawn(db.clone());
    let transport = match options.tls {
        Some(_) => http::headers::Transport::Https,
        None => http::headers::Transport::Http,
    };
    let access = Arc::new(access::Access::new(options.sessions));
    let access_persister = tokio::spawn(access.clone().run_background(db.clone()));
    let state = state::AppState {
        db: db.clone(),
        agents: agents.clone(),
        reports,
        transport,
        access: access.clone(),
        metrics: Arc::new(metrics::Metrics::new(options.metrics_detail)?),
    };
    let hosts = http::guard::AllowedHosts::new(&options.allowed_hosts, listener.local_addr().ok());
    let app = http::protect(
        http::app(state, options.max_body_bytes),
        hosts,
        options.timeouts,
        transport,
        options.trusted_proxies.clone(),
    );
    let reloads = options
        .tls
        .clone()
        .map(|tls| tokio::spawn(tls.watch(options.tls_check_interval)));
    let shutdown = async move {
        shutdown.await;
        stopping.send_replace(true);
    };
    let served = http::listen::serve(
        listener,
        app,
        options.timeouts.header,
        options.tls.clone(),
        shutdown,
    )
    .await
    .context("serving HTTP");
    if let Some(reloads) = reloads {
        reloads.abort();
    }
    // Every request has been answered, so no report is queued or being written. Both are
    // awaited so that they have let go of their connections before the database closes.
    background.abort();
    history.abort();
    report_writer.abort();
    access_persister.abort();
    let _ = background.await;
    let _ = history.await;
    let _ = report_writer.await;
    let _ = access_persister.await;
    if let Err(error) = access.persist(&db).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "cannot persist when sessions and tokens were last used at shutdown"
        );
    }
    // What the last interval's requests said, so that a restart does not forget it.
    if let Err(error) = agents.persist_heartbeats(&db).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "cannot persist agent heartbeats at shutdown"
        );
    }
    // The points since the last flush; nothing when the saved history was still loading.
    if let Err(error) = agents.flush_stats_history(&db).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "cannot save the statistics history at shutdown"
        );
    }
    served?;
    db.close().await;
    Ok(())
}

/// Opens the database, binds and serves until SIGINT or SIGTERM (reloading the TLS files on
/// SIGHUP).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let trusted_proxies = client::TrustedProxies::parse(&config.trusted_proxies)
        .map_err(|why| anyhow::anyhow!("--trusted-proxies: {why}"))?;
    // A certificate that cannot be used is said before anything else is done.
    let tls = config
        .tls_files()?
        .map(http::tls::Tls::load)
        .transpose()?
        .map(Arc::new);
    let url = config
        .database_url()
        .context("creating the data directory")?;
    let db = db::Db::open(&url)
        .await
        .with_context(|| format!("opening database {url}"))?;
    if let Some(path) = edit::users::ensure_initial_admin(&db, &config.data_dir)
        .await
        .context("adding the first admin")?
    {
        tracing::warn!(
            user = edit::users::INITIAL_ADMIN,
            password_file = %path.display(),
            "no user existed: added user admin, its password is in the file (readable by this \
             user only); change it with `lvs-server users passwd admin`"
        );
    }
    // Before the server says it listens: from then on a SIGTERM is an orderly stop.
    let shutdown = lvs_telemetry::shutdown_signal("finishing requests in flight");
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    // From the moment it says it listens, a SIGHUP reloads the TLS files.
    if let Some(tls) = &tls {
        tls.listen_for_hangups();
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, database = %url, "listening on {scheme}://{address}");
    let options = ServeOptions {
        max_body_bytes: config.max_body_bytes,
        allowed_hosts: config.allowed_hosts,
        tls,
        sessions: access::SessionPolicy {
            idle: config.session_idle_timeout,
            lifetime: config.session_lifetime,
        },
        trusted_proxies,
        metrics_detail: config.metrics_detail,
        ..ServeOptions::default()
    };
    serve_with(listener, db, options, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

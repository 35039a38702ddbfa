//! `lvs-server`: the LVS Fleet control plane. It keeps clusters, directors, virtual
//! services and real servers in SQLite and serves them over a versioned REST API.

pub mod api;
pub mod config;
pub mod db;
mod telemetry;

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use telemetry::init_logging;

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns.
pub async fn serve(
    listener: TcpListener,
    db: db::Db,
    max_body_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = api::router(api::AppState { db: db.clone() }, max_body_bytes);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    db.close().await;
    Ok(())
}

/// Opens the database, binds and serves until SIGINT or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let url = config
        .database_url()
        .context("creating the data directory")?;
    let db = db::Db::open(&url)
        .await
        .with_context(|| format!("opening database {url}"))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, database = %url, "listening on http://{address}");
    serve(
        listener,
        db,
        config.max_body_bytes,
        telemetry::shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

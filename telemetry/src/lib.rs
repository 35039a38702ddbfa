//! Logging and signals, the same for `lvs-server` and `lvs-agent`: both log to stderr as
//! text or JSON lines under an `EnvFilter`, and stop on SIGINT or SIGTERM.

use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr in the chosen format, filtered by `filter` (EnvFilter syntax).
pub fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Completes on SIGINT or SIGTERM, logging `"SIGTERM received, {then}"`: each binary says
/// what it does next. The handlers are installed when this is called (within a tokio
/// runtime), not when the future is first polled: a signal sent as soon as the binary says
/// it is ready must not find the default action (death) still in place.
pub fn shutdown_signal(then: &'static str) -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|error| tracing::error!(%error, "cannot listen for SIGTERM"))
        .ok();
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|error| tracing::error!(%error, "cannot listen for SIGINT"))
        .ok();
    async move {
        #[cfg(unix)]
        {
            let received = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = received(interrupt) => tracing::info!("SIGINT received, {then}"),
                () = received(terminate) => tracing::info!("SIGTERM received, {then}"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("SIGINT received, {then}");
        }
    }
}

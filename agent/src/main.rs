use clap::Parser;
use lvs_agent::{init_logging, run, Config};

/// One thread for the network: the agent waits on a long-poll and a few timers, and the
/// kernel work has a thread of its own. A second worker would only add wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    if let Err(error) = init_logging(config.log_format, &config.log) {
        eprintln!("lvs-agent: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    match run(config).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

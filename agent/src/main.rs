use clap::Parser;
use lvs_agent::{init_logging, run, Config};

#[tokio::main]
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

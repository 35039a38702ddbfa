use clap::Parser;
use lvs_server::{init_logging, run, Config};

/// Whole-cluster documents allocate large, short-lived trees on several threads; glibc's
/// per-thread arenas keep that memory, mimalloc gives it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    if let Err(error) = init_logging(config.log_format, &config.log) {
        eprintln!("lvs-server: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    let done = match &config.command {
        Some(command) => lvs_server::cli::run(&config, command).await,
        None => run(config).await,
    };
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

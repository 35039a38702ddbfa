//! `lvsctl completions SHELL` and `lvsctl man`: generated from the clap definitions, so
//! they never drift from the command line.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{Exit, Failure, Outcome};

pub fn completions(shell: clap_complete::Shell) -> Outcome<Exit> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "lvsctl", &mut std::io::stdout());
    Ok(Exit::Ok)
}

/// Writes `lvsctl.1` and a page per command (`lvsctl-apply.1`, ...) into `dir`.
pub fn man(dir: &Path) -> Outcome<Exit> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::error(format!("{}: {e}", dir.display())))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .map_err(|e| Failure::error(format!("writing man pages into {}: {e}", dir.display())))?;
    eprintln!("man pages written to {}", dir.display());
    Ok(Exit::Ok)
}

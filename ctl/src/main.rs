use std::process::ExitCode;

use clap::Parser;
use lvs_ctl::cli::Cli;
use lvs_ctl::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("lvsctl: {failure}");
            failure.exit.into()
        }
    }
}

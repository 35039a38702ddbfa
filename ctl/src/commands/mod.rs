//! One module per command; each returns the exit code it ends with.

mod apply;
mod docs;
mod export;
mod get;
mod import;
mod real_server;
mod resources;
mod status;
mod wait;

use serde::Serialize;

use crate::cli::{Cli, Command, Output};
use crate::client::{Api, Connection};
use crate::exit::{Exit, Failure, Outcome};

/// What every command that talks to the server needs.
#[derive(Debug)]
pub struct Context {
    pub api: Api,
    pub output: Output,
}

impl Context {
    /// Writes `value` as JSON or YAML (scripts' output); `Output::Table` is the caller's.
    pub fn print_data<T: Serialize>(&self, value: &T) -> Outcome {
        let text =
            match self.output {
                Output::Yaml => serde_yaml::to_string(value)
                    .map_err(|e| Failure::error(format!("cannot write YAML: {e}")))?,
                Output::Json | Output::Table => serde_json::to_string_pretty(value)
                    .map(|t| t + "\n")
                    .map_err(|e| Failure::error(format!("cannot write JSON: {e}")))?,
            };
        print!("{text}");
        Ok(())
    }

    pub fn tables(&self) -> bool {
        self.output == Output::Table
    }
}

/// Runs the command line.
pub fn run(cli: Cli) -> Outcome<Exit> {
    match cli.command {
        Command::Completions { shell } => return docs::completions(shell),
        Command::Man { out_dir } => return docs::man(&out_dir),
        Command::Import(import) if import.args().cluster.is_none() => {
            return import::to_document(&import, cli.output);
        }
        _ => {}
    }
    let token = match (&cli.token, &cli.token_file) {
        (Some(token), _) => Some(token.trim().to_owned()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Failure::error(format!("--token-file {}: {e}", path.display())))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let api = Api::new(&Connection {
        server: cli.server.clone(),
        token,
        ca_file: cli.ca_file.clone(),
    })?;
    let context = Context {
        api,
        output: cli.output,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Get(what) => get::run(&context, what).await,
            Command::Status(args) => status::run(&context, args).await,
            Command::Apply(args) => apply::apply(&context, args).await,
            Command::Diff(args) => apply::diff(&context, args).await,
            Command::Drain(args) => real_server::drain(&context, args).await,
            Command::Restore(args) => real_server::restore(&context, args).await,
            Command::Weight(args) => real_server::weight(&context, args).await,
            Command::Import(import) => import::to_cluster(&context, import).await,
            Command::Export(args) => export::run(&context, args).await,
            Command::Completions { .. } | Command::Man { .. } => {
                unreachable!("handled before connecting")
            }
        }
    })
}

//! The command line, as clap definitions: also the source of the man page and the shell
//! completions (`lvsctl man`, `lvsctl completions`).

use std::path::PathBuf;
use std::time::Duration;

#[cfg(test)]
use clap::CommandFactory;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, for `--help` and the man page; `exit::Exit` is the one source of the numbers.
const EXIT_CODES: &str = "\
Exit codes:
  0  done (with --wait: every director applied the change)
  1  any other error (server unreachable, unreadable file, server error)
  2  usage error
  3  validation failed (the server's 422, or a file that is not a document)
  4  conflict: someone changed the cluster or object first (409, 412)
  5  --wait timed out before every director applied the change
  6  a director reported errors applying the change
  7  not signed in, or not allowed (401, 403)
  8  lvsctl diff: the document differs from the cluster
  9  not found (404)";

#[derive(Debug, Parser)]
#[command(
    name = "lvsctl",
    version,
    about = "Read and change an LVS Fleet server's clusters: apply desired-state documents, \
             drain real servers, import from ipvsadm and keepalived",
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// The server's URL.
    #[arg(
        long,
        env = "LVS_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// An API token (`lvst_...`); prefer the variable or --token-file, which `ps` does not show.
    #[arg(long, env = "LVS_API_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// A file holding the API token.
    #[arg(
        long,
        env = "LVS_API_TOKEN_FILE",
        global = true,
        conflicts_with = "token"
    )]
    pub token_file: Option<PathBuf>,
    /// Trust only these CAs (PEM) for the server's certificate.
    #[arg(long, env = "LVS_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// How results are written: readable tables, or JSON or YAML for scripts.
    #[arg(short, long, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List clusters, services, real servers, directors or changes.
    #[command(subcommand)]
    Get(Get),
    /// Each director's sync state, and a cluster's table as `ipvsadm -Ln` shows it, with
    /// live connection counts.
    Status(StatusArgs),
    /// Apply a desired-state document (JSON or YAML) to its cluster: print the plan, then
    /// apply exactly that plan.
    Apply(ApplyArgs),
    /// Print what applying a document would change; exits 8 when it would change anything.
    Diff(DocumentArgs),
    /// Drain a real server: weight 0 in the kernel, its weight remembered.
    Drain(RealServerCommand),
    /// Restore a drained real server to its weight.
    Restore(RealServerCommand),
    /// Set a real server's weight.
    Weight(WeightArgs),
    /// Read `ipvsadm -S -n` output or a keepalived.conf into a desired-state document, or
    /// straight into a cluster.
    #[command(subcommand)]
    Import(Import),
    /// Write a cluster's desired state as `ipvsadm -R` rules, JSON, YAML or keepalived.conf.
    Export(ExportArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (lvsctl.1 and one per command) into a directory.
    Man {
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Get {
    /// Every cluster, with its generation and directors' state.
    Clusters,
    /// A cluster's virtual services.
    Services { cluster: String },
    /// A cluster's real servers, or one service's (`tcp:192.0.2.10:80`, `fwmark:1:ipv4`).
    RealServers {
        cluster: String,
        service: Option<String>,
    },
    /// A cluster's directors and their sync state.
    Directors { cluster: String },
    /// A cluster's change history, newest first.
    Changes {
        cluster: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Without a cluster: every cluster's directors.
    pub cluster: Option<String>,
    /// Connection counts of this director only (default: the sum over the directors).
    #[arg(long, requires = "cluster")]
    pub director: Option<String>,
}

#[derive(Debug, Args)]
pub struct DocumentArgs {
    /// The document, JSON or YAML; `-` reads standard input.
    #[arg(short, long)]
    pub file: PathBuf,
    /// The cluster, when the document does not name it (or to apply it to another).
    #[arg(long)]
    pub cluster: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub document: DocumentArgs,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArgs {
    /// Wait until every director of the cluster has applied the change.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (`90s`, `2m`).
    #[arg(long, default_value = "2m", value_parser = parse_duration, requires = "wait")]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct RealServerArgs {
    pub cluster: String,
    /// The service: `tcp:192.0.2.10:80`, `udp:[2001:db8::1]:53`, `fwmark:1:ipv4`.
    pub service: String,
    /// The real server: `10.1.0.11:8080`, `[2001:db8::11]:80`, or its address alone when
    /// the service has one real server at that address.
    pub real_server: String,
}

#[derive(Debug, Args)]
pub struct RealServerCommand {
    #[command(flatten)]
    pub target: RealServerArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct WeightArgs {
    #[command(flatten)]
    pub target: RealServerArgs,
    /// 0-65535.
    pub weight: u16,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Subcommand)]
pub enum Import {
    /// `ipvsadm -S -n` output (every option it writes).
    Ipvsadm(ImportArgs),
    /// keepalived.conf `virtual_server`, `virtual_server_group` and `real_server` blocks
    /// with their checkers; every statement it cannot translate is reported with its line.
    Keepalived(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file; `-` reads standard input.
    pub file: PathBuf,
    /// Apply the document to this cluster (its services replace the cluster's) instead of
    /// printing it.
    #[arg(long)]
    pub cluster: Option<String>,
    /// With --cluster: print the plan and stop.
    #[arg(long, requires = "cluster")]
    pub dry_run: bool,
    /// Fail (exit 3) when any statement could not be translated.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub cluster: String,
    #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
    pub format: ExportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Ipvsadm,
    Json,
    Yaml,
    Keepalived,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    lvs_model::duration::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    /// The help text's table and the codes the commands exit with are one list.
    #[test]
    fn the_help_lists_every_exit_code() {
        for exit in [
            Exit::Ok,
            Exit::Error,
            Exit::Usage,
            Exit::Invalid,
            Exit::Conflict,
            Exit::Timeout,
            Exit::DirectorErrors,
            Exit::Denied,
            Exit::Differs,
            Exit::NotFound,
        ] {
            let line = format!("\n  {}  ", exit as u8);
            assert!(EXIT_CODES.contains(&line), "{exit:?} is not in the help");
        }
        assert_eq!(EXIT_CODES.lines().count(), 11, "one line per code");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

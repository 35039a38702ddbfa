//! `cargo xtask <command>`: everything a contributor or CI runs, in Rust rather than shell.

mod apt;
mod bench_ipvs;
mod cmd;
mod sqlx;
mod vm;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "LVS Fleet repository automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs every check CI runs: formatting, clippy, query data, all tests.
    Test,
    /// Regenerates `.sqlx/`, the offline data of the compile-time-checked queries.
    SqlxPrepare {
        /// Only check that `.sqlx/` is current; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Regenerates `openapi/openapi.json` from the server's routes.
    Openapi,
    /// Runs a benchmark and prints its figures against the goals.
    #[command(subcommand)]
    Bench(Bench),
    /// Boots Debian's kernel under QEMU and runs the kernel tests inside it.
    VmTest(vm::VmTestArgs),
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The REST API on a release build with 10,000 services x 10 real servers.
    Api,
    /// The IPVS library against ipvsadm in the guest kernel: bulk load, dump, weight edit.
    Ipvs,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Test => test(),
        Command::SqlxPrepare { check: false } => sqlx::prepare(),
        Command::SqlxPrepare { check: true } => sqlx::check(),
        Command::Openapi => openapi(),
        Command::Bench(Bench::Api) => bench_api(),
        Command::Bench(Bench::Ipvs) => bench_ipvs::run(),
        Command::VmTest(args) => vm::test(&args),
    }
}

fn openapi() -> Result<()> {
    cmd::cargo(&[
        "run",
        "--quiet",
        "-p",
        "lvs-server",
        "--bin",
        "gen-openapi",
        "--",
        "openapi/openapi.json",
    ])
}

fn bench_api() -> Result<()> {
    apt::ensure(&[("sqlite3", "sqlite3")])?;
    cmd::cargo(&["bench", "--locked", "-p", "lvs-server", "--bench", "api"])
}

fn test() -> Result<()> {
    apt::ensure(&[("sqlite3", "sqlite3")])?;
    cmd::cargo(&["fmt", "--all", "--", "--check"])?;
    cmd::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    sqlx::check()?;
    cmd::cargo(&["test", "--workspace", "--locked"])?;
    vm::test(&vm::VmTestArgs::default())?;
    Ok(())
}

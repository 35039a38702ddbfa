//! `cargo xtask <command>`: everything a contributor or CI runs, in Rust rather than shell.

mod apt;
mod bench_agent;
mod bench_ipvs;
mod cmd;
mod dist;
mod readme;
mod schemathesis;
mod sqlx;
mod vm;

use anyhow::{Context, Result};
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
    /// Fuzzes the API against its OpenAPI document with schemathesis (pinned, fixed seed,
    /// about three minutes); fails on any finding.
    Schemathesis,
    /// Runs a benchmark and prints its figures against the goals.
    #[command(subcommand)]
    Bench(Bench),
    /// Boots Debian's kernel under QEMU and runs the kernel tests inside it.
    VmTest(vm::VmTestArgs),
    /// Builds the Debian packages of lvs-server, lvs-agent and lvsctl into
    /// `<target dir>/dist/`.
    Dist(dist::DistArgs),
    /// Runs the README's quick-start server command and its API tour as they are written.
    Readme,
    /// Runs the web UI's tests in headless Chromium (installing chromium and chromedriver
    /// when missing); screenshots go to `target/ui-screenshots/`.
    BrowserTest {
        /// libtest arguments, e.g. a test name or `--nocapture`.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// The REST API on a release build with 10,000 services x 10 real servers.
    Api,
    /// The IPVS library against ipvsadm in the guest kernel: bulk load, dump, weight edit.
    Ipvs,
    /// Health checks in the guest, lvs-agent beside Debian's keepalived: CPU per 1,000
    /// checks, detection time, CPU with 10% dead, memory.
    Health,
    /// The agent in the guest kernel: propagation to 10 and 50 directors, the cost of one
    /// change on a 5,000-service table, a restart against a matching table.
    Agent {
        /// A directory holding `lvs-server` and `lvs-agent` from another build (for example
        /// a worktree of an earlier commit): the guest runs the benchmark for this build and
        /// for that one in turn, three times each, so that the host's speed, which drifts
        /// from minute to minute, weighs on both alike.
        #[arg(long, value_name = "DIR")]
        baseline: Option<std::path::PathBuf>,
        /// Passed to the benchmark, e.g. `--part propagation`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The web UI's pages with 10,000 services x 10 real servers: render time and size.
    Ui,
    /// GET /metrics of 10,000 services x 10 real servers reported by 3 directors: scrape
    /// time per detail level, and API latency while scraping.
    Metrics,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Test => test(),
        Command::SqlxPrepare { check: false } => sqlx::prepare(),
        Command::SqlxPrepare { check: true } => sqlx::check(),
        Command::Openapi => openapi(),
        Command::Schemathesis => schemathesis::run(),
        Command::Bench(Bench::Api) => bench_api(),
        Command::Bench(Bench::Ipvs) => bench_ipvs::run(),
        Command::Bench(Bench::Health) => {
            apt::ensure(&[("keepalived", "keepalived")])?;
            bench_agent::run(&["--part".to_owned(), "health".to_owned()], None)
        }
        Command::Bench(Bench::Agent { baseline, args }) => {
            bench_agent::run(&args, baseline.as_deref())
        }
        Command::Bench(Bench::Ui) => {
            cmd::cargo(&["bench", "--locked", "-p", "lvs-server", "--bench", "ui"])
        }
        Command::Bench(Bench::Metrics) => cmd::cargo(&[
            "bench",
            "--locked",
            "-p",
            "lvs-server",
            "--bench",
            "metrics",
        ]),
        Command::VmTest(args) => vm::test(&args),
        Command::Readme => readme::check(),
        Command::Dist(args) => dist::run(&args),
        Command::BrowserTest { args } => browser_test(&args),
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

/// The browser tests (`server/tests/browser/`), which a plain `cargo test` skips: Debian's
/// Chromium and its chromedriver first, then the test target.
fn browser_test(args: &[String]) -> Result<()> {
    apt::ensure(&[
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
    ])?;
    let mut cargo_args = vec!["test", "-p", "lvs-server", "--test", "browser", "--locked"];
    if !args.is_empty() {
        cargo_args.push("--");
        cargo_args.extend(args.iter().map(String::as_str));
    }
    cmd::cargo(&cargo_args)
}

fn test() -> Result<()> {
    let started = std::time::Instant::now();
    let mut timings = Vec::new();
    let mut step = |name: &'static str, run: &dyn Fn() -> Result<()>| -> Result<()> {
        let at = std::time::Instant::now();
        let result = run();
        timings.push((name, at.elapsed()));
        result.with_context(|| format!("step {name} failed"))
    };
    step("fmt", &|| {
        apt::ensure(&[("sqlite3", "sqlite3")])?;
        cmd::cargo(&["fmt", "--all", "--", "--check"])
    })?;
    step("clippy", &|| {
        cmd::cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ])?;
        // `--all-targets` leaves out `test = false` targets: the browser and kernel tests.
        for (package, target) in [
            ("lvs-server", "browser"),
            ("lvs-agent", "kernel"),
            ("lvs-ipvs", "kernel"),
            ("lvs-host", "kernel"),
            ("lvsctl", "kernel"),
        ] {
            cmd::cargo(&[
                "clippy", "-p", package, "--test", target, "--locked", "--", "-D", "warnings",
            ])?;
        }
        Ok(())
    })?;
    step("sqlx-check", &sqlx::check)?;
    step("cargo-test", &|| {
        // The metrics tests check a real scrape with `promtool check metrics`.
        apt::ensure(&[("promtool", "prometheus")])?;
        cmd::cargo(&["test", "--workspace", "--locked"])
    })?;
    step("readme", &readme::check)?;
    // The binaries cargo-test built: release builds of the agent and lvsctl would add
    // minutes, and the check is of the packaging, which is the same for any build.
    step("packages", &|| {
        dist::run(&dist::DistArgs {
            install_check: true,
            from_test_build: true,
        })
    })?;
    step("schemathesis", &schemathesis::run)?;
    step("browser-test", &|| browser_test(&[]))?;
    step("vm-test", &|| vm::test(&vm::VmTestArgs::default()))?;
    // Where CI's time goes, to keep the whole run well inside its limit.
    for (name, took) in &timings {
        eprintln!("{name:>14}: {:>5} s", took.as_secs());
    }
    eprintln!("{:>14}: {:>5} s", "total", started.elapsed().as_secs());
    Ok(())
}

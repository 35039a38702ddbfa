//! `cargo xtask bench agent`: the agent against its goals, inside the guest kernel.
//!
//! Builds release `lvs-server`, `lvs-agent` and `lvs-agent`'s `agent-bench` example and
//! runs the example in one guest boot (see `vm::run`), passing it both binaries. The example
//! starts the real server and one real agent per director namespace and prints its figures
//! against the goals: propagation from the API to 10 and 50 directors' kernels, the cost of
//! one change on a 5,000-service table against a 10-service one, and a restart against a
//! matching 5,000-service table. Emulation makes absolute times meaningless; the goals are
//! ratios of figures from the same guest run, or were set for this guest.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::vm::{self, GuestCommand, GuestRun};

/// The release artefacts the guest needs.
struct Executables {
    server: PathBuf,
    agent: PathBuf,
    bench: PathBuf,
}

/// Builds and runs the benchmark; `extra` goes to the benchmark (e.g. `--part apply`).
pub fn run(extra: &[String]) -> Result<()> {
    let built = build()?;
    let mut args = vec![
        "--server".to_owned(),
        built.server.display().to_string(),
        "--agent".to_owned(),
        built.agent.display().to_string(),
    ];
    args.extend_from_slice(extra);
    let guest = GuestRun {
        commands: vec![GuestCommand::new(&built.bench, args)],
        env: server_log_settings(),
        timeout: Duration::from_secs(40 * 60),
    };
    let outcome = vm::run(&guest)?;
    eprintln!(
        "vm: guest booted in {:.1} s and finished in {:.1} s; logs in {}",
        outcome.boot_time.as_secs_f64(),
        outcome.total_time.as_secs_f64(),
        outcome.artifacts.display()
    );
    if !outcome.success() {
        bail!(
            "the agent benchmark missed a goal or failed (exit codes {:?}); server and agent \
             logs in {}, kernel log {}",
            outcome.exit_codes,
            outcome.artifacts.display(),
            outcome.run_dir.join("kernel.log").display()
        );
    }
    Ok(())
}

/// `LVS_LOG` and `LVS_LOG_FORMAT` from the host, for the server in the guest (the agents get
/// theirs as flags): `LVS_LOG=info,tower_http=debug` times every request.
fn server_log_settings() -> Vec<(String, String)> {
    ["LVS_LOG", "LVS_LOG_FORMAT"]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), std::env::var(name).ok()?)))
        .collect()
}

/// One `cargo build --release` of the three, their paths read from cargo's JSON messages.
fn build() -> Result<Executables> {
    let args = [
        "build",
        "--release",
        "--locked",
        "--message-format=json-render-diagnostics",
        "--package",
        "lvs-server",
        "--bin",
        "lvs-server",
        "--package",
        "lvs-agent",
        "--bin",
        "lvs-agent",
        "--example",
        "agent-bench",
    ];
    eprintln!("$ cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(crate::cmd::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("building the benchmark failed with {}", output.status);
    }
    let executable = |name: &str| -> Result<PathBuf> {
        for line in output
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let message: Value =
                serde_json::from_slice(line).context("cannot parse cargo's JSON output")?;
            if message["reason"] == "compiler-artifact" && message["target"]["name"] == name {
                if let Some(path) = message["executable"].as_str() {
                    return Ok(path.into());
                }
            }
        }
        bail!("cargo build did not report the {name} executable")
    };
    Ok(Executables {
        server: executable("lvs-server")?,
        agent: executable("lvs-agent")?,
        bench: executable("agent-bench")?,
    })
}

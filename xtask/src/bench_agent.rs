//! `cargo xtask bench agent`: the agent against its goals, inside the guest kernel.
//!
//! Builds release `lvs-server`, `lvs-agent` and `lvs-agent`'s `agent-bench` example and
//! runs the example in one guest boot (see `vm::run`), passing it both binaries. The example
//! starts the real server and one real agent per director namespace and prints its figures
//! against the goals: propagation from the API to 10 and 50 directors' kernels, the cost of
//! one change on a 5,000-service table against a 10-service one, and a restart against a
//! matching 5,000-service table. Emulation makes absolute times meaningless; the goals are
//! ratios of figures from the same guest run, or were set for this guest.
//!
//! `--baseline DIR` compares this build with the `lvs-server` and `lvs-agent` in `DIR` (for
//! example release builds of a worktree at an earlier commit): one guest boot runs the
//! benchmark for each in turn, three times. `DIR` must not be under a directory the guest
//! mounts afresh (`/tmp`, `/run`, `/var/tmp`, `/root`); somewhere in `target/` is fine. The
//! apply part runs inside the benchmark itself, so it measures this build's code both times.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::vm::{self, GuestCommand, GuestRun};

/// The release artefacts the guest needs.
struct Executables {
    this: Binaries,
    bench: PathBuf,
}

/// Rounds of a comparison with a baseline build.
const ROUNDS: usize = 3;
/// The agents stand for directors, each a machine of its own, yet share the guest. With one
/// vCPU they run one after another, and propagation to 10 directors measured the sum of ten
/// agents' work (124 ms p99 where two vCPUs measured 60 ms); two, one per core of the CI
/// machines, still give each vCPU five or twenty-five directors.
const CPUS: u32 = 2;

/// Builds and runs the benchmark; `extra` goes to the benchmark (e.g. `--part apply`). With
/// `baseline`, runs it alternately for this build and the baseline's binaries.
pub fn run(extra: &[String], baseline: Option<&Path>) -> Result<()> {
    let built = build()?;
    let this = &built.this;
    let commands = match baseline {
        None => vec![this.command(&built.bench, "this build", extra)],
        Some(dir) => {
            let other = Binaries::in_dir(dir)?;
            (0..ROUNDS)
                .flat_map(|_| {
                    [
                        this.command(&built.bench, "this build", extra),
                        other.command(&built.bench, "baseline", extra),
                    ]
                })
                .collect()
        }
    };
    let guest = GuestRun {
        commands,
        env: server_log_settings(),
        timeout: Duration::from_secs(40 * 60) * if baseline.is_some() { 2 } else { 1 },
        cpus: CPUS,
    };
    let outcome = vm::run(&guest)?;
    eprintln!(
        "vm: guest booted in {:.1} s and finished in {:.1} s; logs in {}",
        outcome.boot_time.as_secs_f64(),
        outcome.total_time.as_secs_f64(),
        outcome.artifacts.display()
    );
    // A comparison is read from its figures: a missed goal (exit code 1) is one of them.
    let failed = |code: i32| code != 0 && !(baseline.is_some() && code == 1);
    if outcome.exit_codes.iter().any(|&code| failed(code)) {
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

/// The two binaries a benchmark run starts.
struct Binaries {
    server: PathBuf,
    agent: PathBuf,
}

impl Binaries {
    /// `lvs-server` and `lvs-agent` in `dir`, which must both be there, and not where the
    /// guest mounts a tmpfs.
    fn in_dir(dir: &Path) -> Result<Binaries> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("--baseline: cannot find {}", dir.display()))?;
        for hidden in ["/tmp", "/run", "/var/tmp", "/root"] {
            if dir.starts_with(hidden) {
                bail!(
                    "--baseline: {} is under {hidden}, which the guest mounts afresh; \
                     copy the binaries elsewhere (e.g. into target/)",
                    dir.display()
                );
            }
        }
        let binaries = Binaries {
            server: dir.join("lvs-server"),
            agent: dir.join("lvs-agent"),
        };
        for path in [&binaries.server, &binaries.agent] {
            if !path.is_file() {
                bail!(
                    "--baseline: {} is missing (the directory must hold release builds of \
                     lvs-server and lvs-agent)",
                    path.display()
                );
            }
        }
        Ok(binaries)
    }

    /// The benchmark run with these binaries, labelled `label` in its output.
    fn command(&self, bench: &Path, label: &str, extra: &[String]) -> GuestCommand {
        let mut args = vec![
            "--server".to_owned(),
            self.server.display().to_string(),
            "--agent".to_owned(),
            self.agent.display().to_string(),
            "--label".to_owned(),
            label.to_owned(),
        ];
        args.extend_from_slice(extra);
        GuestCommand::new(bench, args)
    }
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
        this: Binaries {
            server: executable("lvs-server")?,
            agent: executable("lvs-agent")?,
        },
        bench: executable("agent-bench")?,
    })
}

//! `cargo xtask vm-test`: every workspace test target named `kernel`, run in one guest boot.
//!
//! A package opts in with `[[test]] name = "kernel"` and `test = false`, so a plain `cargo test` on
//! the host (which has no IPVS) skips it, and this command builds and runs it in the guest.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{GuestCommand, GuestRun};

/// The test target name that marks a package's kernel tests.
const TARGET: &str = "kernel";

/// Arguments of `cargo xtask vm-test`.
#[derive(Debug, clap::Args)]
pub struct VmTestArgs {
    /// Only this package's kernel tests (repeatable); all packages with a `kernel` test by default.
    #[arg(short, long = "package", value_name = "P")]
    packages: Vec<String>,
    /// Seconds for boot plus all tests before QEMU is killed.
    #[arg(long, env = "LVS_VM_TIMEOUT", default_value_t = GuestRun::DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
    /// Passed to every test binary, e.g. a test name filter or `--nocapture`.
    #[arg(last = true)]
    test_args: Vec<String>,
}

impl Default for VmTestArgs {
    /// Every package's kernel tests, as `cargo xtask test` runs them.
    fn default() -> Self {
        VmTestArgs {
            packages: Vec::new(),
            timeout: GuestRun::DEFAULT_TIMEOUT.as_secs(),
            test_args: Vec::new(),
        }
    }
}

/// One built kernel test binary.
#[derive(Debug)]
struct TestBinary {
    package: String,
    executable: PathBuf,
    /// The package's directory: cargo runs tests from there, so the guest does too.
    dir: PathBuf,
}

/// Builds the kernel tests, runs them all in one guest, and fails if any failed.
pub fn test(args: &VmTestArgs) -> Result<()> {
    let packages = kernel_test_packages(&args.packages)?;
    let binaries = build(&packages)?;
    let server = build_server()?;
    let mut test_args = args.test_args.clone();
    // The guest's console is a terminal, so the harness colours its output unless told otherwise.
    let colour_given = test_args.iter().any(|arg| arg.starts_with("--color"));
    if !colour_given && !std::io::stdout().is_terminal() {
        test_args.push("--color=never".into());
    }
    let commands = binaries
        .iter()
        .map(|binary| GuestCommand {
            cwd: binary.dir.clone(),
            ..GuestCommand::new(&binary.executable, &test_args)
        })
        .collect();
    let mut env = forwarded_env();
    // The agent's end-to-end tests start the real server (a binary of another package).
    env.push((SERVER_BIN_ENV.into(), server.display().to_string()));
    let guest = GuestRun {
        commands,
        env,
        timeout: Duration::from_secs(args.timeout),
        cpus: GuestRun::DEFAULT_CPUS,
    };
    let outcome = super::run(&guest)?;

    eprintln!(
        "vm: guest booted in {:.1} s and finished in {:.1} s",
        outcome.boot_time.as_secs_f64(),
        outcome.total_time.as_secs_f64()
    );
    if !outcome.success() {
        let failed: Vec<String> = binaries
            .iter()
            .zip(&outcome.exit_codes)
            .filter(|(_, &code)| code != 0)
            .map(|(binary, code)| format!("{} (exit code {code})", binary.package))
            .collect();
        bail!(
            "kernel tests failed in the guest: {}; kernel log {}, artifacts {}",
            failed.join(", "),
            outcome.run_dir.join("kernel.log").display(),
            outcome.artifacts.display()
        );
    }
    eprintln!("vm: kernel tests passed in {} package(s)", binaries.len());
    Ok(())
}

/// A workspace package with kernel tests.
#[derive(Debug)]
struct Package {
    name: String,
    manifest_path: PathBuf,
}

/// Workspace packages with a `kernel` test target, limited to `only` when it is not empty.
fn kernel_test_packages(only: &[String]) -> Result<Vec<Package>> {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed with {}", output.status);
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cannot parse cargo metadata")?;
    let mut packages = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(manifest_path)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            continue;
        };
        let has_kernel_tests = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(is_kernel_test);
        if has_kernel_tests && (only.is_empty() || only.iter().any(|wanted| wanted == name)) {
            packages.push(Package {
                name: name.to_owned(),
                manifest_path: manifest_path.into(),
            });
        }
    }
    if let Some(unknown) = only
        .iter()
        .find(|wanted| !packages.iter().any(|package| &package.name == *wanted))
    {
        bail!("package {unknown} has no `{TARGET}` test target (a [[test]] named {TARGET:?})");
    }
    if packages.is_empty() {
        bail!("no workspace package has a `{TARGET}` test target: nothing to run in the guest");
    }
    Ok(packages)
}

/// `cargo test --no-run` for the packages' kernel tests, reading the binaries' paths from its JSON.
fn build(packages: &[Package]) -> Result<Vec<TestBinary>> {
    let names: Vec<&str> = packages
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let mut command = cargo();
    command.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
        "--test",
        TARGET,
    ]);
    for name in &names {
        command.args(["--package", name]);
    }
    eprintln!(
        "$ cargo test --no-run --test {TARGET} --package {}",
        names.join(" --package ")
    );
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo test --no-run")?;
    if !output.status.success() {
        bail!("building the kernel tests failed with {}", output.status);
    }
    let mut binaries = Vec::new();
    for line in output
        .stdout
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        let message: Value =
            serde_json::from_slice(line).context("cannot parse cargo's JSON output")?;
        if message["reason"] != "compiler-artifact" || !is_kernel_test(&message["target"]) {
            continue;
        }
        let (Some(executable), Some(manifest)) = (
            message["executable"].as_str(),
            message["manifest_path"].as_str(),
        ) else {
            continue;
        };
        let Some(package) = packages
            .iter()
            .find(|package| package.manifest_path.as_os_str() == manifest)
        else {
            continue;
        };
        let dir = package
            .manifest_path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        binaries.push(TestBinary {
            package: package.name.clone(),
            executable: executable.into(),
            dir,
        });
    }
    binaries.sort_by(|a, b| a.package.cmp(&b.package));
    if binaries.len() != packages.len() {
        bail!(
            "cargo built {} `{TARGET}` test binaries for {} packages",
            binaries.len(),
            packages.len()
        );
    }
    Ok(binaries)
}

/// Where the guest's tests find the `lvs-server` binary.
const SERVER_BIN_ENV: &str = "LVS_TEST_SERVER_BIN";

/// `cargo build -p lvs-server --bin lvs-server`; returns the binary's path.
fn build_server() -> Result<PathBuf> {
    eprintln!("$ cargo build --package lvs-server --bin lvs-server");
    let output = cargo()
        .args([
            "build",
            "--package",
            "lvs-server",
            "--bin",
            "lvs-server",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("building lvs-server failed with {}", output.status);
    }
    for line in output
        .stdout
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        let message: Value =
            serde_json::from_slice(line).context("cannot parse cargo's JSON output")?;
        if message["reason"] == "compiler-artifact" && message["target"]["name"] == "lvs-server" {
            if let Some(executable) = message["executable"].as_str() {
                return Ok(executable.into());
            }
        }
    }
    bail!("cargo build did not report the lvs-server binary")
}

fn is_kernel_test(target: &Value) -> bool {
    target["name"] == TARGET
        && target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|kind| kind == "test"))
}

/// The host's backtrace, log and test harness settings and `LVS_*` variables, for the tests.
fn forwarded_env() -> Vec<(String, String)> {
    let forwarded = |name: &str| {
        ["RUST_BACKTRACE", "RUST_LIB_BACKTRACE", "RUST_LOG"].contains(&name)
            || name.starts_with("RUST_TEST_")
            || (name.starts_with("LVS_") && !name.starts_with("LVS_VM_"))
    };
    std::env::vars()
        .filter(|(name, _)| forwarded(name))
        .collect()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(crate::cmd::workspace_root());
    command
}

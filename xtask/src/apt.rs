//! Installing the Debian packages the checks need, so a fresh machine runs them unaided.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

/// Makes sure each `(program, package)` is installed, installing the missing packages with
/// one `apt-get install` (we run as root in CI).
pub fn ensure(programs: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = programs
        .iter()
        .filter(|(program, _)| find(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(&missing)
}

/// Installs `packages` from Debian.
pub fn install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    eprintln!("installing Debian packages: {list}");
    let apt = |args: &[&str]| -> Result<()> {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        crate::cmd::run(&mut command)
    };
    apt(&["update", "-qq"])
        .and_then(|()| {
            let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
            args.extend(packages);
            apt(&args)
        })
        .with_context(|| {
            format!(
                "cannot install {list}; as root, run: \
                 apt-get update && apt-get install -y --no-install-recommends {list}"
            )
        })
}

/// A program on `PATH`, or in the sbin directories a non-root `PATH` may lack.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

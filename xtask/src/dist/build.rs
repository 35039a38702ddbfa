//! Building the packages: a release build of each binary, its files laid out in a tree as
//! they are installed, and `dpkg-deb` (in `deb.rs`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{deb, Built, Package, PACKAGES};
use crate::cmd::workspace_root;

/// Builds every package of [`PACKAGES`] into `<target dir>/dist/`, from release builds or
/// `from_tests`.
pub fn all(from_tests: bool) -> Result<Built> {
    crate::apt::ensure(&[
        ("dpkg-deb", "dpkg"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("strip", "binutils"),
    ])?;
    let (version, target_dir) = metadata()?;
    let dist = target_dir.join("dist");
    // dpkg-shlibdeps wants the trees at debian/<package>/ beside a debian/control.
    let staging = dist.join("staging");
    remove_dir(&staging)?;
    fs::create_dir_all(staging.join("debian"))
        .with_context(|| format!("cannot create {}", staging.display()))?;
    fs::write(
        staging.join("debian/control"),
        "Source: lvs-fleet\n\nPackage: lvs-fleet\nArchitecture: any\n",
    )
    .context("cannot write the staging debian/control")?;

    let binaries = Binaries::new(from_tests)?;
    let mut debs = Vec::new();
    for package in PACKAGES {
        let started = Instant::now();
        let binary = binaries.get(package.name)?;
        eprintln!(
            "dist: {} built in {:.1} s",
            package.name,
            started.elapsed().as_secs_f64()
        );
        let tree = Tree(staging.join("debian").join(package.name));
        lay_out(&tree, package, &binary)
            .with_context(|| format!("cannot lay out the {} package", package.name))?;
        let deb = deb::build(&staging, &tree.0, package, &version, &dist)
            .with_context(|| format!("cannot build the {} package", package.name))?;
        debs.push(deb);
    }
    Ok(Built { version, debs })
}

/// Every file of `package` at its installed path under `tree`.
fn lay_out(tree: &Tree, package: &Package, binary: &Path) -> Result<()> {
    let packaging = workspace_root().join("packaging");
    let name = package.name;
    // The debug line tables go (the symbols stay, for backtraces): a tenth of the size.
    let installed = tree.path(&format!("usr/bin/{name}"))?;
    crate::cmd::run(
        Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(&installed)
            .arg(binary),
    )?;
    tree.copy(
        &packaging.join("debian/copyright"),
        &format!("usr/share/doc/{name}/copyright"),
        0o644,
    )?;
    if let Some(daemon) = &package.daemon {
        tree.copy(
            &packaging.join(format!("systemd/{name}.service")),
            &format!("lib/systemd/system/{name}.service"),
            0o644,
        )?;
        tree.copy(
            &packaging.join("etc").join(daemon.env_file),
            &format!("etc/lvs-fleet/{}", daemon.env_file),
            daemon.env_mode,
        )?;
        if daemon.modules_load {
            tree.copy(
                &packaging.join(format!("modules-load.d/{name}.conf")),
                &format!("usr/lib/modules-load.d/{name}.conf"),
                0o644,
            )?;
        }
    }
    if package.generated_docs {
        generated_docs(tree, name, binary)?;
    }
    Ok(())
}

/// The man pages (gzipped, as Debian installs them) and the bash, zsh and fish completions
/// that `binary` writes about itself.
fn generated_docs(tree: &Tree, name: &str, binary: &Path) -> Result<()> {
    let man_dir = &tree.dir("usr/share/man/man1")?;
    crate::cmd::run(
        Command::new(binary)
            .arg("man")
            .arg("--out-dir")
            .arg(man_dir),
    )?;
    let pages = fs::read_dir(man_dir)
        .with_context(|| format!("cannot list {}", man_dir.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    if pages.is_empty() {
        bail!("`{name} man` wrote no man page into {}", man_dir.display());
    }
    crate::cmd::run(Command::new("gzip").args(["-9", "-n", "-r"]).arg(man_dir))?;
    for (shell, path) in [
        (
            "bash",
            format!("usr/share/bash-completion/completions/{name}"),
        ),
        ("zsh", format!("usr/share/zsh/vendor-completions/_{name}")),
        (
            "fish",
            format!("usr/share/fish/vendor_completions.d/{name}.fish"),
        ),
    ] {
        let output = Command::new(binary)
            .args(["completions", shell])
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {} completions {shell}", binary.display()))?;
        if !output.status.success() || output.stdout.is_empty() {
            bail!("`{name} completions {shell}` failed with {}", output.status);
        }
        tree.write(&path, &output.stdout, 0o644)?;
    }
    Ok(())
}

/// A package's tree: the root of what it installs.
struct Tree(PathBuf);

impl Tree {
    /// `relative` under the tree, its directory made.
    fn path(&self, relative: &str) -> Result<PathBuf> {
        let path = self.0.join(relative);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(path)
    }

    /// The directory `relative` under the tree, made.
    fn dir(&self, relative: &str) -> Result<PathBuf> {
        let dir = self.0.join(relative);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    fn copy(&self, from: &Path, to: &str, mode: u32) -> Result<()> {
        let contents = fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
        self.write(to, &contents, mode)
    }

    fn write(&self, to: &str, contents: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(to)?;
        fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))
    }
}

/// The binary of each package, by name, as cargo builds it.
enum Binaries {
    /// `cargo build --release` of one package at a time: each then gets its own dependencies'
    /// features, as a `cargo build -p` of it alone does, so a release build already made of
    /// one (CI's readme step builds lvs-server) is reused.
    Release,
    /// The debug binaries `cargo test --workspace` built (for the packages' integration
    /// tests), read from one `cargo test --no-run`: no build at all after the tests ran.
    FromTests(Vec<(String, PathBuf)>),
}

impl Binaries {
    fn new(from_tests: bool) -> Result<Binaries> {
        if !from_tests {
            return Ok(Binaries::Release);
        }
        let messages = cargo_json(&["test", "--workspace", "--no-run"])?;
        let binaries = messages
            .iter()
            .filter(|message| {
                message["reason"] == "compiler-artifact"
                    && message["profile"]["test"] == false
                    && message["target"]["kind"][0] == "bin"
            })
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?;
                Some((name.to_owned(), message["executable"].as_str()?.into()))
            })
            .collect();
        Ok(Binaries::FromTests(binaries))
    }

    fn get(&self, name: &str) -> Result<PathBuf> {
        match self {
            Binaries::Release => {
                let messages =
                    cargo_json(&["build", "--release", "--package", name, "--bin", name])?;
                executable(&messages, name)
            }
            Binaries::FromTests(binaries) => binaries
                .iter()
                .find(|(built, _)| built == name)
                .map(|(_, path)| path.clone())
                .with_context(|| {
                    format!("cargo test --workspace builds no {name} binary (no integration test?)")
                }),
        }
    }
}

fn executable(messages: &[Value], name: &str) -> Result<PathBuf> {
    messages
        .iter()
        .find(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == name
                && message["executable"].is_string()
        })
        .and_then(|message| message["executable"].as_str())
        .map(PathBuf::from)
        .with_context(|| format!("cargo did not report the {name} executable"))
}

/// `cargo <args> --locked` with JSON messages, which it returns.
fn cargo_json(args: &[&str]) -> Result<Vec<Value>> {
    let mut args = args.to_vec();
    args.extend(["--locked", "--message-format=json-render-diagnostics"]);
    eprintln!("$ cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(&args)
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("cargo {} failed with {}", args.join(" "), output.status);
    }
    output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).context("cannot parse cargo's JSON output"))
        .collect()
}

/// The workspace's version and cargo's target directory (`CARGO_TARGET_DIR` or `target/`).
fn metadata() -> Result<(String, PathBuf)> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed with {}", output.status);
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cannot parse cargo metadata")?;
    let version = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "lvs-server")
        .and_then(|package| package["version"].as_str())
        .context("cargo metadata has no lvs-server package version")?;
    let target_dir = metadata["target_directory"]
        .as_str()
        .context("cargo metadata has no target_directory")?;
    Ok((version.to_owned(), target_dir.into()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

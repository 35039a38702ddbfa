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

/// Builds every package of [`PACKAGES`] into `<target dir>/dist/`.
pub fn all() -> Result<Built> {
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

    let mut debs = Vec::new();
    for package in PACKAGES {
        let started = Instant::now();
        let binary = cargo_build(package.name)?;
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
    let man_dir = tree.path("usr/share/man/man1/x")?;
    let man_dir = man_dir.parent().context("no man directory")?;
    crate::cmd::run(
        Command::new(binary)
            .arg("man")
            .arg("--out-dir")
            .arg(man_dir),
    )?;
    let mut pages = 0;
    for entry in
        fs::read_dir(man_dir).with_context(|| format!("cannot list {}", man_dir.display()))?
    {
        let page = entry?.path();
        crate::cmd::run(Command::new("gzip").args(["-9", "-n"]).arg(&page))?;
        pages += 1;
    }
    if pages == 0 {
        bail!("`{name} man` wrote no man page into {}", man_dir.display());
    }
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

/// `cargo build --release` of one package's binary; returns its path. One package at a time:
/// each then gets its own dependencies' features, as a `cargo build -p` of it alone does, so
/// a release build already made of one (CI's readme step builds lvs-server) is reused.
fn cargo_build(name: &str) -> Result<PathBuf> {
    let args = [
        "build",
        "--release",
        "--locked",
        "--message-format=json-render-diagnostics",
        "--package",
        name,
        "--bin",
        name,
    ];
    eprintln!("$ cargo {}", args.join(" "));
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo build")?;
    if !output.status.success() {
        bail!("cargo build of {name} failed with {}", output.status);
    }
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

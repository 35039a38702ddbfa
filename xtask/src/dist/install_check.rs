//! `cargo xtask dist --install-check`: the packages installed with apt as an administrator
//! would (as root, on Debian), what they installed checked, then purged and checked gone.
//! Every check runs on every machine; only how the server is started depends on whether
//! systemd runs (it is started by its unit, or else as its user by hand).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use super::{smoke, Built, Package, PACKAGES};
use crate::cmd::output;

/// Installs `built`, checks it, purges it; the purge runs even when a check failed.
pub fn run(built: &Built) -> Result<()> {
    ensure!(
        output(Command::new("id").arg("-u"))? == "0",
        "the install check installs packages: run it as root"
    );
    crate::apt::ensure(&[("systemd-analyze", "systemd"), ("ip", "iproute2")])?;
    let names: Vec<&str> = PACKAGES.iter().map(|package| package.name).collect();
    // A previous run's packages, so that apt installs these files, not keeps those.
    let left: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| dpkg_status(name).is_some_and(|status| status != "not-installed"))
        .collect();
    if !left.is_empty() {
        apt(&[&["purge", "-y", "-qq"], left.as_slice()].concat())?;
    }

    let started = Instant::now();
    let debs: Vec<&str> = built
        .debs
        .iter()
        .map(|deb| deb.to_str().context("a package path that is not UTF-8"))
        .collect::<Result<_>>()?;
    apt(&["update", "-qq"])?;
    apt(&[
        &["install", "-y", "-qq", "--no-install-recommends"],
        debs.as_slice(),
    ]
    .concat())
    .context("apt could not install the packages")?;
    let checked = installed(&built.version).context("the installed packages are not right");
    let purged = apt(&[&["purge", "-y", "-qq"], names.as_slice()].concat())
        .context("apt could not purge the packages")
        .and_then(|()| gone().context("the purge left files behind"));
    checked?;
    purged?;
    eprintln!(
        "dist: install check passed in {:.1} s (install, checks, purge)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What the packages installed, package by package, then the units and the server running.
fn installed(version: &str) -> Result<()> {
    for package in PACKAGES {
        check_package(package, version).with_context(|| format!("package {}", package.name))?;
    }
    let units: Vec<String> = PACKAGES
        .iter()
        .filter(|package| package.daemon.is_some())
        .map(|package| format!("/lib/systemd/system/{}.service", package.name))
        .collect();
    // verify exits 0 on unknown keys and bad values, printing them: anything it says fails.
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .context("cannot run systemd-analyze verify")?;
    let said = String::from_utf8_lossy(&verify.stderr) + String::from_utf8_lossy(&verify.stdout);
    ensure!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {} failed ({}): {said}",
        units.join(" "),
        verify.status
    );
    eprintln!("dist: systemd-analyze verify {}: clean", units.join(" "));
    smoke::server().context("lvs-server as installed")?;
    smoke::agent_capabilities().context("lvs-agent's capabilities")?;
    Ok(())
}

fn check_package(package: &Package, version: &str) -> Result<()> {
    let name = package.name;
    let said = output(Command::new(format!("/usr/bin/{name}")).arg("--version"))?;
    ensure!(
        said == format!("{name} {version}"),
        "/usr/bin/{name} --version said {said:?}"
    );
    exists(&format!("/usr/share/doc/{name}/copyright"))?;
    if let Some(daemon) = &package.daemon {
        let entry = output(Command::new("getent").args(["passwd", daemon.user]))
            .with_context(|| format!("no user {}", daemon.user))?;
        let fields: Vec<&str> = entry.split(':').collect();
        let uid: u32 = fields
            .get(2)
            .and_then(|uid| uid.parse().ok())
            .unwrap_or(u32::MAX);
        ensure!(
            uid < 1000
                && fields
                    .get(6)
                    .is_some_and(|shell| shell.ends_with("nologin")),
            "{} is not a system user without a shell: {entry}",
            daemon.user
        );
        expect_stat(
            &format!("/var/lib/{name}"),
            &format!("{0}:{0} 700", daemon.user),
        )?;
        expect_stat(
            &format!("/etc/lvs-fleet/{}", daemon.env_file),
            &format!("root:root {:o}", daemon.env_mode),
        )?;
        exists(&format!("/lib/systemd/system/{name}.service"))?;
        let wants = format!("/etc/systemd/system/multi-user.target.wants/{name}.service");
        ensure!(
            Path::new(&wants).is_symlink() == daemon.enable,
            "{wants} should {}exist",
            if daemon.enable { "" } else { "not " }
        );
        if daemon.modules_load {
            exists(&format!("/usr/lib/modules-load.d/{name}.conf"))?;
        }
    }
    if package.generated_docs {
        exists(&format!("/usr/share/man/man1/{name}.1.gz"))?;
        exists(&format!("/usr/share/bash-completion/completions/{name}"))?;
        exists(&format!("/usr/share/zsh/vendor-completions/_{name}"))?;
        exists(&format!("/usr/share/fish/vendor_completions.d/{name}.fish"))?;
    }
    eprintln!("dist: {name} installed as expected");
    Ok(())
}

/// After the purge: no package, binary, unit, configuration, state or man page left.
fn gone() -> Result<()> {
    for package in PACKAGES {
        let name = package.name;
        if let Some(status) = dpkg_status(name).filter(|status| status != "not-installed") {
            bail!("{name} is still {status}");
        }
        let mut paths = vec![
            format!("/usr/bin/{name}"),
            format!("/usr/share/doc/{name}"),
            format!("/usr/share/man/man1/{name}.1.gz"),
        ];
        if let Some(daemon) = &package.daemon {
            paths.extend([
                format!("/lib/systemd/system/{name}.service"),
                format!("/etc/systemd/system/multi-user.target.wants/{name}.service"),
                format!("/etc/lvs-fleet/{}", daemon.env_file),
                format!("/var/lib/{name}"),
            ]);
        }
        if let Some(left) = paths
            .iter()
            .find(|path| Path::new(path).symlink_metadata().is_ok())
        {
            bail!("{left} is still there after purging {name}");
        }
    }
    eprintln!("dist: purged; nothing left but the system users (kept, as Debian does)");
    Ok(())
}

/// dpkg's word on a package (`installed`, `config-files`...), if it knows the package.
fn dpkg_status(name: &str) -> Option<String> {
    output(Command::new("dpkg-query").args(["-W", "-f=${db:Status-Status}", name])).ok()
}

fn exists(path: &str) -> Result<()> {
    ensure!(Path::new(path).exists(), "{path} is missing");
    Ok(())
}

/// `stat`'s `owner:group mode` of `path` must be `expected`.
fn expect_stat(path: &str, expected: &str) -> Result<()> {
    let stat = output(Command::new("stat").args(["-c", "%U:%G %a", path]))?;
    ensure!(stat == expected, "{path} is {stat}, not {expected}");
    Ok(())
}

fn apt(args: &[&str]) -> Result<()> {
    let mut command = Command::new("apt-get");
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    crate::cmd::run(&mut command)
}

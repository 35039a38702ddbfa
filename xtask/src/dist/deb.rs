//! A package tree made into a `.deb`: its `DEBIAN/` control files, then `dpkg-deb`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::Package;
use crate::cmd::{output, workspace_root};

/// Who answers for the packages; one place to change it.
const MAINTAINER: &str = "LVS Fleet maintainers <maintainers@lvs-fleet.invalid>";

/// Writes `tree/DEBIAN/` and builds `<out_dir>/<name>_<version>_<arch>.deb`. `staging` holds
/// `debian/control` and the tree at `debian/<name>/`, as dpkg-shlibdeps wants them.
pub fn build(
    staging: &Path,
    tree: &Path,
    package: &Package,
    version: &str,
    out_dir: &Path,
) -> Result<PathBuf> {
    let name = package.name;
    let arch = output(Command::new("dpkg").arg("--print-architecture"))?;
    let libraries = shlibs(staging, name)?;
    // md5sums and the size describe the payload, so both come before DEBIAN/ exists.
    let md5sums = md5sums(tree)?;
    let installed_kib = size(tree)?.div_ceil(1024);

    let control_dir = tree.join("DEBIAN");
    fs::create_dir_all(&control_dir)
        .with_context(|| format!("cannot create {}", control_dir.display()))?;
    // Whatever the umask made them: dpkg-deb and the installed system want 0755.
    open_directories(tree)?;
    let mut depends = vec![libraries];
    depends.extend(package.depends.iter().map(|d| (*d).to_owned()));
    let mut control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\nSection: net\nPriority: optional\n\
         Depends: {}\n",
        depends.join(", ")
    );
    for (field, list) in [
        ("Recommends", package.recommends),
        ("Suggests", package.suggests),
    ] {
        if !list.is_empty() {
            writeln!(control, "{field}: {}", list.join(", "))?;
        }
    }
    writeln!(control, "Description: {}", package.summary)?;
    // The long description: lines of at most 79 columns, each indented by one space.
    let mut line = String::new();
    for word in package.details.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 78 {
            writeln!(control, " {line}")?;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    writeln!(control, " {line}")?;
    write(&control_dir.join("control"), &control, 0o644)?;
    write(&control_dir.join("md5sums"), &md5sums, 0o644)?;

    if let Some(daemon) = &package.daemon {
        // Everything under /etc is the administrator's once installed.
        write(
            &control_dir.join("conffiles"),
            &format!("/etc/lvs-fleet/{}\n", daemon.env_file),
            0o644,
        )?;
        let enable = if daemon.enable { "yes" } else { "no" };
        for script in ["postinst", "prerm", "postrm"] {
            let template = workspace_root().join("packaging/debian").join(script);
            let text = fs::read_to_string(&template)
                .with_context(|| format!("cannot read {}", template.display()))?;
            let text = text
                .replace("@PACKAGE@", name)
                .replace("@USER@", daemon.user)
                .replace("@GECOS@", daemon.gecos)
                .replace("@ENABLE@", enable)
                .replace("@STATE@", daemon.state);
            if let Some(left) = unfilled(&text) {
                bail!("{}: nothing fills in {left}", template.display());
            }
            write(&control_dir.join(script), &text, 0o755)?;
        }
    }

    let deb = out_dir.join(format!("{name}_{version}_{arch}.deb"));
    crate::cmd::run(
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(tree)
            .arg(&deb),
    )?;
    Ok(deb)
}

/// The shared libraries' packages the binaries in the tree need, as `dpkg-shlibdeps` says:
/// `libc6 (>= 2.34), libgcc-s1 (>= 4.2)`.
fn shlibs(staging: &Path, name: &str) -> Result<String> {
    let text = output(
        Command::new("dpkg-shlibdeps")
            .arg("-O")
            .arg(format!("debian/{name}/usr/bin/{name}"))
            .current_dir(staging),
    )?;
    text.lines()
        .find_map(|line| line.strip_prefix("shlibs:Depends="))
        .map(str::to_owned)
        .with_context(|| format!("dpkg-shlibdeps printed no shlibs:Depends: {text}"))
}

/// `md5sum` of every file, by its path in the package (what `debsums` checks).
fn md5sums(tree: &Path) -> Result<String> {
    let mut files = Vec::new();
    walk(tree, &mut |path| {
        files.push(path.strip_prefix(tree)?.to_path_buf());
        Ok(())
    })?;
    files.sort();
    output(Command::new("md5sum").args(&files).current_dir(tree)).map(|sums| sums + "\n")
}

/// The bytes of every file in the tree.
fn size(tree: &Path) -> Result<u64> {
    let mut total = 0;
    walk(tree, &mut |path| {
        total += fs::metadata(path)?.len();
        Ok(())
    })?;
    Ok(total)
}

/// Calls `visit` with every regular file under `dir`.
fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, visit)?;
        } else {
            visit(&path)?;
        }
    }
    Ok(())
}

/// A `@NAME@` of a template left in `text` (the shell's `"$@"` is not one).
fn unfilled(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let after = &rest[at + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('@') {
            return Some(&rest[at..at + name_len + 2]);
        }
        rest = after;
    }
    None
}

/// Sets `dir` and every directory under it to mode 0755.
fn open_directories(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            open_directories(&path)?;
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::unfilled;

    #[test]
    fn finds_names_left_in_templates_but_not_the_shells_arguments() {
        assert_eq!(unfilled("helper \"$@\" || true; x@ y@"), None);
        assert_eq!(unfilled("user @USER@ of \"$@\""), Some("@USER@"));
        assert_eq!(unfilled("mail a@b.c @NEW_NAME@"), Some("@NEW_NAME@"));
    }
}

//! The compile-time-checked queries' offline data in `.sqlx/`: regenerating it, and
//! checking in CI that it matches the queries and the migrations.
//!
//! This does what `cargo sqlx prepare` does, without installing sqlx-cli: build a scratch
//! database from `migrations/`, recompile the server with the query macros online and
//! `SQLX_OFFLINE_DIR` set, so each macro writes its data file, and compare.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cmd::{run, workspace_root};

/// The packages whose queries are checked at compile time.
const PACKAGES: &[&str] = &["lvs-server"];

/// Rewrites `.sqlx/` from the current queries and migrations.
pub fn prepare() -> Result<()> {
    let fresh = generate()?;
    let target = workspace_root().join(".sqlx");
    if target.exists() {
        fs::remove_dir_all(&target).context("removing the old .sqlx")?;
    }
    copy_dir(&fresh, &target)?;
    eprintln!("wrote {} query files to .sqlx/", count(&target)?);
    Ok(())
}

/// Fails if `.sqlx/` is not exactly what `prepare` would write.
pub fn check() -> Result<()> {
    let fresh = generate()?;
    let committed = workspace_root().join(".sqlx");
    let (want, have) = (listing(&fresh)?, listing(&committed).unwrap_or_default());
    let stale: Vec<_> = want
        .iter()
        .filter(|(name, text)| have.iter().all(|(n, t)| n != name || t != text))
        .map(|(name, _)| name.clone())
        .chain(
            have.iter()
                .filter(|(n, _)| want.iter().all(|(w, _)| w != n))
                .map(|(n, _)| n.clone()),
        )
        .collect();
    if !stale.is_empty() {
        bail!(
            ".sqlx/ does not match the queries and migrations ({} files differ: {}); \
             run `cargo xtask sqlx-prepare` and commit .sqlx/",
            stale.len(),
            stale.join(", ")
        );
    }
    eprintln!(".sqlx/ is up to date ({} queries)", want.len());
    Ok(())
}

/// Builds the query data into a scratch directory and returns it.
fn generate() -> Result<PathBuf> {
    let scratch = workspace_root().join("target/xtask-sqlx");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).context("clearing target/xtask-sqlx")?;
    }
    let out = scratch.join("queries");
    fs::create_dir_all(&out)?;
    let database = scratch.join("schema.db");
    create_database(&database)?;

    // Touching the sources makes cargo recompile them, so every macro runs again.
    for package in PACKAGES {
        let dir = workspace_root().join(package.trim_start_matches("lvs-"));
        touch_sources(&dir.join("src"))?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["check", "--quiet", "--all-targets"]);
    for package in PACKAGES {
        command.args(["-p", package]);
    }
    command
        .env("SQLX_OFFLINE", "false")
        .env("SQLX_OFFLINE_DIR", &out)
        .env("DATABASE_URL", format!("sqlite://{}", database.display()));
    run(&mut command)?;
    Ok(out)
}

/// Applies every migration, in order, to a new SQLite file.
fn create_database(path: &Path) -> Result<()> {
    let mut migrations: Vec<_> = fs::read_dir(workspace_root().join("migrations"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    migrations.sort();
    let mut script = String::new();
    for migration in &migrations {
        script.push_str(&fs::read_to_string(migration)?);
        script.push('\n');
    }
    let script_path = path.with_extension("sql");
    fs::write(&script_path, script)?;
    let mut command = Command::new("sqlite3");
    command.arg(path).stdin(fs::File::open(&script_path)?);
    run(&mut command).context("sqlite3 is needed to check queries: apt-get install sqlite3")
}

fn touch_sources(dir: &Path) -> Result<()> {
    let now = fs::FileTimes::new().set_modified(std::time::SystemTime::now());
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            touch_sources(&path)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            fs::File::options()
                .append(true)
                .open(&path)?
                .set_times(now)?;
        }
    }
    Ok(())
}

fn listing(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, fs::read_to_string(&path)?));
    }
    files.sort();
    Ok(files)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            fs::copy(&path, to.join(name))?;
        }
    }
    Ok(())
}

fn count(dir: &Path) -> Result<usize> {
    Ok(fs::read_dir(dir)?.count())
}

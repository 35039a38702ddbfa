//! One nftables table of the caller's own, replaced whole in one `nft -f` transaction (the
//! kernel applies all of it or none), and deleted; other tables are never named. Runs the
//! `nft` program, in the network namespace of the calling thread.

use std::io::{self, Write};
use std::process::{Command, Stdio};

/// A table by family and name (`inet lvs_fleet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftTable {
    family: &'static str,
    name: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("nftables is not available: cannot run nft: {0}")]
    Unavailable(#[source] io::Error),
    #[error("nft refused table {table}: {stderr}")]
    Refused { table: String, stderr: String },
}

impl NftTable {
    pub const fn new(family: &'static str, name: &'static str) -> Self {
        NftTable { family, name }
    }

    /// Replaces the table's whole content with `body` (chains and their rules, as inside
    /// `table ... { }`), creating it if missing.
    pub fn replace(&self, body: &str) -> Result<(), NftError> {
        let (family, name) = (self.family, self.name);
        // `table` alone creates it when missing, so the delete always has one to delete.
        let script = format!(
            "table {family} {name}\ndelete table {family} {name}\ntable {family} {name} {{\n{body}}}\n"
        );
        self.run(&["-f", "-"], Some(&script)).map(drop)
    }

    /// Deletes the table; `Ok(false)` when there was none.
    pub fn delete(&self) -> Result<bool, NftError> {
        if !self.exists()? {
            return Ok(false);
        }
        self.run(&["delete", "table", self.family, self.name], None)
            .map(|_| true)
    }

    pub fn exists(&self) -> Result<bool, NftError> {
        match self.run(&["list", "table", self.family, self.name], None) {
            Ok(_) => Ok(true),
            Err(NftError::Refused { stderr, .. }) if stderr.contains("No such file") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The table as `nft list` shows it.
    pub fn list(&self) -> Result<String, NftError> {
        self.run(&["list", "table", self.family, self.name], None)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, NftError> {
        let mut child = Command::new("nft")
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(NftError::Unavailable)?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .map_err(NftError::Unavailable)?;
        }
        let output = child.wait_with_output().map_err(NftError::Unavailable)?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(NftError::Refused {
                table: format!("{} {}", self.family, self.name),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}

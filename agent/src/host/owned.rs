//! What the agent added to the host, so that it removes only that: the interfaces it
//! created, the addresses it added, each sysctl it set with the value it found, and its
//! nftables table. Kept in
//! `host.json` in the state directory, written (atomically, synced) before the change it
//! records, so a crash between the two leaves at most a record of something absent, which
//! removing skips.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owned {
    /// Dummy interfaces the agent created.
    #[serde(default)]
    pub interfaces: BTreeSet<String>,
    /// Tunnel fallback devices (`tunl0`) the agent brought up.
    #[serde(default)]
    pub raised: BTreeSet<String>,
    /// Addresses the agent added, with their interface.
    #[serde(default)]
    pub addresses: BTreeSet<(String, IpAddr)>,
    /// Sysctls the agent set (dotted name).
    #[serde(default)]
    pub sysctls: BTreeMap<String, SetSysctl>,
    /// GUE receive ports the agent opened: (port, IPv6).
    #[serde(default)]
    pub gue_ports: BTreeSet<(u16, bool)>,
    /// Whether the agent created its nftables table (`inet lvs_fleet`).
    #[serde(default)]
    pub nft_table: bool,
    /// Whether the agent started the sync daemons that run.
    #[serde(default)]
    pub sync_daemons: bool,
}

/// A sysctl the agent changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSysctl {
    /// The value before the agent's first write: given back when nothing wants it set.
    pub original: String,
    /// The value the agent wrote last.
    pub set: String,
}

/// The record on disk.
#[derive(Debug)]
pub struct OwnedFile {
    path: PathBuf,
}

impl OwnedFile {
    /// A director's record.
    pub const NAME: &'static str = "host.json";
    /// A real-server host's record (`--role real-server`).
    pub const REAL_SERVER_NAME: &'static str = "real-server-host.json";

    pub fn in_dir(dir: &Path) -> Self {
        Self::at(dir.join(Self::NAME))
    }

    pub fn at(path: PathBuf) -> Self {
        OwnedFile { path }
    }

    /// The record; empty when there is none yet.
    pub fn load(&self) -> io::Result<Owned> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a valid record: {e}", self.path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Owned::default()),
            Err(e) => Err(e),
        }
    }

    /// Replaces the record: a temporary file synced and renamed over it.
    pub fn save(&self, owned: &Owned) -> io::Result<()> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let temporary = self.path.with_extension("json.tmp");
        let mut file = fs::File::create(&temporary)?;
        file.write_all(&serde_json::to_vec_pretty(owned).map_err(io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&temporary, &self.path)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_a_round_trip_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = OwnedFile::in_dir(&dir.path().join("state"));
        assert_eq!(file.load().expect("no record"), Owned::default());
        let mut owned = Owned::default();
        owned.interfaces.insert("lvs0".into());
        owned
            .addresses
            .insert(("lvs0".into(), "2001:db8::1".parse().expect("an address")));
        owned.sysctls.insert(
            "net.ipv4.ip_forward".into(),
            SetSysctl {
                original: "0".into(),
                set: "1".into(),
            },
        );
        file.save(&owned).expect("saved");
        assert_eq!(file.load().expect("loaded"), owned);
        fs::write(file.path(), b"{\"interfaces\": 3}").expect("written");
        let error = file.load().expect_err("invalid");
        assert!(
            error
                .to_string()
                .contains("host.json is not a valid record"),
            "{error}"
        );
    }
}

//! The last desired state received (and the generation last applied), kept on disk so an
//! agent that starts while the server is unreachable still repairs drift. Written atomically:
//! a temporary file in the same directory, fsync, rename, fsync of the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use lvs_model::DesiredState;
use serde::{Deserialize, Serialize};

const FILE: &str = "desired-state.json";

/// What the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    /// The last generation a pass applied completely.
    #[serde(default)]
    pub applied_generation: Option<u64>,
    /// The last desired state received from the server.
    pub desired: DesiredState,
}

/// [`Cached`] borrowed, for writing.
#[derive(Serialize)]
struct CachedView<'a> {
    applied_generation: Option<u64>,
    desired: &'a DesiredState,
}

/// The cache in one directory.
#[derive(Debug, Clone)]
pub struct StateCache {
    dir: PathBuf,
}

impl StateCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateCache { dir: dir.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The cached state; `None` when there is none yet.
    pub fn load(&self) -> anyhow::Result<Option<Cached>> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let cached = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid state cache", path.display()))?;
        Ok(Some(cached))
    }

    /// Replaces the cache atomically, creating the directory if needed.
    pub fn store(&self, cached: &Cached) -> anyhow::Result<()> {
        self.store_state(cached.applied_generation, &cached.desired)
    }

    /// [`StateCache::store`] from borrowed parts, so the state is not copied to be saved.
    pub fn store_state(
        &self,
        applied_generation: Option<u64>,
        desired: &DesiredState,
    ) -> anyhow::Result<()> {
        let cached = CachedView {
            applied_generation,
            desired,
        };
        let bytes = serde_json::to_vec(&cached).context("cannot serialise the state cache")?;
        write_atomically(&self.dir, FILE, &bytes)
            .with_context(|| format!("cannot write {}", self.path().display()))
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use lvs_model::spec::DesiredStateSpec;

    use super::*;

    fn state() -> DesiredState {
        serde_json::from_str::<DesiredStateSpec>(
            r#"{"generation": 7, "timeouts": {"tcp": 900},
                "services": [{"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                  "scheduler": "wrr", "description": "web",
                  "real_servers": [{"address": "10.1.0.1", "forwarding": "masq",
                                    "weight": 3, "state": "drained"}]}]}"#,
        )
        .unwrap()
        .parse()
        .unwrap()
    }

    #[test]
    fn round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let cache = StateCache::new(dir.path().join("nested"));
        assert_eq!(cache.load().unwrap(), None);
        let mut cached = Cached {
            applied_generation: None,
            desired: state(),
        };
        cache.store(&cached).unwrap();
        assert_eq!(cache.load().unwrap().as_ref(), Some(&cached));
        cached.applied_generation = Some(7);
        cache.store(&cached).unwrap();
        assert_eq!(cache.load().unwrap(), Some(cached));
        let names: Vec<_> = fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE], "no temporary file is left behind");
    }

    #[test]
    fn a_corrupt_cache_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(StateCache::new(dir.path()).load().is_err());
    }
}

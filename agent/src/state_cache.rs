//! The last desired state received (and the generation last applied), kept on disk so an
//! agent that starts while the server is unreachable still repairs drift.
//!
//! Two files. A snapshot (`desired-state.json`), written atomically: a temporary file in
//! the same directory, fsync, rename, fsync of the directory. And a journal
//! (`desired-state.journal`) of what happened since: one JSON line per pass with the diffs
//! received and the generation applied, appended and fsynced, so a change costs a line the
//! size of the change rather than a rewrite of the whole table. Once the journal outgrows
//! the snapshot it is folded into a new one, which keeps the cost in proportion to the
//! changes. The journal's first line names the snapshot it continues, so a journal left
//! behind by a crash between the two steps of a fold is never replayed onto the wrong
//! snapshot; a torn last line (a crash mid-append) is ignored.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use lvs_model::{DesiredState, Diff, DiffSpec};
use serde::{Deserialize, Serialize};

const SNAPSHOT: &str = "desired-state.json";
const JOURNAL: &str = "desired-state.journal";
/// The journal is folded once it is bigger than the snapshot, or than this if that is
/// bigger (a small table's snapshot is rewritten every few dozen changes, not every one).
const MIN_JOURNAL_LIMIT: u64 = 64 * 1024;

/// What the cache holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The last generation a pass applied completely.
    pub applied_generation: Option<u64>,
    /// The last desired state received from the server.
    pub desired: DesiredState,
}

/// What the cache lacks of the state to record.
#[derive(Debug, Clone, PartialEq)]
pub enum Unsaved {
    /// The state was replaced whole (or never recorded): the next record is a snapshot.
    Replaced,
    /// These diffs were applied to the state recorded last (none: only the applied
    /// generation may have changed).
    Diffs(Vec<Diff>),
}

/// How a [`StateCache::record`] was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// A line appended to the journal.
    Journal,
    /// A whole new snapshot (the first, a replaced state, or a fold of the journal).
    Snapshot,
}

/// The cache in one directory.
#[derive(Debug)]
pub struct StateCache {
    dir: PathBuf,
    journal_base: JournalBase,
    /// The open journal, once a line was appended since the last snapshot.
    journal: Option<File>,
    journal_bytes: u64,
}

/// What the journal continues.
#[derive(Debug, Clone, Copy)]
enum JournalBase {
    /// No snapshot it could continue: none was read or written yet, or the journal on disk
    /// cannot be continued. The next record writes a snapshot.
    Nothing,
    /// The snapshot on disk.
    Snapshot(SnapshotInfo),
}

#[derive(Debug, Clone, Copy)]
struct SnapshotInfo {
    id: u64,
    bytes: u64,
}

/// The snapshot file.
#[derive(Debug, Deserialize)]
struct Snapshot {
    #[serde(default)]
    applied_generation: Option<u64>,
    desired: DesiredState,
    /// Names this snapshot for its journal (absent in caches written before the journal).
    #[serde(default)]
    id: u64,
}

/// [`Snapshot`] borrowed, for writing.
#[derive(Serialize)]
struct SnapshotView<'a> {
    applied_generation: Option<u64>,
    desired: &'a DesiredState,
    id: u64,
}

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum JournalLine {
    /// The first line: the snapshot this journal continues.
    Start { snapshot: u64 },
    /// A pass: the diffs received since the previous line, and the generation applied.
    Pass {
        applied_generation: Option<u64>,
        diffs: Vec<DiffSpec>,
    },
}

impl StateCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateCache {
            dir: dir.into(),
            journal_base: JournalBase::Nothing,
            journal: None,
            journal_bytes: 0,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL)
    }

    /// The cached state, the journal replayed onto the snapshot; `None` when there is no
    /// snapshot yet. A journal that cannot be replayed to its end is used as far as it
    /// goes (with a warning), and the next [`StateCache::record`] writes a new snapshot.
    pub fn load(&mut self) -> anyhow::Result<Option<Cached>> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let snapshot: Snapshot = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid state cache", path.display()))?;
        let mut cached = Cached {
            applied_generation: snapshot.applied_generation,
            desired: snapshot.desired,
        };
        let replay = self.replay(snapshot.id, &mut cached);
        let continues = match replay {
            Ok(continues) => continues,
            Err(problem) => {
                tracing::warn!(
                    journal = %self.journal_path().display(),
                    generation = cached.desired.generation,
                    "the state cache's journal is used up to where it can be: {problem:#}"
                );
                false
            }
        };
        self.journal_base = if continues {
            JournalBase::Snapshot(SnapshotInfo {
                id: snapshot.id,
                bytes: bytes.len() as u64,
            })
        } else {
            JournalBase::Nothing
        };
        Ok(Some(cached))
    }

    /// Records the state after a pass: the diffs `unsaved` holds in a journal line; or,
    /// when the state was replaced, when nothing was recorded yet, or when the journal
    /// outgrew the snapshot, `state` whole as a new snapshot.
    pub fn record(
        &mut self,
        applied_generation: Option<u64>,
        state: &DesiredState,
        unsaved: &Unsaved,
    ) -> anyhow::Result<Written> {
        let (JournalBase::Snapshot(snapshot), Unsaved::Diffs(diffs)) = (self.journal_base, unsaved)
        else {
            self.store(applied_generation, state)?;
            return Ok(Written::Snapshot);
        };
        let line = JournalLine::Pass {
            applied_generation,
            diffs: diffs.iter().map(DiffSpec::from).collect(),
        };
        if let Err(error) = self.append(snapshot.id, &line) {
            // A line may be half-written: the next record starts over with a snapshot.
            self.journal_base = JournalBase::Nothing;
            self.journal = None;
            return Err(error)
                .with_context(|| format!("cannot append to {}", self.journal_path().display()));
        }
        if self.journal_bytes > snapshot.bytes.max(MIN_JOURNAL_LIMIT) {
            self.store(applied_generation, state)?;
            return Ok(Written::Snapshot);
        }
        Ok(Written::Journal)
    }

    /// Replaces the cache with a snapshot of `state` (and no journal), creating the
    /// directory if needed.
    pub fn store(
        &mut self,
        applied_generation: Option<u64>,
        state: &DesiredState,
    ) -> anyhow::Result<()> {
        let id = match self.journal_base {
            JournalBase::Snapshot(s) => s.id.wrapping_add(1),
            JournalBase::Nothing => 1,
        };
        let view = SnapshotView {
            applied_generation,
            desired: state,
            id,
        };
        let bytes = serde_json::to_vec(&view).context("cannot serialise the state cache")?;
        self.journal = None;
        self.journal_bytes = 0;
        self.journal_base = JournalBase::Nothing;
        write_snapshot(&self.dir, &bytes)
            .with_context(|| format!("cannot write {}", self.path().display()))?;
        self.journal_base = JournalBase::Snapshot(SnapshotInfo {
            id,
            bytes: bytes.len() as u64,
        });
        Ok(())
    }

    /// Replays the journal onto `cached` (the snapshot named `id`). `Ok(true)` when it
    /// was read to its end and can be appended to; `Ok(false)` when it belongs to another
    /// snapshot; `Err` says where the replay stopped.
    fn replay(&mut self, id: u64, cached: &mut Cached) -> anyhow::Result<bool> {
        let path = self.journal_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e).context("cannot read it"),
        };
        let mut lines = text.split_inclusive('\n');
        match lines.next().map(serde_json::from_str::<JournalLine>) {
            None => return Ok(true),
            Some(Ok(JournalLine::Start { snapshot })) if snapshot == id => {}
            // Left behind by a fold that did not finish: the snapshot already holds it.
            Some(Ok(JournalLine::Start { .. })) => return Ok(false),
            Some(_) => anyhow::bail!("its first line does not name a snapshot"),
        }
        for (number, line) in lines.enumerate().map(|(i, l)| (i + 2, l)) {
            if !line.ends_with('\n') {
                anyhow::bail!("line {number} is incomplete (an append was interrupted)");
            }
            let Ok(JournalLine::Pass {
                applied_generation,
                diffs,
            }) = serde_json::from_str(line)
            else {
                anyhow::bail!("line {number} is not a pass");
            };
            for spec in &diffs {
                let diff = spec
                    .parse()
                    .map_err(|e| anyhow::anyhow!("line {number} holds an invalid diff: {e}"))?;
                diff.apply_in_place(&mut cached.desired)
                    .with_context(|| format!("line {number}"))?;
            }
            cached.applied_generation = applied_generation;
        }
        self.journal_bytes = text.len() as u64;
        Ok(true)
    }

    /// Appends `line` to the journal of snapshot `id`, starting the journal if needed, and
    /// makes it durable.
    fn append(&mut self, id: u64, line: &JournalLine) -> io::Result<()> {
        let mut text = serde_json::to_vec(line)?;
        text.push(b'\n');
        let file = match &mut self.journal {
            Some(file) => file,
            None => {
                let file = self.open_journal(id)?;
                self.journal.insert(file)
            }
        };
        file.write_all(&text)?;
        file.sync_data()?;
        self.journal_bytes += text.len() as u64;
        Ok(())
    }

    /// Opens the journal for appending; a new one starts with the snapshot's id, and its
    /// directory entry is made durable.
    fn open_journal(&mut self, id: u64) -> io::Result<File> {
        let path = self.journal_path();
        let mut file = OpenOptions::new().append(true).create(true).open(&path)?;
        if file.metadata()?.len() == 0 {
            let mut start = serde_json::to_vec(&JournalLine::Start { snapshot: id })?;
            start.push(b'\n');
            file.write_all(&start)?;
            file.sync_data()?;
            File::open(&self.dir)?.sync_all()?;
            self.journal_bytes = start.len() as u64;
        }
        Ok(file)
    }
}

/// Writes the snapshot atomically and removes the journal it replaces.
fn write_snapshot(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{SNAPSHOT}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join(SNAPSHOT))?;
        match fs::remove_file(dir.join(JOURNAL)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;

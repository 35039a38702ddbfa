//! What the server keeps in memory about agents: when each director was last seen, the
//! serialised desired-state document and the last changes answer per cluster (so the
//! agents a commit wakes share one load), the statistics store, and the background task
//! that persists heartbeats and turns statistics into history. `reports.rs` writes the
//! agents' apply reports as group commits; `applied.rs` keeps what their long-polls say
//! they applied.

pub mod applied;
pub mod health;
pub mod reports;
pub mod state_changes;
pub mod stats;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use lvs_model::spec::DocumentView;
use tokio::sync::watch;

use crate::db::agent_tokens::TokenOwner;
use crate::db::{
    clusters, desired_state, director_status, now_millis, real_server_hosts, stats_history,
    Announced, Db, Generation,
};
pub use applied::Applied;
use applied::AppliedByPoll;
use health::HealthStore;
use state_changes::{CachedChanges, ChangesKey, StateChanges};
use stats::{Resolution, StatsStore, FLUSH_EVERY};

/// A director is online while its agent was seen this recently: three of the agent's
/// 10-second statistics intervals, so one or two lost reports do not flap it.
pub const ONLINE_WITHIN: Duration = Duration::from_secs(30);

/// A real-server host is offline once its agent was not seen for this long: three of the
/// longest long-polls it may hold (120 s, `api::agent::MAX_POLL_SECONDS`), between which it
/// is seen at least once.
pub const HOST_OFFLINE_AFTER: Duration = Duration::from_secs(3 * 120);

/// The resolution of the finest statistics history, and how often it is aggregated.
pub const STATS_INTERVAL: Duration = Duration::from_secs(10);

/// Tunables of the agent protocol; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct AgentOptions {
    /// See [`ONLINE_WITHIN`].
    pub online_within: Duration,
    /// See [`STATS_INTERVAL`].
    pub stats_interval: Duration,
    /// See [`HOST_OFFLINE_AFTER`].
    pub host_offline_after: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            online_within: ONLINE_WITHIN,
            stats_interval: STATS_INTERVAL,
            host_offline_after: HOST_OFFLINE_AFTER,
        }
    }
}

impl AgentOptions {
    pub fn online_within_millis(&self) -> i64 {
        i64::try_from(self.online_within.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn host_offline_after_millis(&self) -> i64 {
        i64::try_from(self.host_offline_after.as_millis()).unwrap_or(i64::MAX)
    }
}

/// A cluster's desired-state document as served to agents.
#[derive(Debug, Clone)]
pub struct Document {
    pub generation: u64,
    pub json: Bytes,
}

#[derive(Debug)]
struct CachedDocument {
    cluster_created_at: i64,
    document: Document,
}

/// What is kept of one cluster for its agents. The agents a commit wakes queue on these
/// locks and share what the first one loaded; the document and the changes have a lock
/// each, so a new agent's document load does not hold up the others' changes.
#[derive(Debug, Default)]
struct ClusterCache {
    document: tokio::sync::Mutex<Option<CachedDocument>>,
    changes: tokio::sync::Mutex<Option<CachedChanges>>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Agents {
    pub options: AgentOptions,
    /// Director id -> (last seen, whether that is already in the database).
    seen: Mutex<HashMap<i64, (i64, bool)>>,
    /// Likewise for real-server hosts, by host id.
    host_seen: Mutex<HashMap<i64, (i64, bool)>>,
    applied: AppliedByPoll,
    clusters: Mutex<HashMap<i64, Arc<ClusterCache>>>,
    pub stats: StatsStore,
    pub health: HealthStore,
    stopping: watch::Receiver<bool>,
}

impl Agents {
    /// `stopping` turns true when the server shuts down, which ends long-polls.
    pub fn new(options: AgentOptions, stopping: watch::Receiver<bool>) -> anyhow::Result<Agents> {
        Ok(Agents {
            options,
            seen: Mutex::default(),
            host_seen: Mutex::default(),
            applied: AppliedByPoll::default(),
            clusters: Mutex::default(),
            stats: StatsStore::new(options.stats_interval)?,
            health: HealthStore::default(),
            stopping,
        })
    }

    /// Records a request from the director's agent (a heartbeat); persisted by the
    /// background task within one statistics interval.
    pub fn seen(&self, director_id: i64, at: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = seen.entry(director_id).or_insert((at, false));
        if at >= entry.0 {
            *entry = (at, false);
        }
    }

    /// Records a request from a real-server host's agent, persisted like directors'
    /// heartbeats.
    pub fn host_seen(&self, host_id: i64, at: i64) {
        let mut seen = self
            .host_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = seen.entry(host_id).or_insert((at, false));
        if at >= entry.0 {
            *entry = (at, false);
        }
    }

    /// When the real-server host's agent was last seen by this process.
    pub fn host_last_seen(&self, host_id: i64) -> Option<i64> {
        let seen = self
            .host_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        seen.get(&host_id).map(|(at, _)| *at)
    }

    /// The real-server host was deleted.
    pub fn forget_host(&self, host_id: i64) {
        self.host_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&host_id);
    }

    /// Records that the director's agent applied `generation` completely (said by a
    /// long-poll at `at`): the director's status shows it like a report that succeeded,
    /// unless a report came later. Persisted with the heartbeats. See [`applied`].
    pub fn applied(&self, director_id: i64, generation: Generation, at: i64) {
        self.applied.note(director_id, generation, at);
    }

    /// What the director's agent last said it applied on a long-poll to this process.
    pub fn last_applied(&self, director_id: i64) -> Option<Applied> {
        self.applied.last(director_id)
    }

    /// When the director's agent was last seen by this process.
    pub fn last_seen(&self, director_id: i64) -> Option<i64> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.get(&director_id).map(|(at, _)| *at)
    }

    /// Whether a director last seen at `last_seen` counts as online at `now`.
    pub fn is_online(&self, last_seen: Option<i64>, now: i64) -> bool {
        last_seen
            .is_some_and(|seen| now.saturating_sub(seen) <= self.options.online_within_millis())
    }

    /// A receiver that turns true when the server is shutting down.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.clone()
    }

    /// The director was deleted.
    pub fn forget_director(&self, director_id: i64) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&director_id);
        self.applied.forget(director_id);
        self.stats.forget_director(director_id);
        self.health.forget_director(director_id);
    }

    /// The cluster was deleted (its directors with it).
    pub fn forget_cluster(&self, cluster_id: i64, director_ids: &[i64]) {
        for id in director_ids {
            self.forget_director(*id);
        }
        self.clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&cluster_id);
        self.stats.forget_cluster(cluster_id);
    }

    /// The cluster's current desired-state document, or `None` if it no longer exists.
    /// Loaded and serialised once per generation: the agents a commit wakes all at once
    /// queue on the cluster's document lock and then share the first one's bytes, without
    /// a read each when `at` (the generation their poll was woken with) is the one cached.
    pub async fn document(
        &self,
        db: &Db,
        owner: &TokenOwner,
        at: u64,
    ) -> anyhow::Result<Option<Document>> {
        let cache = self.cluster_cache(owner.cluster_id);
        let mut cached = cache.document.lock().await;
        let is_current = |c: &CachedDocument, created_at: i64, generation: u64| {
            c.document.generation == generation && c.cluster_created_at == created_at
        };
        if let Some(hit) = cached
            .as_ref()
            .filter(|c| is_current(c, owner.cluster_created_at, at))
        {
            return Ok(Some(hit.document.clone()));
        }
        let mut tx = db.read().await?;
        let Some(cluster) = clusters::get_by_id(&mut tx, owner.cluster_id).await? else {
            return Ok(None);
        };
        if let Some(hit) = cached
            .as_ref()
            .filter(|c| is_current(c, cluster.created_at, cluster.generation()))
        {
            return Ok(Some(hit.document.clone()));
        }
        let loaded = desired_state::load(&mut tx, &cluster).await?;
        drop(tx);
        let size = 160 * loaded.state.real_server_count() + 200 * loaded.state.services().len();
        let mut json = Vec::with_capacity(size);
        serde_json::to_writer(
            &mut json,
            &DocumentView {
                cluster: Some(&cluster.name),
                state: &loaded.state,
            },
        )?;
        let document = Document {
            generation: cluster.generation(),
            json: Bytes::from(json),
        };
        *cached = Some(CachedDocument {
            cluster_created_at: cluster.created_at,
            document: document.clone(),
        });
        Ok(Some(document))
    }

    /// The changes from generation `after` to the cluster's current one (at most
    /// [`state_changes::MAX_CHANGED_GENERATIONS`]), or `None` when the whole document should be
    /// sent instead: the cluster is not ahead of `after`, too far ahead, a diff in between
    /// is missing or truncated, or the cluster no longer exists. Read once per `after` and
    /// generation, like [`Agents::document`]: the agents a commit wakes all ask with the
    /// same `after`, and those woken with generation `at` when it is cached read nothing.
    /// Nor does the first of them when `at` is one past `after` and `announced` (the
    /// commit's announcement) carries its diff.
    pub async fn changes(
        &self,
        db: &Db,
        owner: &TokenOwner,
        after: u64,
        at: u64,
        announced: Option<&Announced>,
    ) -> anyhow::Result<Option<StateChanges>> {
        let cache = self.cluster_cache(owner.cluster_id);
        let mut cached = cache.changes.lock().await;
        let woken_with = ChangesKey {
            cluster_created_at: owner.cluster_created_at,
            from_generation: after,
            generation: at,
        };
        if let Some(hit) = cached.as_ref().filter(|c| c.key == woken_with) {
            return Ok(hit.changes.clone());
        }
        let announced_diff = announced
            .filter(|a| {
                a.cluster_created_at == owner.cluster_created_at
                    && a.generation == at
                    && after.checked_add(1) == Some(at)
            })
            .and_then(|a| a.diff.as_deref());
        if let Some(diff) = announced_diff {
            let changes = state_changes::announced(woken_with, diff)?;
            *cached = Some(CachedChanges {
                key: woken_with,
                changes: changes.clone(),
            });
            return Ok(changes);
        }
        let mut tx = db.read().await?;
        let Some(cluster) = clusters::get_by_id(&mut tx, owner.cluster_id).await? else {
            return Ok(None);
        };
        let key = ChangesKey::new(&cluster, after);
        if !key.in_reach() {
            // Left out of the cache, which serves the agents that are in reach.
            return Ok(None);
        }
        if let Some(hit) = cached.as_ref().filter(|c| c.key == key) {
            return Ok(hit.changes.clone());
        }
        let loaded = state_changes::load(&mut tx, owner.cluster_id, key).await?;
        *cached = Some(CachedChanges {
            key,
            changes: loaded.clone(),
        });
        Ok(loaded)
    }

    /// The cluster's cache, created on first use (and dropped with the cluster).
    fn cluster_cache(&self, cluster_id: i64) -> Arc<ClusterCache> {
        self.clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(cluster_id)
            .or_default()
            .clone()
    }

    /// Every statistics interval: persists the heartbeats seen since the last run (one
    /// transaction) and aggregates the latest statistics into the history. Runs until the
    /// task is aborted.
    pub async fn run_background(self: Arc<Self>, db: Db) {
        let mut ticks = tokio::time::interval(self.options.stats_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = self.persist_heartbeats(&db).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot persist agent heartbeats"
                );
            }
            if let Err(error) = self.aggregate_stats().await {
                tracing::error!("aggregating statistics failed: {error:#}");
            }
        }
    }

    /// One aggregation step: summing millions of values of a hundred big reports at low
    /// priority, off the API; storing the sums, under the locks the API reads through, at
    /// normal priority.
    async fn aggregate_stats(self: &Arc<Self>) -> anyhow::Result<()> {
        let agents = Arc::clone(self);
        let sums = self
            .stats
            .off_api(move || {
                let fresh_within = agents.options.online_within_millis();
                agents.stats.sum(now_millis(), fresh_within)
            })
            .await?;
        let agents = Arc::clone(self);
        tokio::task::spawn_blocking(move || agents.stats.store(sums)).await?;
        Ok(())
    }

    /// Loads the saved statistics history, then every [`FLUSH_EVERY`] statistics intervals
    /// saves what changed. Runs until the task is aborted.
    pub async fn run_history(self: Arc<Self>, db: Db) {
        let started = std::time::Instant::now();
        match self.load_stats_history(&db).await {
            Ok(rows) => tracing::info!(
                rows,
                elapsed_ms = started.elapsed().as_millis(),
                "statistics history loaded"
            ),
            Err(error) => tracing::error!("loading the statistics history failed: {error:#}"),
        }
        // Even after a failure: what is aggregated from now on is worth saving.
        self.stats.loaded();
        let mut ticks = tokio::time::interval(self.options.stats_interval * FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = self.flush_stats_history(&db).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot save the statistics history"
                );
            }
        }
    }

    /// Prunes the stored history to what the rings keep, then fills them from it a page at
    /// a time. Returns the rows loaded.
    pub async fn load_stats_history(&self, db: &Db) -> anyhow::Result<u64> {
        const PAGE: i64 = 5000;
        let now = now_millis();
        let mut tx = db.write().await?;
        stats_history::keep_only_steps(&mut tx, self.stats.steps()).await?;
        for resolution in Resolution::ALL {
            let step = self.stats.step_millis(resolution);
            let before = self.stats.kept_from_millis(resolution, now);
            stats_history::prune(&mut tx, step, before).await?;
        }
        tx.commit().await?;
        let mut after = stats_history::After::default();
        let mut rows = 0;
        loop {
            let mut tx = db.read().await?;
            let blocks = stats_history::page(&mut tx, &after, PAGE).await?;
            drop(tx);
            let Some(last) = blocks.last() else {
                return Ok(rows);
            };
            after = last.key();
            rows += blocks.len() as u64;
            let full = blocks.len() as i64 == PAGE;
            let steps = self.stats.steps();
            let loaded = self
                .stats
                .off_api(move || stats::Loaded::decode(blocks, steps))
                .await?;
            self.stats.fill(loaded);
            if !full {
                return Ok(rows);
            }
        }
    }

    /// Saves the history's points changed since the last flush, [`FLUSH_ROWS_PER_TX`]
    /// blocks per transaction so that API writes get the writer in between, then prunes
    /// what the rings no longer keep. Points count as saved once every block is written: a
    /// failure leaves them to the next flush, which rewrites the same rows. Does nothing
    /// until the saved history is loaded, which a flush would overwrite.
    pub async fn flush_stats_history(self: &Arc<Self>, db: &Db) -> anyhow::Result<Flushed> {
        if !self.stats.is_loaded() {
            return Ok(Flushed::default());
        }
        let agents = Arc::clone(self);
        let unsaved = tokio::task::spawn_blocking(move || agents.stats.unsaved()).await?;
        let (unsaved, blocks) = self
            .stats
            .off_api(move || {
                let blocks = unsaved.encode();
                (unsaved, blocks)
            })
            .await?;
        let now = now_millis();
        let mut rows = 0;
        for chunk in blocks.chunks(FLUSH_ROWS_PER_TX) {
            let mut tx = db.write().await?;
            rows += stats_history::put(&mut tx, chunk).await?;
            tx.commit().await?;
        }
        let mut tx = db.write().await?;
        for resolution in Resolution::ALL {
            let step = self.stats.step_millis(resolution);
            let before = self.stats.kept_from_millis(resolution, now);
            stats_history::prune(&mut tx, step, before).await?;
        }
        tx.commit().await?;
        self.stats.saved(&unsaved);
        let bytes = blocks.iter().map(|b| b.points.len() as u64).sum();
        // Freeing megabytes of blocks delays nobody there.
        self.stats.off_api(move || drop(blocks)).await?;
        Ok(Flushed { rows, bytes })
    }

    /// Writes the heartbeats and applied generations not yet in the database, in one
    /// transaction: every statistics interval, and once more at shutdown.
    pub async fn persist_heartbeats(&self, db: &Db) -> anyhow::Result<()> {
        let unseen = unsaved(&self.seen);
        let hosts_unseen = unsaved(&self.host_seen);
        let unapplied = self.applied.unsaved();
        if unseen.is_empty() && hosts_unseen.is_empty() && unapplied.is_empty() {
            return Ok(());
        }
        let mut tx = db.write().await?;
        for (director_id, at) in &unseen {
            // A director deleted meanwhile has no row to attach this to.
            match director_status::seen(&mut tx, *director_id, *at).await {
                Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {}
                result => result?,
            }
        }
        for (host_id, at) in &hosts_unseen {
            // A host deleted meanwhile updates no row.
            real_server_hosts::seen(&mut tx, *host_id, *at).await?;
        }
        unapplied.write(&mut tx).await?;
        tx.commit().await?;
        saved(&self.seen, unseen);
        saved(&self.host_seen, hosts_unseen);
        self.applied.saved(unapplied);
        Ok(())
    }
}

/// Blocks of statistics history written per transaction. At 10,000 services a minute's
/// flush is 40,000 blocks; a transaction of 1,000 holds the single writer for about 35 ms
/// (34 µs a block, measured in a debug build), the longest an API write waits for it.
pub const FLUSH_ROWS_PER_TX: usize = 1_000;

/// What a flush of the statistics history wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Blocks written.
    pub rows: u64,
    /// Bytes of points in them.
    pub bytes: u64,
}

/// The heartbeats of `seen` not yet in the database, as (id, when).
fn unsaved(seen: &Mutex<HashMap<i64, (i64, bool)>>) -> Vec<(i64, i64)> {
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(_, (_, saved))| !saved)
        .map(|(id, (at, _))| (*id, *at))
        .collect()
}

/// Marks `written` saved in `seen`, unless a newer heartbeat came meanwhile.
fn saved(seen: &Mutex<HashMap<i64, (i64, bool)>>, written: Vec<(i64, i64)>) {
    let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    for (id, at) in written {
        if let Some(entry) = seen.get_mut(&id).filter(|e| e.0 == at) {
            entry.1 = true;
        }
    }
}

//! Statistics from agents: the latest report of every director, and a bounded history per
//! service summed over its cluster's directors, in memory and saved in the database.
//!
//! Ingestion only swaps the director's latest report (an `Arc`) under a lock, so a flood of
//! reports costs the API nothing but their parsing. Once per interval the background task
//! sums the latest report of every director seen within the online threshold, per cluster
//! and service, into three rings per service (`ring.rs`): [`FINE_POINTS`] points at the
//! interval (10 s: one hour), [`COARSE_POINTS`] at [`COARSE_FACTOR`] intervals (1 min: a
//! day) and [`WEEK_POINTS`] at [`WEEK_FACTOR`] coarse points (15 min: a week), each coarser
//! point the mean of its finer ones. A point is six `f32`s (24 bytes), so a service's
//! history takes (360 + 1,440 + 672) x 24 = 58 KB whatever the number of directors; 10,000
//! services take 590 MB. History is pruned when its newest week point leaves the week, and
//! latest reports when older than a day.
//!
//! The history survives a restart: every [`FLUSH_EVERY`] intervals (a minute) the points
//! changed since are written to the `stats_history` table in blocks (`blocks.rs`), in
//! transactions short enough not to hold up API writes, and once more at a graceful shutdown; at start the stored blocks are loaded
//! while the server already answers. A crash loses at most the last minute. The latest
//! reports and the clusters' totals are not saved: agents send them again within an
//! interval.

use std::collections::HashMap;
mod blocks;
mod ring;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lvs_model::agent::StatsReport;

use crate::low_priority::LowPriority;
use blocks::bucket_millis;
pub use blocks::{Loaded, Unsaved, POINT_BYTES};
use ring::ServiceHistory;

/// Points of the fine history (10 s for an hour).
pub const FINE_POINTS: usize = 360;
/// Fine intervals per coarse point (1 min).
pub const COARSE_FACTOR: u64 = 6;
/// Points of the coarse history (1 min for a day).
pub const COARSE_POINTS: usize = 1440;
/// Coarse points per week point (15 min).
pub const WEEK_FACTOR: u64 = 15;
/// Points of the week history (15 min for 7 days): 16 KB a service, a quarter more than
/// the other two rings together. A week graph 480 px wide shows 1.4 points per pixel;
/// 10 minutes would cost 24 KB for detail the graph cannot draw.
pub const WEEK_POINTS: usize = 672;

/// Intervals between flushes of the history to the database (a minute): what a crash
/// loses at most. A flush rewrites the blocks its points are in, about 1 KB a service.
pub const FLUSH_EVERY: u32 = 6;

/// The values of a history point, in order.
pub const FIELDS: usize = 6;
/// Connections/s, packets in/s, packets out/s, bytes in/s, bytes out/s, active connections.
pub type Values = [f32; FIELDS];

const EMPTY: Values = [f32::NAN; FIELDS];

/// Per cluster and service key, the sum of the directors' latest reports for one interval.
#[derive(Debug)]
pub struct Sums {
    bucket: u64,
    sums: HashMap<i64, HashMap<String, [f64; FIELDS]>>,
}

/// A director's last statistics report.
#[derive(Debug, Clone)]
pub struct Latest {
    pub cluster_id: i64,
    pub received_at: i64,
    pub report: Arc<StatsReport>,
}

/// History resolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Fine,
    Coarse,
    Week,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Fine, Resolution::Coarse, Resolution::Week];

    fn index(self) -> usize {
        self as usize
    }

    /// Points kept.
    pub fn points(self) -> usize {
        match self {
            Resolution::Fine => FINE_POINTS,
            Resolution::Coarse => COARSE_POINTS,
            Resolution::Week => WEEK_POINTS,
        }
    }

    /// Intervals per point.
    fn factor(self) -> u64 {
        match self {
            Resolution::Fine => 1,
            Resolution::Coarse => COARSE_FACTOR,
            Resolution::Week => COARSE_FACTOR * WEEK_FACTOR,
        }
    }

    /// Points per stored block: the points of one point of the next resolution (a minute of
    /// 10 s, a quarter hour of minutes), and 4 h of week points. A flush rewrites the
    /// blocks it changed, so small blocks keep it small; the 4 h keep a week to 42 rows.
    fn block_points(self) -> u64 {
        match self {
            Resolution::Fine => COARSE_FACTOR,
            Resolution::Coarse => WEEK_FACTOR,
            Resolution::Week => 16,
        }
    }
}

/// One point of a service's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Start of the point's interval, Unix milliseconds.
    pub at: i64,
    pub values: Values,
}

#[derive(Debug)]
pub struct StatsStore {
    interval_ms: i64,
    latest: Mutex<HashMap<i64, Latest>>,
    /// Cluster id -> service key -> history.
    history: Mutex<HashMap<i64, HashMap<String, ServiceHistory>>>,
    /// Cluster id -> the last aggregation's sum over its services.
    totals: Mutex<HashMap<i64, Point>>,
    /// Whether the saved history was loaded, before which nothing is saved.
    loaded: AtomicBool,
    /// Reports read or parsed at once: see [`StatsStore::ingestion_turn`].
    ingesting: tokio::sync::Semaphore,
    bulk: LowPriority,
}

impl StatsStore {
    pub fn new(interval: Duration) -> anyhow::Result<StatsStore> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let bulk = LowPriority::new("stats-bulk", cpus)?;
        Ok(StatsStore {
            interval_ms: i64::try_from(interval.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            latest: Mutex::default(),
            history: Mutex::default(),
            totals: Mutex::default(),
            loaded: AtomicBool::new(false),
            // One report parsing on each thread, and one read and waiting for it.
            ingesting: tokio::sync::Semaphore::new(2 * bulk.threads()),
            bulk,
        })
    }

    /// Waits for the turn to read and parse a report. A report of 10,000 services is tens
    /// of megabytes, and a hundred directors send one every 10 s: a burst of them waits in
    /// the senders' sockets, not in memory.
    pub async fn ingestion_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.ingesting
            .acquire()
            .await
            .expect("the ingestion semaphore is never closed")
    }

    /// Runs `work` (parsing a report, freeing one, aggregating) on a thread of the lowest
    /// priority, which uses the CPU time the API leaves: a flood of reports slows
    /// ingestion, never the API.
    pub async fn off_api<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        self.bulk.run(work).await
    }

    /// The saved history is loaded (or failed to load): from now on flushes save.
    pub fn loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Keeps `report` as the director's latest; returns the one it replaces, for the
    /// caller to drop where freeing a big report delays nobody.
    #[must_use]
    pub fn record(&self, director_id: i64, latest: Latest) -> Option<Latest> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(director_id, latest)
    }

    pub fn latest(&self, director_id: i64) -> Option<Latest> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&director_id)
            .cloned()
    }

    pub fn forget_director(&self, director_id: i64) {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&director_id);
    }

    pub fn forget_cluster(&self, cluster_id: i64) {
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&cluster_id);
    }

    /// The milliseconds a point of `resolution` covers.
    pub fn step_millis(&self, resolution: Resolution) -> i64 {
        self.interval_ms * resolution.factor() as i64
    }

    /// A service's history at `resolution`, oldest first, only the intervals that had data.
    pub fn history(&self, cluster_id: i64, key: &str, resolution: Resolution) -> Vec<Point> {
        self.recent(cluster_id, key, resolution, usize::MAX)
    }

    /// The points of the newest `count` intervals of [`StatsStore::history`] (an hour of
    /// minutes is 60), oldest first.
    pub fn recent(
        &self,
        cluster_id: i64,
        key: &str,
        resolution: Resolution,
        count: usize,
    ) -> Vec<Point> {
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(service) = history.get(&cluster_id).and_then(|c| c.get(key)) else {
            return Vec::new();
        };
        let step = self.step_millis(resolution);
        service
            .ring(resolution)
            .points(u64::try_from(count).unwrap_or(u64::MAX))
            .map(|(bucket, values)| Point {
                at: bucket_millis(bucket, step),
                values,
            })
            .collect()
    }

    /// The cluster's services summed at the last aggregation; `None` when no director of
    /// it reported recently.
    pub fn cluster_totals(&self, cluster_id: i64) -> Option<Point> {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cluster_id)
            .copied()
    }

    /// The first half of an aggregation step at `now`: the latest report of every director
    /// received within `fresh_within` ms, summed per cluster and service. The heavy half,
    /// which holds no lock for long: run at low priority.
    pub fn sum(&self, now: i64, fresh_within: i64) -> Sums {
        let bucket = u64::try_from(now / self.interval_ms).unwrap_or(0);
        let day = self.interval_ms * (COARSE_POINTS as i64) * COARSE_FACTOR as i64;
        let reports: Vec<Latest> = {
            let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            latest.retain(|_, l| now - l.received_at <= day);
            latest
                .values()
                .filter(|l| now - l.received_at <= fresh_within)
                .cloned()
                .collect()
        };
        let mut sums: HashMap<i64, HashMap<String, [f64; FIELDS]>> = HashMap::new();
        for latest in &reports {
            let cluster = sums.entry(latest.cluster_id).or_default();
            for service in &latest.report.services {
                let sum = match cluster.get_mut(&service.key) {
                    Some(sum) => sum,
                    None => cluster.entry(service.key.clone()).or_insert([0.0; FIELDS]),
                };
                let rates = &service.rates;
                let active: u64 = service
                    .real_servers
                    .iter()
                    .map(|r| u64::from(r.active_connections))
                    .sum();
                for (total, value) in sum.iter_mut().zip([
                    rates.connections,
                    rates.packets_in,
                    rates.packets_out,
                    rates.bytes_in,
                    rates.bytes_out,
                    active,
                ]) {
                    *total += value as f64;
                }
            }
        }
        Sums { bucket, sums }
    }

    /// The second half of an aggregation step: `sums` become the current interval's points,
    /// under the locks the API reads through, so at the API's priority.
    pub fn store(&self, sums: Sums) {
        let Sums { bucket, sums } = sums;
        let at = i64::try_from(bucket)
            .unwrap_or(i64::MAX)
            .saturating_mul(self.interval_ms);
        let totals = sums
            .iter()
            .map(|(cluster_id, services)| {
                let mut total = [0.0_f64; FIELDS];
                for sum in services.values() {
                    for (t, v) in total.iter_mut().zip(sum) {
                        *t += v;
                    }
                }
                let values = total.map(|v| v as f32);
                (*cluster_id, Point { at, values })
            })
            .collect();
        *self.totals.lock().unwrap_or_else(PoisonError::into_inner) = totals;
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        for (cluster_id, services) in sums {
            let cluster = history.entry(cluster_id).or_default();
            for (key, sum) in services {
                let service = cluster.entry(key).or_insert_with(ServiceHistory::new);
                record(service, bucket, sum.map(|v| v as f32));
            }
        }
        let week = Resolution::Week;
        let oldest = (bucket / week.factor()).saturating_sub(week.points() as u64);
        history.retain(|_, services| {
            services.retain(|_, s| s.ring(week).newest.is_some_and(|n| n > oldest));
            !services.is_empty()
        });
    }

    /// Records `values` for interval `bucket` of one service, as [`StatsStore::store`] does.
    #[cfg(test)]
    fn put_for_test(&self, cluster_id: i64, key: &str, bucket: u64, values: Values) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let cluster = history.entry(cluster_id).or_default();
        let service = cluster
            .entry(key.to_owned())
            .or_insert_with(ServiceHistory::new);
        record(service, bucket, values);
    }

    /// The first interval whose blocks of `resolution` the database keeps at `now`: those
    /// of older ones are pruned.
    pub fn kept_from_millis(&self, resolution: Resolution, now: i64) -> i64 {
        let step = self.step_millis(resolution);
        let kept = (resolution.points() as u64 + resolution.block_points()) as i64;
        now.saturating_sub(kept.saturating_mul(step))
    }
}

/// Interval `bucket`'s `values`, and the means of the coarser points it is in.
fn record(service: &mut ServiceHistory, bucket: u64, values: Values) {
    service.changes += 1;
    service.ring_mut(Resolution::Fine).put(bucket, values);
    let [_, coarse, week] = Resolution::ALL;
    let minute = bucket / coarse.factor();
    let mean = service
        .ring(Resolution::Fine)
        .mean(minute * COARSE_FACTOR..(minute + 1) * COARSE_FACTOR);
    service.ring_mut(coarse).put(minute, mean);
    let quarter = bucket / week.factor();
    let mean = service
        .ring(coarse)
        .mean(quarter * WEEK_FACTOR..(quarter + 1) * WEEK_FACTOR);
    service.ring_mut(week).put(quarter, mean);
}

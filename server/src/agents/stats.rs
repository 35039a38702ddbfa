//! Statistics from agents: the latest report of every director, and a bounded history per
//! service summed over its cluster's directors, all in memory.
//!
//! Ingestion only swaps the director's latest report (an `Arc`) under a lock, so a flood of
//! reports costs the API nothing but their parsing. Once per interval the background task
//! sums the latest report of every director seen within the online threshold, per cluster
//! and service, into two rings per service: [`FINE_POINTS`] points at the interval (10 s:
//! one hour) and [`COARSE_POINTS`] at [`COARSE_FACTOR`] intervals (1 min: a day), each
//! coarse point the mean of its fine ones. A point is six `f32`s (24 bytes), so a service's
//! history takes 1,800 x 24 = 43 KB whatever the number of directors; 10,000 services take
//! 430 MB. History is pruned when its newest coarse point leaves the day, and latest
//! reports when older than a day. Nothing here survives a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lvs_model::agent::StatsReport;

use crate::low_priority::LowPriority;

/// Points of the fine history (10 s for an hour).
pub const FINE_POINTS: usize = 360;
/// Fine intervals per coarse point (1 min).
pub const COARSE_FACTOR: u64 = 6;
/// Points of the coarse history (1 min for a day).
pub const COARSE_POINTS: usize = 1440;

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
        match resolution {
            Resolution::Fine => self.interval_ms,
            Resolution::Coarse => self.interval_ms * COARSE_FACTOR as i64,
        }
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
        let ring = match resolution {
            Resolution::Fine => &service.fine,
            Resolution::Coarse => &service.coarse,
        };
        let step = self.step_millis(resolution);
        ring.points(u64::try_from(count).unwrap_or(u64::MAX))
            .map(|(bucket, values)| Point {
                at: i64::try_from(bucket)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(step),
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
        let coarse_bucket = bucket / COARSE_FACTOR;
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        for (cluster_id, services) in sums {
            let cluster = history.entry(cluster_id).or_default();
            for (key, sum) in services {
                let service = cluster.entry(key).or_insert_with(ServiceHistory::new);
                service.fine.put(bucket, sum.map(|v| v as f32));
                let mean = service
                    .fine
                    .mean(coarse_bucket * COARSE_FACTOR..(coarse_bucket + 1) * COARSE_FACTOR);
                service.coarse.put(coarse_bucket, mean);
            }
        }
        let oldest = coarse_bucket.saturating_sub(COARSE_POINTS as u64);
        history.retain(|_, services| {
            services.retain(|_, s| s.coarse.newest.is_some_and(|n| n > oldest));
            !services.is_empty()
        });
    }
}

#[derive(Debug)]
struct ServiceHistory {
    fine: Ring,
    coarse: Ring,
}

impl ServiceHistory {
    fn new() -> Self {
        ServiceHistory {
            fine: Ring::new(FINE_POINTS),
            coarse: Ring::new(COARSE_POINTS),
        }
    }
}

/// The last `slots.len()` intervals up to `newest`; interval `b` lives in slot
/// `b % len`, NaN when it had no data.
#[derive(Debug)]
struct Ring {
    newest: Option<u64>,
    slots: Box<[Values]>,
}

impl Ring {
    fn new(len: usize) -> Ring {
        Ring {
            newest: None,
            slots: vec![EMPTY; len].into_boxed_slice(),
        }
    }

    fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    fn slot(&self, bucket: u64) -> usize {
        usize::try_from(bucket % self.len()).unwrap_or(0)
    }

    fn put(&mut self, bucket: u64, values: Values) {
        match self.newest {
            Some(newest) if bucket <= newest => {
                if newest - bucket >= self.len() {
                    return;
                }
            }
            newest => {
                // Intervals skipped since the newest had no data.
                let from = newest
                    .map_or(bucket, |n| n + 1)
                    .max((bucket + 1).saturating_sub(self.len()));
                for skipped in from..bucket {
                    let slot = self.slot(skipped);
                    self.slots[slot] = EMPTY;
                }
                self.newest = Some(bucket);
            }
        }
        let slot = self.slot(bucket);
        self.slots[slot] = values;
    }

    fn get(&self, bucket: u64) -> Option<Values> {
        let newest = self.newest?;
        if bucket > newest || newest - bucket >= self.len() {
            return None;
        }
        let values = self.slots[self.slot(bucket)];
        (!values[0].is_nan()).then_some(values)
    }

    /// The mean of the intervals in `buckets` that had data.
    fn mean(&self, buckets: std::ops::Range<u64>) -> Values {
        let mut sum = [0.0_f64; FIELDS];
        let mut count = 0_u32;
        for values in buckets.filter_map(|b| self.get(b)) {
            count += 1;
            for (total, value) in sum.iter_mut().zip(values) {
                *total += f64::from(value);
            }
        }
        if count == 0 {
            return EMPTY;
        }
        sum.map(|v| (v / f64::from(count)) as f32)
    }

    /// Intervals with data among the newest `last`, oldest first.
    fn points(&self, last: u64) -> impl Iterator<Item = (u64, Values)> + '_ {
        let newest = self.newest.unwrap_or(0);
        let count = if self.newest.is_some() {
            self.len().min(newest + 1).min(last)
        } else {
            0
        };
        (newest + 1 - count..=newest)
            .take(usize::try_from(count).unwrap_or(0))
            .filter_map(|b| self.get(b).map(|v| (b, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: f32) -> Values {
        [v; FIELDS]
    }

    #[test]
    fn ring_keeps_the_last_len_intervals_and_forgets_skipped_ones() {
        let mut ring = Ring::new(4);
        ring.put(1, values(1.0));
        ring.put(2, values(2.0));
        assert_eq!(
            ring.points(u64::MAX).map(|p| p.0).collect::<Vec<_>>(),
            [1, 2]
        );
        ring.put(5, values(5.0));
        assert_eq!(
            ring.points(u64::MAX).map(|p| p.0).collect::<Vec<_>>(),
            [2, 5]
        );
        ring.put(4, values(4.0));
        ring.put(1, values(9.0)); // too old: ignored
        assert_eq!(
            ring.points(u64::MAX).map(|p| p.0).collect::<Vec<_>>(),
            [2, 4, 5]
        );
        ring.put(100, values(100.0));
        assert_eq!(
            ring.points(u64::MAX).collect::<Vec<_>>(),
            [(100, values(100.0))]
        );
        assert_eq!(ring.mean(96..101), values(100.0));
    }

    #[test]
    fn mean_ignores_intervals_without_data() {
        let mut ring = Ring::new(10);
        ring.put(0, values(2.0));
        ring.put(2, values(4.0));
        assert_eq!(ring.mean(0..6), values(3.0));
        assert!(ring.mean(7..9)[0].is_nan());
    }
}

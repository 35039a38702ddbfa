//! The history as the database keeps it: blocks of [`Resolution::block_points`] consecutive
//! points, each point six little-endian `f32`s (NaN: no director reported), so a block is
//! a BLOB of at most 24 x 16 bytes. A flush reads the blocks holding unsaved points (under
//! the history's lock, a copy), encodes them off the API, and marks them saved once
//! committed; loading fills the rings from the stored blocks.

use std::sync::PoisonError;

use super::ring::ServiceHistory;
use super::{Resolution, StatsStore, Values, EMPTY, FIELDS};
use crate::db::stats_history::Block;

/// Bytes of one encoded point.
pub const POINT_BYTES: usize = FIELDS * 4;

/// The blocks a flush writes, read at once, not yet encoded.
#[derive(Debug, Default)]
pub struct Unsaved {
    /// Cluster id, service key and [`ServiceHistory::changes`] when read.
    services: Vec<(i64, String, u64)>,
    blocks: Vec<UnsavedBlock>,
}

#[derive(Debug)]
struct UnsavedBlock {
    cluster_id: i64,
    service_key: String,
    step_ms: i64,
    start_ms: i64,
    points: Vec<Values>,
}

impl Unsaved {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The blocks as rows: for a thread of the lowest priority.
    pub fn encode(&self) -> Vec<Block> {
        self.blocks
            .iter()
            .map(|b| Block {
                cluster_id: b.cluster_id,
                service_key: b.service_key.clone(),
                step_ms: b.step_ms,
                start_ms: b.start_ms,
                points: encode(&b.points),
            })
            .collect()
    }
}

/// `points` as stored.
pub fn encode(points: &[Values]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(points.len() * POINT_BYTES);
    for value in points.iter().flatten() {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// The points of a stored block; an error says why it is not one.
pub fn decode(bytes: &[u8], max_points: usize) -> Result<Vec<Values>, String> {
    if bytes.len() % POINT_BYTES != 0 {
        return Err(format!(
            "{} bytes is not a whole number of {POINT_BYTES}-byte points",
            bytes.len()
        ));
    }
    if bytes.len() / POINT_BYTES > max_points {
        return Err(format!(
            "{} points is more than a block's {max_points}",
            bytes.len() / POINT_BYTES
        ));
    }
    Ok(bytes
        .chunks_exact(POINT_BYTES)
        .map(|point| {
            let mut values = EMPTY;
            for (value, bytes) in values.iter_mut().zip(point.chunks_exact(4)) {
                *value = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
            values
        })
        .collect())
}

impl StatsStore {
    /// Copies the blocks holding points not yet saved, under the lock the API reads
    /// through: at the API's priority, and only copies.
    pub fn unsaved(&self) -> Unsaved {
        let history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        let mut unsaved = Unsaved::default();
        for (cluster_id, services) in history.iter() {
            for (key, service) in services.iter().filter(|(_, s)| s.unsaved()) {
                unsaved
                    .services
                    .push((*cluster_id, key.clone(), service.changes));
                for resolution in Resolution::ALL {
                    self.unsaved_blocks(*cluster_id, key, service, resolution, &mut unsaved);
                }
            }
        }
        unsaved
    }

    fn unsaved_blocks(
        &self,
        cluster_id: i64,
        key: &str,
        service: &ServiceHistory,
        resolution: Resolution,
        unsaved: &mut Unsaved,
    ) {
        let ring = service.ring(resolution);
        let (Some(from), Some(newest)) = (ring.unsaved_from, ring.newest) else {
            return;
        };
        let from = from.max((newest + 1).saturating_sub(ring.len()));
        let size = resolution.block_points();
        let step = self.step_millis(resolution);
        for block in from / size..=newest / size {
            let first = block * size;
            let last = (first + size - 1).min(newest);
            unsaved.blocks.push(UnsavedBlock {
                cluster_id,
                service_key: key.to_owned(),
                step_ms: step,
                start_ms: bucket_millis(first, step),
                points: (first..=last)
                    .map(|b| ring.get(b).unwrap_or(EMPTY))
                    .collect(),
            });
        }
    }

    /// `unsaved` is committed: its services' points are saved unless they changed since.
    pub fn saved(&self, unsaved: &Unsaved) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        for (cluster_id, key, changes) in &unsaved.services {
            if let Some(service) = history.get_mut(cluster_id).and_then(|c| c.get_mut(key)) {
                service.saved(*changes);
            }
        }
    }

    /// Fills the rings from stored blocks, keeping what was aggregated since the start.
    pub fn fill(&self, loaded: Loaded) {
        let mut history = self.history.lock().unwrap_or_else(PoisonError::into_inner);
        for block in loaded.blocks {
            let service = history
                .entry(block.cluster_id)
                .or_default()
                .entry(block.service_key)
                .or_insert_with(ServiceHistory::new);
            let ring = service.ring_mut(block.resolution);
            for (bucket, values) in (block.first..).zip(block.points) {
                ring.fill(bucket, values);
            }
        }
    }

    /// The milliseconds a point covers, per resolution.
    pub fn steps(&self) -> [i64; 3] {
        Resolution::ALL.map(|r| self.step_millis(r))
    }
}

/// Stored blocks decoded, for [`StatsStore::fill`].
#[derive(Debug)]
pub struct Loaded {
    blocks: Vec<LoadedBlock>,
}

#[derive(Debug)]
struct LoadedBlock {
    cluster_id: i64,
    service_key: String,
    resolution: Resolution,
    first: u64,
    points: Vec<Values>,
}

impl Loaded {
    /// Decodes `blocks` stored at resolutions of `steps` ([`StatsStore::steps`]): for a
    /// thread of the lowest priority. A block that does not decode is logged and skipped.
    pub fn decode(blocks: Vec<Block>, steps: [i64; 3]) -> Loaded {
        let mut loaded = Vec::with_capacity(blocks.len());
        for block in blocks {
            match decode_block(&block, steps) {
                Ok((resolution, first, points)) => loaded.push(LoadedBlock {
                    cluster_id: block.cluster_id,
                    service_key: block.service_key,
                    resolution,
                    first,
                    points,
                }),
                Err(why) => tracing::warn!(
                    cluster_id = block.cluster_id,
                    service_key = block.service_key,
                    step_ms = block.step_ms,
                    start_ms = block.start_ms,
                    "stored stats_history row is invalid, skipped: {why}"
                ),
            }
        }
        Loaded { blocks: loaded }
    }
}

/// A stored block's resolution, first interval and points.
fn decode_block(block: &Block, steps: [i64; 3]) -> Result<(Resolution, u64, Vec<Values>), String> {
    let resolution = Resolution::ALL
        .into_iter()
        .zip(steps)
        .find(|(_, step)| *step == block.step_ms)
        .map(|(r, _)| r)
        .ok_or_else(|| format!("step_ms {} is no resolution's", block.step_ms))?;
    let size = resolution.block_points();
    let span = block.step_ms.saturating_mul(size as i64);
    if block.start_ms < 0 || block.start_ms % span != 0 {
        return Err(format!(
            "start_ms {} is not a multiple of the block's {span} ms",
            block.start_ms
        ));
    }
    let first = u64::try_from(block.start_ms / block.step_ms).unwrap_or(0);
    let points = decode(&block.points, usize::try_from(size).unwrap_or(usize::MAX))
        .map_err(|why| format!("points: {why}"))?;
    Ok((resolution, first, points))
}

/// The start of interval `bucket` of `step_ms`, Unix ms.
pub(super) fn bucket_millis(bucket: u64, step_ms: i64) -> i64 {
    i64::try_from(bucket)
        .unwrap_or(i64::MAX)
        .saturating_mul(step_ms)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn values(v: f32) -> Values {
        [v, v + 0.5, -v, 1e9 * v, f32::MAX, 0.0]
    }

    #[test]
    fn a_block_decodes_to_what_was_encoded_gaps_included() {
        let points = [values(1.0), EMPTY, values(3.25)];
        let bytes = encode(&points);
        assert_eq!(bytes.len(), 3 * POINT_BYTES);
        // Little-endian f32s, six per point.
        assert_eq!(bytes[..4], 1.0_f32.to_le_bytes());
        assert_eq!(bytes[4..8], 1.5_f32.to_le_bytes());
        let decoded = decode(&bytes, 16).expect("a block");
        assert_eq!(decoded[0], points[0]);
        assert!(decoded[1].iter().all(|v| v.is_nan()));
        assert_eq!(decoded[2], points[2]);
        assert_eq!(decode(&[], 16), Ok(Vec::new()));
    }

    #[test]
    fn a_block_of_the_wrong_size_is_refused_saying_why() {
        assert_eq!(
            decode(&[0; 25], 16),
            Err("25 bytes is not a whole number of 24-byte points".to_owned())
        );
        assert_eq!(
            decode(&encode(&[EMPTY; 3]), 2),
            Err("3 points is more than a block's 2".to_owned())
        );
    }

    fn store() -> StatsStore {
        StatsStore::new(Duration::from_secs(10)).expect("a store")
    }

    #[test]
    fn unsaved_blocks_are_read_until_saved_and_load_into_another_store() {
        let first = store();
        // Seven intervals from 10:00:00 (Unix 36,000 s): two fine blocks of 6.
        let start = 3600;
        for bucket in start..start + 7 {
            first.put_for_test(1, "tcp:10.0.0.1:80", bucket, values(bucket as f32));
        }
        let unsaved = first.unsaved();
        let blocks = unsaved.encode();
        let fine: Vec<_> = blocks.iter().filter(|b| b.step_ms == 10_000).collect();
        assert_eq!(
            fine.iter().map(|b| b.start_ms).collect::<Vec<_>>(),
            [36_000_000, 36_060_000]
        );
        assert_eq!(
            fine.iter().map(|b| b.points.len()).collect::<Vec<_>>(),
            [6 * POINT_BYTES, POINT_BYTES]
        );
        let coarse: Vec<_> = blocks.iter().filter(|b| b.step_ms == 60_000).collect();
        assert_eq!(coarse.len(), 1);
        assert_eq!(coarse[0].points.len(), 2 * POINT_BYTES);
        assert!(blocks.iter().any(|b| b.step_ms == 900_000));

        let second = store();
        second.fill(Loaded::decode(blocks, second.steps()));
        for resolution in Resolution::ALL {
            let loaded = second.history(1, "tcp:10.0.0.1:80", resolution);
            assert!(!loaded.is_empty(), "{resolution:?}");
            assert_eq!(
                loaded,
                first.history(1, "tcp:10.0.0.1:80", resolution),
                "{resolution:?}"
            );
        }
        // Loading marks nothing to write back.
        assert!(second.unsaved().is_empty());

        first.saved(&unsaved);
        assert!(first.unsaved().is_empty());
        first.put_for_test(1, "tcp:10.0.0.1:80", start + 7, values(0.0));
        let again = first.unsaved();
        first.put_for_test(1, "tcp:10.0.0.1:80", start + 8, values(0.0));
        // Changed while being written: still unsaved.
        first.saved(&again);
        assert!(!first.unsaved().is_empty());
    }

    #[test]
    fn invalid_blocks_are_skipped() {
        let store = store();
        let block = |step_ms, start_ms, points| Block {
            cluster_id: 1,
            service_key: "tcp:10.0.0.1:80".to_owned(),
            step_ms,
            start_ms,
            points,
        };
        let blocks = vec![
            block(10_000, 36_000_000, vec![1; 7]),
            block(7, 36_000_000, encode(&[values(1.0)])),
            block(10_000, 36_010_000, encode(&[values(1.0)])),
            block(10_000, 36_000_000, encode(&[values(1.0); 7])),
        ];
        store.fill(Loaded::decode(blocks, store.steps()));
        assert!(store
            .history(1, "tcp:10.0.0.1:80", Resolution::Fine)
            .is_empty());
        let good = vec![block(10_000, 36_000_000, encode(&[values(2.0)]))];
        store.fill(Loaded::decode(good, store.steps()));
        assert_eq!(
            store.history(1, "tcp:10.0.0.1:80", Resolution::Fine)[0].at,
            36_000_000
        );
    }
}

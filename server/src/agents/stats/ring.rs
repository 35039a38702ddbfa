//! A service's history: one ring of points per resolution, and which of its points are not
//! in the database yet.

use super::{Resolution, Values, EMPTY, FIELDS};

#[derive(Debug)]
pub(super) struct ServiceHistory {
    /// Indexed by [`Resolution::index`].
    pub(super) rings: [Ring; 3],
    /// Counts the aggregation steps that changed a point, so a flush knows whether points
    /// changed while it was writing.
    pub(super) changes: u64,
}

impl ServiceHistory {
    pub(super) fn new() -> Self {
        ServiceHistory {
            rings: Resolution::ALL.map(|r| Ring::new(r.points())),
            changes: 0,
        }
    }

    pub(super) fn ring(&self, resolution: Resolution) -> &Ring {
        &self.rings[resolution.index()]
    }

    pub(super) fn ring_mut(&mut self, resolution: Resolution) -> &mut Ring {
        &mut self.rings[resolution.index()]
    }

    /// Whether some point is not in the database yet.
    pub(super) fn unsaved(&self) -> bool {
        self.rings.iter().any(|r| r.unsaved_from.is_some())
    }

    /// The points a flush read at `changes` are in the database: unless more changed since,
    /// nothing is left to write.
    pub(super) fn saved(&mut self, changes: u64) {
        if self.changes == changes {
            for ring in &mut self.rings {
                ring.unsaved_from = None;
            }
        }
    }
}

/// The last `slots.len()` intervals up to `newest`; interval `b` lives in slot
/// `b % len`, NaN when it had no data.
#[derive(Debug)]
pub(super) struct Ring {
    pub(super) newest: Option<u64>,
    slots: Box<[Values]>,
    /// The oldest interval [`Ring::put`] changed since the database last had them all.
    pub(super) unsaved_from: Option<u64>,
}

impl Ring {
    pub(super) fn new(len: usize) -> Ring {
        Ring {
            newest: None,
            slots: vec![EMPTY; len].into_boxed_slice(),
            unsaved_from: None,
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    fn slot(&self, bucket: u64) -> usize {
        usize::try_from(bucket % self.len()).unwrap_or(0)
    }

    /// Sets interval `bucket`, to be saved.
    pub(super) fn put(&mut self, bucket: u64, values: Values) {
        if self.set(bucket, values) {
            self.unsaved_from = Some(self.unsaved_from.map_or(bucket, |u| u.min(bucket)));
        }
    }

    /// Sets interval `bucket` from the database unless it has data already: what was
    /// aggregated since the start is newer.
    pub(super) fn fill(&mut self, bucket: u64, values: Values) {
        if values[0].is_nan() || self.get(bucket).is_some() {
            return;
        }
        self.set(bucket, values);
    }

    /// Whether `bucket` is within the ring (now).
    fn set(&mut self, bucket: u64, values: Values) -> bool {
        match self.newest {
            Some(newest) if bucket <= newest => {
                if newest - bucket >= self.len() {
                    return false;
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
        true
    }

    pub(super) fn get(&self, bucket: u64) -> Option<Values> {
        let newest = self.newest?;
        if bucket > newest || newest - bucket >= self.len() {
            return None;
        }
        let values = self.slots[self.slot(bucket)];
        (!values[0].is_nan()).then_some(values)
    }

    /// The mean of the intervals in `buckets` that had data.
    pub(super) fn mean(&self, buckets: std::ops::Range<u64>) -> Values {
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
    pub(super) fn points(&self, last: u64) -> impl Iterator<Item = (u64, Values)> + '_ {
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

    #[test]
    fn put_marks_the_oldest_unsaved_interval_and_fill_marks_nothing() {
        let mut ring = Ring::new(10);
        ring.fill(3, values(3.0));
        assert_eq!(ring.unsaved_from, None);
        ring.put(8, values(8.0));
        ring.put(5, values(5.0));
        ring.put(9, values(9.0));
        assert_eq!(ring.unsaved_from, Some(5));
        // What was aggregated since the start wins over what is loaded.
        ring.fill(8, values(-1.0));
        ring.fill(7, values(7.0));
        ring.fill(6, [f32::NAN; FIELDS]);
        let points: Vec<_> = ring.points(u64::MAX).collect();
        assert_eq!(
            points,
            [
                (3, values(3.0)),
                (5, values(5.0)),
                (7, values(7.0)),
                (8, values(8.0)),
                (9, values(9.0))
            ]
        );
        // Too old to keep: not to save either.
        ring.put(30, values(30.0));
        ring.unsaved_from = None;
        ring.put(20, values(20.0));
        assert_eq!(ring.unsaved_from, None);
    }

    #[test]
    fn a_history_is_saved_only_if_nothing_changed_while_it_was_written() {
        let mut history = ServiceHistory::new();
        assert!(!history.unsaved());
        history.ring_mut(Resolution::Fine).put(1, values(1.0));
        history.changes += 1;
        let read_at = history.changes;
        history.ring_mut(Resolution::Fine).put(2, values(2.0));
        history.changes += 1;
        history.saved(read_at);
        assert!(history.unsaved());
        history.saved(history.changes);
        assert!(!history.unsaved());
    }
}

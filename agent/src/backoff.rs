//! Jittered exponential backoff for reconnecting to the server, so a fleet of agents that
//! lost the server together does not come back in lockstep.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    random: RandomState,
    draws: u64,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff {
            next: FIRST.min(max),
            max,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// The next wait: between half and all of the current step, which then doubles.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(self.unit())
    }

    /// Back to the shortest wait, after a success.
    pub fn reset(&mut self) {
        self.next = FIRST.min(self.max);
    }

    /// A pseudo-random number in [0, 1).
    fn unit(&mut self) -> f64 {
        self.draws += 1;
        let mut hasher = self.random.build_hasher();
        hasher.write_u64(self.draws);
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_jittered_up_to_the_maximum_and_resets() {
        let max = Duration::from_secs(8);
        let mut backoff = Backoff::new(max);
        let mut step = FIRST;
        for _ in 0..10 {
            let delay = backoff.next_delay();
            assert!(
                delay >= step / 2 && delay <= step,
                "{delay:?} for step {step:?}"
            );
            step = (step * 2).min(max);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= FIRST);
    }

    #[test]
    fn delays_are_not_all_equal() {
        let mut backoff = Backoff::new(Duration::from_millis(500));
        let delays: Vec<_> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
    }
}

//! Jittered exponential backoff for reconnecting to the server, so a fleet of agents that
//! lost the server together does not come back in lockstep.

use std::time::Duration;

use crate::random;

const FIRST: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff {
            next: FIRST.min(max),
            max,
        }
    }

    /// The next wait: between half and all of the current step, which then doubles.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(random::fraction())
    }

    /// Back to the shortest wait, after a success.
    pub fn reset(&mut self) {
        self.next = FIRST.min(self.max);
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

//! Rise and fall: how consecutive results turn into a real server's health. Pure, so every
//! rule is tested on the host.

use lvs_model::Health;

use super::Failure;

/// The health of one check and the run of results that may change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    health: Health,
    /// Consecutive results against the current health (failures while up, successes while
    /// down); the health flips when this reaches `fall` or `rise`.
    against: u16,
    rise: u16,
    fall: u16,
}

/// A change of health, with the failure that caused a fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flip {
    pub health: Health,
    pub failure: Option<Failure>,
}

impl Counter {
    pub fn new(initial: Health, rise: u16, fall: u16) -> Counter {
        Counter {
            health: initial,
            against: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    /// Counts one result; `Some` when it flips the health.
    pub fn record(&mut self, result: Result<(), Failure>) -> Option<Flip> {
        let (needed, failure) = match (self.health, result) {
            // A result that agrees with the health ends any run against it.
            (Health::Up, Ok(())) | (Health::Down, Err(_)) => {
                self.against = 0;
                return None;
            }
            (Health::Up, Err(failure)) => (self.fall, Some(failure)),
            (Health::Down, Ok(())) => (self.rise, None),
        };
        self.against += 1;
        if self.against < needed {
            return None;
        }
        self.against = 0;
        self.health = match self.health {
            Health::Up => Health::Down,
            Health::Down => Health::Up,
        };
        Some(Flip {
            health: self.health,
            failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail() -> Result<(), Failure> {
        Err(Failure::Refused)
    }

    #[test]
    fn falls_after_fall_failures_in_a_row() {
        let mut counter = Counter::new(Health::Up, 2, 3);
        assert_eq!(counter.record(fail()), None);
        assert_eq!(counter.record(fail()), None);
        let flip = counter
            .record(Err(Failure::Timeout))
            .expect("third failure");
        assert_eq!(flip.health, Health::Down);
        assert_eq!(
            flip.failure,
            Some(Failure::Timeout),
            "the last failure is the reason"
        );
        assert_eq!(counter.health(), Health::Down);
        // Further failures change nothing.
        assert_eq!(counter.record(fail()), None);
    }

    #[test]
    fn a_success_breaks_a_run_of_failures() {
        let mut counter = Counter::new(Health::Up, 2, 3);
        counter.record(fail());
        counter.record(fail());
        assert_eq!(counter.record(Ok(())), None);
        counter.record(fail());
        counter.record(fail());
        assert_eq!(
            counter.health(),
            Health::Up,
            "two failures after the success"
        );
        assert!(counter.record(fail()).is_some());
    }

    #[test]
    fn rises_after_rise_successes_in_a_row() {
        let mut counter = Counter::new(Health::Down, 2, 3);
        assert_eq!(counter.record(Ok(())), None);
        assert_eq!(counter.record(fail()), None, "a failure breaks the run");
        assert_eq!(counter.record(Ok(())), None);
        let flip = counter.record(Ok(())).expect("second success in a row");
        assert_eq!(
            flip,
            Flip {
                health: Health::Up,
                failure: None
            }
        );
    }

    #[test]
    fn one_result_decides_with_rise_and_fall_of_one() {
        let mut counter = Counter::new(Health::Up, 1, 1);
        assert!(counter.record(fail()).is_some());
        assert!(counter.record(Ok(())).is_some());
        assert_eq!(counter.health(), Health::Up);
    }
}

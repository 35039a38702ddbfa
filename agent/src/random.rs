//! Pseudo-random fractions for spreading a fleet's timers (reconnection backoff, the phase
//! of statistics, periodic passes): agents started together must not act in lockstep.
//! Not for anything secret.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// A pseudo-random number in [0, 1). Each call hashes with new keys (std seeds each
/// thread's keys at random and steps them for every `RandomState`).
pub fn fraction() -> f64 {
    let bits = RandomState::new().hash_one(0_u8);
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_in_range_and_not_all_equal() {
        let draws: Vec<f64> = (0..100).map(|_| fraction()).collect();
        assert!(draws.iter().all(|f| (0.0..1.0).contains(f)), "{draws:?}");
        assert!(draws.iter().any(|f| *f != draws[0]), "{draws:?}");
        let below_half = draws.iter().filter(|f| **f < 0.5).count();
        assert!(
            (20..=80).contains(&below_half),
            "{below_half} of 100 below 0.5"
        );
    }
}

//! Slows down password guessing: per account and per client address, the first few
//! failures are free, then each further attempt must wait twice as long as the one before,
//! and after [`LOCK_AFTER`] failures the account or address is locked for [`LOCK_FOR`].
//! A refused attempt is answered without checking the password, so it costs no hashing.
//! The state is in memory: a restart forgets it, which costs an attacker a restart of the
//! server, not a way around the limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures that cost nothing: typing a password wrong twice is common.
pub const FREE_FAILURES: u32 = 3;
/// The wait after the first failure beyond the free ones; doubled by each further one.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between attempts before the lock.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Failures after which the account or address is locked.
pub const LOCK_AFTER: u32 = 10;
/// How long a lock lasts.
pub const LOCK_FOR: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most accounts and addresses remembered; beyond, the oldest are forgotten.
const MAX_KEYS: usize = 100_000;
/// Names tried are remembered up to this many bytes, so a flood of long names stays small.
const MAX_NAME_BYTES: usize = 64;

/// What is throttled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    /// An IPv4 address, or the /64 of an IPv6 one (one host usually holds a whole /64).
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too soon after the last failure: try again after this long.
    Wait(Duration),
    /// Locked for this much longer.
    Locked(Duration),
}

impl Refusal {
    /// How long until the next attempt may be made.
    pub fn retry_after(self) -> Duration {
        match self {
            Refusal::Wait(d) | Refusal::Locked(d) => d,
        }
    }
}

/// The failures per account and per address.
#[derive(Debug, Default)]
pub struct Throttle {
    keys: Mutex<HashMap<Key, Failures>>,
}

impl Throttle {
    /// Whether `account` may try a password from `client` at `now`.
    pub fn check(&self, account: &str, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let mut refusal: Option<Refusal> = None;
        for key in keys_of(account, client) {
            let Some(failures) = keys.get(&key).filter(|f| !forgotten(f, now)) else {
                continue;
            };
            let this = if let Some(until) = failures.locked_until.filter(|u| *u > now) {
                Some(Refusal::Locked(until - now))
            } else {
                let next = failures.last + delay_after(failures.count);
                (next > now).then(|| Refusal::Wait(next - now))
            };
            refusal = match (refusal, this) {
                (Some(a), Some(b)) => Some(if b.retry_after() > a.retry_after() {
                    b
                } else {
                    a
                }),
                (a, b) => a.or(b),
            };
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Counts a wrong password (or an unknown account) tried from `client`.
    pub fn failed(&self, account: &str, client: IpAddr, now: Instant) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, f| !forgotten(f, now));
            if keys.len() >= MAX_KEYS {
                // A flood from more addresses than this: the oldest half goes.
                let mut lasts: Vec<Instant> = keys.values().map(|f| f.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                keys.retain(|_, f| f.last > cut);
            }
        }
        for key in keys_of(account, client) {
            let failures = keys.entry(key).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if forgotten(failures, now) {
                failures.count = 0;
                failures.locked_until = None;
            }
            failures.count += 1;
            failures.last = now;
            if failures.count >= LOCK_AFTER {
                failures.locked_until = Some(now + LOCK_FOR);
                failures.count = 0;
            }
        }
    }

    /// A successful sign-in clears the account's failures (the address's stay: one good
    /// account must not reset the guessing of others from the same place).
    pub fn succeeded(&self, account: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.remove(&Key::Account(account_key(account)));
    }
}

fn keys_of(account: &str, client: IpAddr) -> [Key; 2] {
    [
        Key::Account(account_key(account)),
        Key::Address(address_key(client)),
    ]
}

fn account_key(account: &str) -> String {
    let mut end = account.len().min(MAX_NAME_BYTES);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_lowercase()
}

fn address_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1_u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

fn forgotten(failures: &Failures, now: Instant) -> bool {
    let locked = failures.locked_until.is_some_and(|u| u > now);
    !locked && now.saturating_duration_since(failures.last) >= FORGET_AFTER
}

/// The wait before the attempt after `count` failures.
fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    #[test]
    fn free_failures_then_doubling_waits_then_a_lock() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            throttle.failed("alice", HOME, t0);
            assert_eq!(throttle.check("alice", HOME, t0), Ok(()));
        }
        throttle.failed("alice", HOME, t0);
        assert_eq!(
            throttle.check("alice", HOME, t0),
            Err(Refusal::Wait(FIRST_DELAY))
        );
        assert_eq!(throttle.check("alice", HOME, t0 + FIRST_DELAY), Ok(()));
        throttle.failed("alice", HOME, t0 + FIRST_DELAY);
        assert_eq!(
            throttle.check("alice", HOME, t0 + FIRST_DELAY),
            Err(Refusal::Wait(FIRST_DELAY * 2))
        );
        let mut now = t0 + FIRST_DELAY;
        for _ in FREE_FAILURES + 1..LOCK_AFTER {
            now += MAX_DELAY;
            throttle.failed("alice", HOME, now);
        }
        assert_eq!(
            throttle.check("alice", HOME, now),
            Err(Refusal::Locked(LOCK_FOR))
        );
        // The account is locked from anywhere, and the address for any account.
        assert!(matches!(
            throttle.check("alice", AWAY, now),
            Err(Refusal::Locked(_))
        ));
        assert!(matches!(
            throttle.check("bob", HOME, now),
            Err(Refusal::Locked(_))
        ));
        assert_eq!(throttle.check("bob", AWAY, now), Ok(()));
        assert_eq!(throttle.check("alice", HOME, now + LOCK_FOR), Ok(()));
    }

    #[test]
    fn success_clears_the_account_and_time_forgets() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            throttle.failed("Alice", HOME, t0);
        }
        assert!(
            throttle.check("alice", AWAY, t0).is_err(),
            "names are case-blind"
        );
        throttle.succeeded("alice");
        assert_eq!(throttle.check("alice", AWAY, t0), Ok(()));
        assert!(
            throttle.check("bob", HOME, t0).is_err(),
            "the address still waits"
        );
        assert_eq!(throttle.check("bob", HOME, t0 + FORGET_AFTER), Ok(()));
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for (i, name) in ["u1", "u2", "u3"].into_iter().enumerate() {
            throttle.failed(name, if i % 2 == 0 { a } else { b }, t0);
        }
        assert!(throttle.check("u9", a, t0).is_err());
        assert_eq!(throttle.check("u9", other, t0), Ok(()));
    }
}

//! Watching one real server's weight in many directors' kernels from one thread: a netlink
//! socket opened in each director's namespace, each polled in turn with a dump of the one
//! service (no process is spawned per sample, and one thread leaves the guest's CPU to the
//! agents).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lvs_ipvs::{Ipvs, ServiceKey};
use lvs_testkit::fleet::Director;

/// The pause after each polling round, so the watcher does not take the CPU from the
/// agents it waits for (the figures are hundreds of times longer).
const PAUSE: Duration = Duration::from_millis(2);

pub struct Watcher {
    kernels: Vec<Ipvs>,
    service: ServiceKey,
    server: SocketAddr,
    rounds: u64,
    polling: Duration,
}

impl Watcher {
    /// A socket in each director's namespace, watching `server` of `service`.
    pub fn new(directors: &[Director], service: ServiceKey, server: SocketAddr) -> Watcher {
        let kernels = directors
            .iter()
            .map(|d| {
                d.ns.enter(|| Ipvs::connect().expect("IPVS in a director's namespace"))
            })
            .collect();
        Watcher {
            kernels,
            service,
            server,
            rounds: 0,
            polling: Duration::ZERO,
        }
    }

    /// The watched weight in director `index`'s kernel (`None`: not there yet).
    pub fn weight(&mut self, index: usize) -> Option<u32> {
        let destinations = self.kernels[index].destinations(&self.service).ok()?;
        destinations
            .iter()
            .find(|d| d.destination.addr == self.server)
            .map(|d| d.destination.weight)
    }

    /// Waits until the first `count` directors all show `weight`; returns how long after
    /// `since` the last of them was seen with it.
    pub fn wait(&mut self, count: usize, weight: u32, since: Instant, limit: Duration) -> Duration {
        let mut pending: Vec<usize> = (0..count).collect();
        let mut last = Duration::ZERO;
        while !pending.is_empty() {
            let round = Instant::now();
            pending.retain(|&index| {
                let reached = self.weight(index) == Some(weight);
                if reached {
                    last = since.elapsed();
                }
                !reached
            });
            self.rounds += 1;
            self.polling += round.elapsed();
            assert!(
                since.elapsed() < limit,
                "{} of {count} directors did not reach weight {weight} within {limit:?}",
                pending.len()
            );
            if !pending.is_empty() {
                std::thread::sleep(PAUSE);
            }
        }
        last
    }

    /// The mean time of one polling round: the resolution of the figures.
    pub fn mean_round(&self) -> Duration {
        self.polling / u32::try_from(self.rounds.max(1)).unwrap_or(u32::MAX)
    }
}

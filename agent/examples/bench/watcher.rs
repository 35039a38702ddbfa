//! Watching one real server's weight in many directors' kernels from one thread of its own:
//! a netlink socket opened in each director's namespace, each polled in turn with a dump of
//! the one service (no process is spawned per sample).
//!
//! The thread runs in `SCHED_IDLE`, only when nothing else wants the guest's one CPU. The
//! server and the agents hand a change on from one to the next, so at most moments only one
//! or two of them can run: at equal priority the polling would take a third to a half of
//! the CPU from the very work it times, and even at nice 10 a tenth. The figures come from
//! the agents' own logs; the watcher confirms them from outside, a little later. The thread
//! that makes the API calls keeps its normal priority, so the moment a call returns is seen
//! at once.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lvs_ipvs::{Ipvs, ServiceKey};
use lvs_testkit::fleet::AgentHost;

use crate::priority;

/// The pause after each polling round: the figures are many times longer, and every round
/// takes the CPU from the agents it watches.
const PAUSE: Duration = Duration::from_millis(10);

/// The handle of the watching thread.
pub struct Watcher {
    requests: Option<mpsc::Sender<Wait>>,
    answers: mpsc::Receiver<Duration>,
    thread: Option<JoinHandle<Duration>>,
}

/// Wait until the first `count` directors show `weight`; answer how long after `since`.
struct Wait {
    count: usize,
    weight: u32,
    since: Instant,
    limit: Duration,
}

impl Watcher {
    /// A socket in each director's namespace, watching `server` of `service`.
    pub fn new(directors: &[AgentHost], service: ServiceKey, server: SocketAddr) -> Watcher {
        let kernels: Vec<Ipvs> = directors
            .iter()
            .map(|d| {
                d.ns.enter(|| Ipvs::connect().expect("IPVS in a director's namespace"))
            })
            .collect();
        let (requests, waits) = mpsc::channel::<Wait>();
        let (answer, answers) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("watcher".into())
            .spawn(move || {
                priority::idle_own();
                let mut polling = Polling {
                    kernels,
                    service,
                    server,
                    rounds: 0,
                    time: Duration::ZERO,
                };
                for wait in waits {
                    let took = polling.wait(&wait);
                    if answer.send(took).is_err() {
                        break;
                    }
                }
                polling.mean_round()
            })
            .expect("start the watcher thread");
        Watcher {
            requests: Some(requests),
            answers,
            thread: Some(thread),
        }
    }

    /// Waits until the first `count` directors all show `weight`; returns how long after
    /// `since` the last of them was seen with it.
    pub fn wait(&mut self, count: usize, weight: u32, since: Instant, limit: Duration) -> Duration {
        let wait = Wait {
            count,
            weight,
            since,
            limit,
        };
        self.requests
            .as_ref()
            .expect("the watcher runs")
            .send(wait)
            .expect("the watcher takes requests");
        self.answers
            .recv()
            .unwrap_or_else(|_| panic!("the watcher failed: {:?}", self.finish()))
    }

    /// Stops the thread; the mean time of one polling round, the resolution of the figures.
    pub fn finish(&mut self) -> Duration {
        self.requests = None;
        let thread = self.thread.take().expect("finished once");
        thread.join().expect("the watcher thread")
    }
}

struct Polling {
    kernels: Vec<Ipvs>,
    service: ServiceKey,
    server: SocketAddr,
    rounds: u32,
    time: Duration,
}

impl Polling {
    /// The watched weight in director `index`'s kernel (`None`: not there yet).
    fn weight(&mut self, index: usize) -> Option<u32> {
        let destinations = self.kernels[index].destinations(&self.service).ok()?;
        destinations
            .iter()
            .find(|d| d.destination.addr == self.server)
            .map(|d| d.destination.weight)
    }

    fn wait(&mut self, wait: &Wait) -> Duration {
        let mut pending: Vec<usize> = (0..wait.count).collect();
        let mut last = Duration::ZERO;
        while !pending.is_empty() {
            let round = Instant::now();
            pending.retain(|&index| {
                let reached = self.weight(index) == Some(wait.weight);
                if reached {
                    last = wait.since.elapsed();
                }
                !reached
            });
            self.rounds += 1;
            self.time += round.elapsed();
            assert!(
                wait.since.elapsed() < wait.limit,
                "{} of {} directors did not reach weight {} within {:?}",
                pending.len(),
                wait.count,
                wait.weight,
                wait.limit
            );
            if !pending.is_empty() {
                std::thread::sleep(PAUSE);
            }
        }
        last
    }

    fn mean_round(&self) -> Duration {
        self.time / self.rounds.max(1)
    }
}

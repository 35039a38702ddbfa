//! The check engine: one task per target, started and stopped as real servers come and go,
//! each probing at its own phase of the interval and sending the flips of its health.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvs_model::agent::CheckerPulse;
use lvs_model::Health;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::probe::{Probe, Shared};
use super::{Counter, Delta, Failure, Target};

/// The grain of the checks' schedule. A thousand checks a second due at random
/// milliseconds would wake the checks' thread a thousand times (and, under emulation,
/// those wake-ups cost more than the checks); due at 10 ms slots they wake it a hundred
/// times, ten checks each, still spread evenly over the interval.
const SLOT: Duration = Duration::from_millis(10);

/// A target's health changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub target: Target,
    pub health: Health,
    /// The failure that took it down; `None` when it came up.
    pub failure: Option<Failure>,
    /// Unix milliseconds.
    pub at_ms: u64,
}

/// Counters of the engine as a whole, read for the heartbeat that shows a stuck checker.
#[derive(Debug)]
pub struct EngineStatus {
    /// Results counted since the start.
    pub results: AtomicU64,
    /// When the attempt behind the last result was due, in milliseconds after `epoch`,
    /// plus one; 0 before the first. Monotonic, so that counting a result reads no clock:
    /// the pulse turns it into wall-clock time.
    last_result: AtomicU64,
    epoch: Instant,
    /// Targets being checked.
    pub targets: AtomicU64,
    /// The longest interval among them, in milliseconds.
    pub longest_interval_ms: AtomicU64,
}

impl Default for EngineStatus {
    fn default() -> Self {
        EngineStatus {
            results: AtomicU64::new(0),
            last_result: AtomicU64::new(0),
            epoch: Instant::now(),
            targets: AtomicU64::new(0),
            longest_interval_ms: AtomicU64::new(0),
        }
    }
}

impl EngineStatus {
    /// The pulse the agent reports.
    pub fn pulse(&self) -> CheckerPulse {
        let last = self.last_result.load(Ordering::Relaxed);
        let last_result_ms = match last.checked_sub(1) {
            None => 0,
            Some(after_epoch) => {
                let ago = self
                    .epoch
                    .elapsed()
                    .saturating_sub(Duration::from_millis(after_epoch));
                unix_ms().saturating_sub(u64::try_from(ago.as_millis()).unwrap_or(u64::MAX))
            }
        };
        CheckerPulse {
            targets: self.targets.load(Ordering::Relaxed),
            results: self.results.load(Ordering::Relaxed),
            last_result_ms,
            longest_interval_ms: self.longest_interval_ms.load(Ordering::Relaxed),
        }
    }

    /// The start of the first [`SLOT`] at or after `at`: checks are due only at slot starts,
    /// so the thread wakes once for all the checks of a slot, not once for each.
    fn slot(&self, at: Instant) -> Instant {
        let after_epoch = at.saturating_duration_since(self.epoch).as_nanos();
        let slot = SLOT.as_nanos();
        let start = after_epoch.div_ceil(slot) * slot;
        self.epoch + Duration::from_nanos(u64::try_from(start).unwrap_or(u64::MAX))
    }

    /// Counts a result of the attempt that was due at `due`.
    fn record(&self, due: Instant) {
        let after_epoch = due.saturating_duration_since(self.epoch).as_millis();
        let value = u64::try_from(after_epoch).unwrap_or(u64::MAX - 1) + 1;
        self.results.fetch_add(1, Ordering::Relaxed);
        self.last_result.fetch_max(value, Ordering::Relaxed);
    }
}

/// Runs the checks of every target it was told to start, on a thread of its own.
#[derive(Debug)]
pub struct Engine {
    /// Where the checks run: a single-threaded runtime on the engine's own thread, though
    /// the engine is driven from the reconcile thread. A check's tasks (its timer, the SYN
    /// socket's reader) then wake each other without waking another thread, which costs
    /// more than the check itself under emulation and on busy directors.
    runtime: Handle,
    /// Dropped with the engine: its thread then ends.
    _stop: oneshot::Sender<()>,
    tasks: HashMap<Target, JoinHandle<()>>,
    /// How many targets run at each interval, for the longest.
    intervals: BTreeMap<u32, usize>,
    transitions: mpsc::UnboundedSender<Transition>,
    shared: Arc<Shared>,
    status: Arc<EngineStatus>,
}

impl Engine {
    /// An engine that sends the flips of every target to `transitions`; it starts the
    /// thread its checks run on.
    pub fn new(
        shared: Shared,
        transitions: mpsc::UnboundedSender<Transition>,
    ) -> std::io::Result<Engine> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("health-checks".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })?;
        Ok(Engine {
            runtime: handle,
            _stop: stop,
            tasks: HashMap::new(),
            intervals: BTreeMap::new(),
            transitions,
            shared: Arc::new(shared),
            status: Arc::default(),
        })
    }

    pub fn status(&self) -> Arc<EngineStatus> {
        Arc::clone(&self.status)
    }

    /// How many distinct targets are being checked.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Starts checking `target` (nothing if it already is). Its health starts as its
    /// check's `initial` and changes only by flips.
    pub fn start(&mut self, target: Target) {
        if self.tasks.contains_key(&target) {
            return;
        }
        let probe = Probe::new(target.clone(), &self.shared);
        let task = self.runtime.spawn(check_loop(
            probe,
            self.transitions.clone(),
            Arc::clone(&self.status),
        ));
        *self
            .intervals
            .entry(target.check.interval_ms())
            .or_default() += 1;
        self.tasks.insert(target, task);
        self.publish();
    }

    /// Stops and starts what a change of the book asks.
    pub fn apply(&mut self, delta: Delta) {
        for target in &delta.stop {
            self.stop(target);
        }
        for target in delta.start {
            self.start(target);
        }
    }

    /// Stops checking `target`; an attempt under way is dropped (an `exec` program with it),
    /// and so is a kept-alive connection, with a reset.
    pub fn stop(&mut self, target: &Target) {
        if let Some(task) = self.tasks.remove(target) {
            task.abort();
            let interval = target.check.interval_ms();
            if let Some(count) = self.intervals.get_mut(&interval) {
                *count -= 1;
                if *count == 0 {
                    self.intervals.remove(&interval);
                }
            }
            self.publish();
        }
    }

    fn publish(&self) {
        let longest = self.intervals.keys().next_back().copied().unwrap_or(0);
        let status = &self.status;
        status
            .targets
            .store(self.tasks.len() as u64, Ordering::Relaxed);
        status
            .longest_interval_ms
            .store(u64::from(longest), Ordering::Relaxed);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

async fn check_loop(
    mut probe: Probe,
    transitions: mpsc::UnboundedSender<Transition>,
    status: Arc<EngineStatus>,
) {
    let check = Arc::clone(&probe.target().check);
    let interval = Duration::from_millis(u64::from(check.interval_ms()));
    let mut counter = Counter::new(check.initial(), check.rise(), check.fall());
    // A phase of its own in the interval, so that targets started together (at the
    // agent's start, by one change) spread their checks evenly instead of in bursts.
    let first = status.slot(Instant::now() + interval.mul_f64(crate::random::fraction()));
    let mut ticks = tokio::time::interval_at(first, interval);
    // A slow attempt delays the next one rather than causing a burst to catch up.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let due = ticks.tick().await;
        // Boxed: an attempt's state (a TLS handshake, buffers) exists only while it runs,
        // not in every idle task; a kept-alive connection waits in the probe.
        let result = Box::pin(probe.run()).await;
        status.record(due);
        if let Err(failure) = &result {
            tracing::debug!(target = %probe.target(), %failure, "check failed");
        }
        if let Some(flip) = counter.record(result) {
            let transition = Transition {
                target: probe.target().clone(),
                health: flip.health,
                failure: flip.failure,
                at_ms: unix_ms(),
            };
            if transitions.send(transition).is_err() {
                return;
            }
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

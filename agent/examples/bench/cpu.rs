//! How busy the guest's CPU is: from `/proc/stat`, over an interval.

use std::time::Duration;

/// (busy, total) jiffies since boot, over all CPUs.
fn jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let values: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().sum();
    // idle and iowait
    let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The share of the CPU in use over the next `interval`, in percent.
pub fn busy_over(interval: Duration) -> f64 {
    let (busy0, total0) = jiffies();
    std::thread::sleep(interval);
    let (busy1, total1) = jiffies();
    let total = total1.saturating_sub(total0).max(1);
    100.0 * busy1.saturating_sub(busy0) as f64 / total as f64
}

/// Waits until the CPU is mostly idle (below `percent` over a second), at most `limit`;
/// returns how long it waited. A namespace left behind by a part of the benchmark is torn
/// down by the kernel in the background, which for a large IPVS table takes a while.
pub fn settle(percent: f64, limit: Duration) -> Duration {
    let started = std::time::Instant::now();
    while busy_over(Duration::from_secs(1)) > percent && started.elapsed() < limit {}
    started.elapsed()
}

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

/// The CPU time (user + system, all threads) process `pid` has used, from
/// `/proc/<pid>/stat` (in clock ticks of 10 ms: read over many changes).
pub fn process_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    user_time(&stat) + system_time(&stat)
}

/// The user time in a `/proc/.../stat` line (utime, field 14).
pub fn user_time(stat: &str) -> Duration {
    ticks(stat, 14)
}

/// The system time in a `/proc/.../stat` line (stime, field 15).
pub fn system_time(stat: &str) -> Duration {
    ticks(stat, 15)
}

/// Field `number` (counted from 1, as in proc(5)) of a `/proc/.../stat` line, in clock
/// ticks of 10 ms.
fn ticks(stat: &str, number: usize) -> Duration {
    // The command name (field 2) may hold spaces; the fields after it do not. Counted by
    // position, as fields before them may be negative (no controlling terminal: tpgid is
    // -1).
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .nth(number - 3)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

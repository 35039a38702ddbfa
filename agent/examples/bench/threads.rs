//! CPU time by thread name, from `/proc/<pid>/task/*/schedstat` (nanoseconds, exact): which
//! of a process's threads a change costs, summed over several processes.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

/// CPU time per thread name of a set of processes at one moment: (all, in the kernel).
#[derive(Debug, Clone, Default)]
pub struct ThreadTimes(BTreeMap<String, (Duration, Duration)>);

impl ThreadTimes {
    /// The CPU time each thread name of `pids` has used so far. Threads named alike
    /// (tokio's workers, one runtime thread per agent) are summed.
    pub fn read(pids: &[u32]) -> ThreadTimes {
        let mut times = BTreeMap::new();
        for pid in pids {
            let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for task in tasks.flatten() {
                let path = task.path();
                let name = fs::read_to_string(path.join("comm")).unwrap_or_default();
                let ran = fs::read_to_string(path.join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse().ok())
                    .map_or(Duration::ZERO, Duration::from_nanos);
                let system = fs::read_to_string(path.join("stat"))
                    .map(|stat| crate::cpu::system_time(&stat))
                    .unwrap_or_default();
                let entry: &mut (Duration, Duration) =
                    times.entry(name.trim().to_owned()).or_default();
                entry.0 += ran;
                entry.1 += system;
            }
        }
        ThreadTimes(times)
    }

    /// `lvs-agent 6.0 ms (1.3 ms in the kernel), reconcile 3.1 ms (...)`: the time used
    /// since `before`, divided by `per`, largest first; threads that used less than 1% of
    /// the total are left out. The kernel's share is counted in 10 ms ticks.
    pub fn since(&self, before: &ThreadTimes, per: u32) -> String {
        let mut used: Vec<(&str, Duration, Duration)> = self
            .0
            .iter()
            .map(|(name, now)| {
                let then = before.0.get(name).copied().unwrap_or_default();
                let per = per.max(1);
                (
                    name.as_str(),
                    now.0.saturating_sub(then.0) / per,
                    now.1.saturating_sub(then.1) / per,
                )
            })
            .collect();
        let total: Duration = used.iter().map(|(_, d, _)| *d).sum();
        used.retain(|(_, d, _)| *d * 100 >= total);
        used.sort_by_key(|(_, d, _)| std::cmp::Reverse(*d));
        used.iter()
            .map(|(name, d, system)| {
                let show = crate::figures::show;
                format!("{name} {} ({} in the kernel)", show(*d), show(*system))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

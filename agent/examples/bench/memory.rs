//! The guest's memory while the fleet runs: enough for every agent and the server?

use std::fs;

/// `VmRSS` of a process, in kB (0 when it cannot be read).
fn rss_kb(pid: u32) -> u64 {
    field_kb(
        &fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default(),
        "VmRSS:",
    )
}

fn field_kb(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// `agents 412 MB (8.2 MB each), server 45 MB, guest 1.2 GB available of 2.0 GB`.
pub fn describe(agents: &[u32], server: Option<u32>) -> String {
    let mb = |kb: u64| kb as f64 / 1024.0;
    let agents_kb: u64 = agents.iter().map(|&pid| rss_kb(pid)).sum();
    let each = agents_kb / (agents.len().max(1) as u64);
    let server_kb = server.map_or(0, rss_kb);
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    format!(
        "agents {:.0} MB ({:.1} MB each), server {:.0} MB, guest {:.0} MB free of {:.0} MB",
        mb(agents_kb),
        mb(each),
        mb(server_kb),
        mb(field_kb(&meminfo, "MemAvailable:")),
        mb(field_kb(&meminfo, "MemTotal:")),
    )
}

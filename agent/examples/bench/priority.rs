//! Scheduling classes, set with `chrt` (Linux keeps one per thread).

/// Moves the calling thread to `SCHED_IDLE`: it runs when no other thread wants the CPU,
/// and takes almost nothing from those that do.
pub fn idle_own() {
    let tid = nix::unistd::gettid().to_string();
    let output = std::process::Command::new("chrt")
        .args(["--idle", "--pid", "0", &tid])
        .output()
        .expect("chrt runs");
    assert!(
        output.status.success(),
        "chrt --idle --pid 0 {tid}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

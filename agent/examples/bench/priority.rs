//! Nice values, set with `renice` (Linux keeps one per thread).

/// Sets the nice value of the calling thread.
pub fn set_own(nice: i32) {
    renice(nice, &nix::unistd::gettid().to_string());
}

fn renice(nice: i32, tid: &str) {
    let nice = nice.to_string();
    let output = std::process::Command::new("renice")
        .args(["-n", &nice, "-p", tid])
        .output()
        .expect("renice runs");
    assert!(
        output.status.success(),
        "renice -n {nice} -p {tid}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

//! What the kernel test suites share: a network namespace per test, and running `ip` and
//! `ipvsadm` in it. Used only by tests that run in the guest (`cargo xtask vm-test`), where
//! a failure to set up is a test failure, so these panic with what went wrong.

#![allow(clippy::missing_panics_doc)]

use std::io::Write;
use std::process::{Command, Stdio};

use nix::sched::{unshare, CloneFlags};

/// Moves the calling thread into a new network namespace with `lo` up. IPVS tables are per
/// namespace, so each test gets a director of its own; programs started from this thread
/// afterwards run in it too.
pub fn fresh_netns() {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    run("ip", &["link", "set", "lo", "up"]);
}

/// A fresh namespace set up as a director: a dummy interface `d0` holding 10.0.0.254/24 and
/// 2001:db8::fe/64, since IPVS refuses NAT destinations on a director without a usable
/// address.
pub fn director_netns() {
    fresh_netns();
    run("ip", &["link", "add", "d0", "type", "dummy"]);
    run("ip", &["link", "set", "d0", "up"]);
    run("ip", &["addr", "add", "10.0.0.254/24", "dev", "d0"]);
    run(
        "ip",
        &["-6", "addr", "add", "2001:db8::fe/64", "dev", "d0", "nodad"],
    );
}

/// Runs a program in the calling thread's namespace and returns its stdout; fails the test
/// when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {} failed with {}: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ipvsadm args..`.
pub fn ipvsadm(args: &[&str]) -> String {
    run("ipvsadm", args)
}

/// `ipvsadm -R` fed with `rules`.
pub fn ipvsadm_restore(rules: &str) {
    let mut child = Command::new("ipvsadm")
        .arg("-R")
        .stdin(Stdio::piped())
        .spawn()
        .expect("cannot run ipvsadm -R");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .expect("write rules");
    let status = child.wait().expect("wait for ipvsadm -R");
    assert!(status.success(), "ipvsadm -R failed with {status}");
}

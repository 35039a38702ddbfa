//! Running `ip`, `ipvsadm` and friends in the calling thread's network namespace.

use std::io::Write;
use std::process::{Command, Stdio};

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

/// `ip addr add cidr dev dev`; an IPv6 address without duplicate address detection, so it
/// is usable at once.
pub fn add_addr(cidr: &str, dev: &str) {
    if cidr.contains(':') {
        run("ip", &["-6", "addr", "add", cidr, "dev", dev, "nodad"]);
    } else {
        run("ip", &["addr", "add", cidr, "dev", dev]);
    }
}

/// `ipvsadm args..`.
pub fn ipvsadm(args: &[&str]) -> String {
    run("ipvsadm", args)
}

/// `ipvsadm -R` fed with `rules`.
pub fn ipvsadm_restore(rules: &str) {
    feed("ipvsadm", &["-R"], rules);
}

/// `ip -batch -` with these commands (one process for many: every process start is slow
/// under emulation).
pub fn ip_batch(commands: &str) {
    feed("ip", &["-batch", "-"], commands);
}

/// Runs `program args..` with `input` on its stdin; fails the test when it fails.
fn feed(program: &str, args: &[&str], input: &str) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write to {program}: {e}"));
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("cannot wait for {program}: {e}"));
    assert!(
        status.success(),
        "{program} {} failed with {status}; its input was:\n{input}",
        args.join(" ")
    );
}

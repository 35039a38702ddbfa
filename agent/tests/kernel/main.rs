//! Kernel tests: the reconciler against a real IPVS, checked with `ipvsadm`.
//!
//! Run by `cargo xtask vm-test -p lvs-agent` inside a guest whose kernel has IPVS (never by a
//! host `cargo test`: the target has `test = false`). Every test unshares a fresh network
//! namespace on its own thread, so each one is an independent, empty director, and drives
//! the reconciler in-process with desired states given directly (no server); `e2e` runs the
//! real `lvs-server` and `lvs-agent` binaries, one agent per director namespace.

// Test helpers on other threads, as `allow-unwrap-in-tests` allows in test functions.
#![allow(clippy::unwrap_used)]

mod apply;
mod drain;
mod drift;
mod e2e;
mod model_rules;
// The library's table against `ipvsadm -S -n`, shared with lvs-ipvs's kernel tests (a
// crate of its own would hold lvs-ipvs's types twice in that crate's tests).
#[allow(dead_code)]
#[path = "../../../ipvs/tests/kernel/save.rs"]
mod save;
mod update;

use std::sync::Arc;
use std::time::Duration;

use lvs_agent::Reconciler;
use lvs_ipvs::Ipvs;
use lvs_model::DesiredState;
use lvs_testkit::fixtures::desired_state;
pub use lvs_testkit::fixtures::{CLUSTER, CLUSTER_RULES};
pub use lvs_testkit::{
    director_netns, fresh_netns, ipvsadm, ipvsadm_restore, run, scheduler_modules,
};

pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

pub fn state(json: &str) -> Arc<DesiredState> {
    Arc::new(desired_state(json))
}

/// A fresh director namespace (see `lvs_testkit::director_netns`) with the library
/// connected in it.
pub fn director() -> Ipvs {
    director_netns();
    Ipvs::connect().expect("IPVS must be reachable in the guest")
}

/// A reconciler for the calling thread's namespace that applied `applied` before.
pub fn reconciler(applied: Option<u64>) -> Reconciler {
    let ipvs = Ipvs::connect().expect("IPVS must be reachable in the guest");
    Reconciler::new(ipvs, DRAIN_TIMEOUT, applied)
}

/// `ipvsadm -S -n`, lines sorted (the kernel lists services in hash order).
pub fn saved() -> Vec<String> {
    let mut lines: Vec<String> = ipvsadm(&["-S", "-n"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// What `ipvsadm -S -n` shows for `rules` loaded with `ipvsadm -R`; leaves the table empty.
pub fn saved_form_of(rules: &str) -> Vec<String> {
    ipvsadm_restore(rules);
    let lines = saved();
    ipvsadm(&["-C"]);
    lines
}

/// The `-a` line of `addr` in `ipvsadm -S -n`, if any.
pub fn dest_line(addr: &str) -> Option<String> {
    saved()
        .into_iter()
        .find(|l| l.starts_with("-a") && l.contains(&format!("-r {addr} ")))
}

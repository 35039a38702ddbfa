//! Kernel tests: the library against a real IPVS, cross-checked with `ipvsadm`.
//!
//! Run by `cargo xtask vm-test` inside a guest whose kernel has IPVS (never by a host
//! `cargo test`: the target has `test = false`). Every test unshares a fresh network
//! namespace on its own thread, so each one is an independent, empty director; `ipvsadm` and
//! `ip` run as children of that thread and so in that namespace. A test that cannot reach
//! IPVS fails.

// Test helpers, as `allow-unwrap-in-tests` allows in test functions.
#![allow(clippy::unwrap_used)]

mod errors;
mod restore;
mod save;
mod settings;
mod table;
mod traffic;

use lvs_ipvs::Ipvs;
pub use lvs_testkit::{
    director_netns, fresh_netns, ipvsadm, ipvsadm_restore, run, scheduler_modules,
};

/// A fresh director namespace (see `lvs_testkit::director_netns`) with the library
/// connected in it.
pub fn director() -> Ipvs {
    director_netns();
    Ipvs::connect().expect("IPVS must be reachable in the guest")
}

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
mod model_rules;
mod restore;
mod save;
mod settings;
mod table;
mod traffic;

use lvs_ipvs::Ipvs;
pub use lvs_testkit::{director_netns, fresh_netns, ipvsadm, ipvsadm_restore, run};

/// A fresh director namespace (see `lvs_testkit::director_netns`) with the library
/// connected in it.
pub fn director() -> Ipvs {
    director_netns();
    Ipvs::connect().expect("IPVS must be reachable in the guest")
}

/// The scheduler modules this kernel ships (`ip_vs_<name>.ko`), read from the module tree.
pub fn scheduler_modules() -> Vec<String> {
    let release = run("uname", &["-r"]);
    let dir = format!("/lib/modules/{}/kernel/net/netfilter/ipvs", release.trim());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let stem = name.strip_prefix("ip_vs_")?.split(".ko").next()?.to_owned();
            (stem != "ftp" && !stem.starts_with("pe_")).then_some(stem)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no scheduler modules in {dir}");
    names
}

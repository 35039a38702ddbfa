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
use lvs_model::spec::DesiredStateSpec;
use lvs_model::DesiredState;
pub use lvs_testkit::{
    director_netns, fresh_netns, ipvsadm, ipvsadm_restore, run, scheduler_modules,
};

/// The rules [`CLUSTER`] should produce, in `ipvsadm -R` form.
pub const CLUSTER_RULES: &str = "\
-A -t 192.0.2.10:80 -s wrr -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.11:8080 -m -w 1
-a -t 192.0.2.10:80 -r 10.0.0.12:8080 -m -w 0
-a -t 192.0.2.10:80 -r 10.0.0.13:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum -x 100 -y 10
-A -u 192.0.2.10:53 -s sh -b sh-fallback,sh-port -o
-a -u 192.0.2.10:53 -r 10.0.0.21:53 -g -w 1
-a -u 192.0.2.10:53 -r 10.0.0.22:53 -g -w 1
-A -t [2001:db8::10]:443 -s mh -b mh-port -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::31]:443 -g -w 7
-A -f 42 -s rr
-a -f 42 -r 10.0.0.41:0 -g -w 1
";

/// A cluster with labels, a drained server, persistence, scheduler flags, a tunnel,
/// thresholds, IPv6, fwmark and timeouts.
pub const CLUSTER: &str = r#"{"generation": 5, "timeouts": {"tcp": 900, "udp": 120},
  "services": [
    {"protocol": "tcp", "address": "192.0.2.10", "port": 80, "scheduler": "wrr",
     "name": "web", "description": "front door", "persistence_timeout": 300,
     "persistence_netmask": "255.255.255.0",
     "real_servers": [
        {"address": "10.0.0.11", "port": 8080, "forwarding": "masq", "weight": 1,
         "description": "first"},
        {"address": "10.0.0.12", "port": 8080, "forwarding": "masq", "weight": 5,
         "state": "drained"},
        {"address": "10.0.0.13", "port": 80, "forwarding": "tunnel", "tunnel_type": "gue",
         "tunnel_port": 6080, "tunnel_checksum": "csum", "upper_threshold": 100,
         "lower_threshold": 10}]},
    {"protocol": "udp", "address": "192.0.2.10", "port": 53, "scheduler": "sh",
     "scheduler_flags": ["sh-port", "sh-fallback"], "one_packet": true,
     "real_servers": [
        {"address": "10.0.0.21", "forwarding": "route"},
        {"address": "10.0.0.22", "forwarding": "route"}]},
    {"protocol": "tcp", "address": "2001:db8::10", "port": 443, "scheduler": "mh",
     "scheduler_flags": ["mh-port"], "persistence_timeout": 60, "persistence_netmask": 64,
     "real_servers": [{"address": "2001:db8::31", "forwarding": "route", "weight": 7}]},
    {"fwmark": 42, "family": "ipv4", "scheduler": "rr",
     "real_servers": [{"address": "10.0.0.41", "forwarding": "route"}]}
  ]}"#;

pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

pub fn state(json: &str) -> Arc<DesiredState> {
    Arc::new(
        serde_json::from_str::<DesiredStateSpec>(json)
            .expect("a desired-state document")
            .parse()
            .expect("a valid desired state"),
    )
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

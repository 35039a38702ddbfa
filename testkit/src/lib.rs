//! What the test suites share: for the kernel tests, a network namespace per test, and
//! running `ip` and `ipvsadm` in it; with the `fleet` feature, the real server and agents
//! in namespaces; with the `server` feature, the real server in the test's own process;
//! with the `fixtures` feature, desired states more than one suite starts from; with the
//! `tls` feature, an HTTPS server whose CA file a check can verify against. Used only
//! by tests and benchmarks, where a failure to set up is a failure of the test, so these
//! panic with what went wrong.

#![allow(clippy::missing_panics_doc)]

mod command;
#[cfg(feature = "fixtures")]
pub mod fixtures;
#[cfg(feature = "fleet")]
pub mod fleet;
mod modules;
mod netns;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;

pub use command::{add_addr, ip_batch, ipvsadm, ipvsadm_restore, run};
pub use modules::scheduler_modules;
pub use netns::{
    bridge, bridge_port, director_netns, fresh_netns, thread_id, veth, veth_peer_end,
    veth_to_thread, Netns,
};

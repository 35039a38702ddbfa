//! keepalived.conf's LVS part (`virtual_server`, `virtual_server_group`, `real_server` and
//! their checkers, `lvs_timeouts`) to and from desired-state documents.
//!
//! Checkers become health checks: keepalived marks a real server down after a failed check
//! and `retry` failed retries, and up after one success, so `fall` is `retry + 1` and `rise`
//! 1; without `inhibit_on_failure` it takes a failed real server out of the table
//! (`on_failure: remove`), with it sets weight 0 (`quiesce`). Everything else (VRRP,
//! notification scripts, quorum) is reported as not translated, with its line. Where
//! keepalived's own defaults differ from what one would guess (no `protocol` is UDP), the
//! import follows keepalived, checked against the table keepalived programs (`tests/kernel`).

mod export;
mod import;
mod syntax;

pub use export::export;
pub use import::import;

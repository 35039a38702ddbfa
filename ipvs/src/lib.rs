//! A typed client for Linux IPVS, the kernel's layer-4 load balancer, over its generic netlink
//! family (`include/uapi/linux/ip_vs.h`). The only crate in LVS Fleet that speaks netlink.
//!
//! ```no_run
//! use lvs_ipvs::{Destination, ForwardMethod, Ipvs, Protocol, Scheduler, Service, ServiceKey};
//!
//! # fn main() -> Result<(), lvs_ipvs::Error> {
//! let mut ipvs = Ipvs::connect()?;
//! let key = ServiceKey::Inet { protocol: Protocol::Tcp, addr: "10.0.0.1".parse().unwrap(), port: 80 };
//! ipvs.add_service(&Service::new(key, Scheduler::WeightedRoundRobin))?;
//! ipvs.add_destination(&key, &Destination::new("10.1.0.1:8080".parse().unwrap(), ForwardMethod::Masq))?;
//! for entry in ipvs.table()? {
//!     println!("{} has {} destinations", entry.service.service.key, entry.destinations.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! One [`Ipvs`] holds one netlink socket, opened in the network namespace of the thread
//! that created it, with the `IPVS` family id resolved once. Bulk changes go through
//! [`Ipvs::apply`], which writes many commands per `sendmsg` and reports each one's outcome.
//!
//! The netlink wire format is this crate's own, both directions in one module (`codec`): one
//! typed attribute enum per nesting level, requests written into one buffer, replies read in
//! place, so a dump of tens of thousands of destinations allocates only what it returns.
//! neli keeps the one job it does well, the socket (open, port id, extended acks, buffer
//! size, send and receive); its message types copy every reply into owned buffers, and
//! rust-netlink's packet crates, which do read in place, would still leave every IPVS
//! attribute for us to define, for a format that is only a 4-byte header and 4-byte
//! padding. neli types never appear in this API.

// Layers, each using only those above it in this list: `key` (what identifies objects),
// `error`, `codec` (the wire format), `consts` (the uapi numbers as typed ids), the objects
// (`stats`, `service`, `dest`, `daemon`), `command`, `socket`, `client`.
mod client;
mod codec;
mod command;
mod consts;
mod daemon;
mod dest;
mod error;
mod key;
mod service;
mod socket;
mod stats;

pub use client::{BatchReport, Ipvs, TableEntry};
pub use command::Command;
pub use daemon::{Info, SyncDaemon, Timeouts};
pub use dest::{Destination, DestinationEntry, ForwardMethod, TunnelFlags, TunnelType};
pub use error::{Action, Error, ErrorKind, KernelError, Target};
pub use key::{DaemonState, Family, Protocol, ServiceKey};
pub use service::{Netmask, Scheduler, Service, ServiceEntry, ServiceFlags};
pub use socket::Config;
pub use stats::Stats;

#[cfg(test)]
mod tests;

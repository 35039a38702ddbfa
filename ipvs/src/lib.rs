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
//! neli types never appear in this API.

mod attrs;
mod client;
mod command;
mod consts;
mod daemon;
mod dest;
mod error;
mod service;
mod socket;
mod stats;
mod wire;

pub use client::{BatchReport, Ipvs, TableEntry};
pub use command::Command;
pub use daemon::{DaemonState, Info, SyncDaemon, Timeouts};
pub use dest::{Destination, DestinationEntry, ForwardMethod, TunnelFlags, TunnelType};
pub use error::{Action, Error, ErrorKind, KernelError, Target};
pub use service::{
    Family, Netmask, Protocol, Scheduler, Service, ServiceEntry, ServiceFlags, ServiceKey,
};
pub use socket::Config;
pub use stats::Stats;

#[cfg(test)]
mod tests;

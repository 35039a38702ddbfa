//! Host preparation beyond the IPVS table. On a director: the services' VIPs on the
//! cluster's VIP interface, forwarding for NAT services, the IPVS sysctls the cluster sets,
//! the marking rules of firewall-mark services ([`marks`]), and the connection sync daemons
//! (`sync.rs`); what the desired state asks for is kept up to date at the cost of each
//! change ([`index`]). On a real server's host (`crate::real_server`): VIPs on `lo` or
//! tunnel devices, ARP and reverse-path sysctls, GUE ports (`gue.rs`). Either way the host
//! should hold a [`Wanted`], and [`prep::HostPrep`] brings it there, touching only what the
//! agent added itself ([`owned`]: recorded in the state directory before each change).

mod gue;
pub mod index;
pub mod marks;
pub mod owned;
pub mod prep;
mod sync;
mod wanted;

pub use index::HostIndex;
pub use prep::HostPrep;
pub use wanted::{Placement, Wanted, WantedInterface};

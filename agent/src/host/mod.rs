//! Host preparation on a director, beyond its IPVS table: the services' VIPs on the
//! cluster's VIP interface, forwarding for NAT services, the IPVS sysctls the cluster
//! sets, the marking rules of firewall-mark services ([`marks`]), and the connection sync
//! daemons (`sync.rs`). What the desired state asks for is [`Wanted`], kept up to date at the cost of each
//! change ([`index`]); [`prep::HostPrep`] brings the host to it, touching only what the
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

//! What LVS Fleet changes on a host besides its IPVS table: network interfaces and their
//! addresses (over rtnetlink, [`rtnl`]), GUE receive ports (`fou`), sysctls ([`sysctl`]) and one nftables table of
//! its own ([`nft`]).
//!
//! Everything here acts on the network namespace of the calling thread, and knows nothing
//! of the model: it is told which link, address or value, and answers with what it found
//! or why the kernel refused.

pub mod nft;
pub mod rtnl;
pub mod sysctl;

pub use nft::{NftError, NftTable};
pub use rtnl::{Address, Fou, FouPort, Link, Rtnl, RtnlError};
pub use sysctl::{Sysctl, SysctlError};

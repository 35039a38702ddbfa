//! Foo-over-UDP receive ports (the `fou` generic netlink family, `include/uapi/linux/fou.h`):
//! a GUE port hands the packet inside each datagram to the protocol its GUE header names,
//! IP-in-IP for the IPVS `gue` tunnel method. Same codec and one-request-at-a-time rule as
//! the links and addresses.

use neli::consts::socket::NlFamily;

use super::wire::{self, Request, NLM_F_ACK, NLM_F_DUMP};
use super::{Rtnl, RtnlError, Until};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

const FOU_GENL_VERSION: u8 = 1;
const FOU_CMD_ADD: u8 = 1;
const FOU_CMD_DEL: u8 = 2;
const FOU_CMD_GET: u8 = 3;
const FOU_ATTR_PORT: u16 = 1;
const FOU_ATTR_AF: u16 = 2;
const FOU_ATTR_TYPE: u16 = 4;
const FOU_ENCAP_GUE: u8 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const ENOENT: i32 = 2;

/// A receive port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FouPort {
    pub port: u16,
    /// Listening on IPv6 (the port of each family is its own).
    pub ipv6: bool,
    /// GUE, rather than plain FOU of one protocol.
    pub gue: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Fou {
    netlink: Rtnl,
    family: u16,
}

impl Fou {
    /// Opens a socket and finds the family; a kernel without the `fou` module (which asking
    /// for the family loads where modules load on demand) is an error saying so.
    pub fn open() -> Result<Self, RtnlError> {
        let mut netlink = Rtnl::open_family(NlFamily::Generic)?;
        let seq = netlink.next_seq();
        let request = Request::new(GENL_ID_CTRL, NLM_F_ACK, seq)
            .genlmsghdr(CTRL_CMD_GETFAMILY, 1)
            .attr_str(CTRL_ATTR_FAMILY_NAME, "fou")
            .finish();
        let replies = netlink
            .exchange(&request, seq, Until::OneMessage, "find the fou family")
            .map_err(|error| match error {
                RtnlError::Kernel { errno: ENOENT, .. } => RtnlError::Kernel {
                    what: "find the fou family".into(),
                    errno: ENOENT,
                    reason: "this kernel has no fou module (GUE receive ports)".into(),
                },
                other => other,
            })?;
        let family = replies
            .first()
            .and_then(|payload| {
                wire::genl_attrs(payload)
                    .find(|(kind, value)| *kind == CTRL_ATTR_FAMILY_ID && value.len() == 2)
                    .map(|(_, value)| u16::from_ne_bytes([value[0], value[1]]))
            })
            .ok_or_else(|| RtnlError::Decode("fou family reply without its id".into()))?;
        Ok(Fou { netlink, family })
    }

    /// Every receive port.
    pub fn ports(&mut self) -> Result<Vec<FouPort>, RtnlError> {
        let seq = self.netlink.next_seq();
        let request = Request::new(self.family, NLM_F_DUMP, seq)
            .genlmsghdr(FOU_CMD_GET, FOU_GENL_VERSION)
            .finish();
        let replies = self
            .netlink
            .exchange(&request, seq, Until::Done, "list fou ports")?;
        let mut ports = Vec::with_capacity(replies.len());
        for payload in &replies {
            let (mut port, mut ipv6, mut gue) = (None, false, false);
            for (kind, value) in wire::genl_attrs(payload) {
                match (kind, value) {
                    (FOU_ATTR_PORT, [high, low]) => port = Some(u16::from_be_bytes([*high, *low])),
                    (FOU_ATTR_AF, [af]) => ipv6 = *af == AF_INET6,
                    (FOU_ATTR_TYPE, [kind]) => gue = *kind == FOU_ENCAP_GUE,
                    _ => {}
                }
            }
            let port = port.ok_or_else(|| RtnlError::Decode("fou port without a port".into()))?;
            ports.push(FouPort { port, ipv6, gue });
        }
        Ok(ports)
    }

    /// Opens GUE receive port `port` of one family.
    pub fn add_gue(&mut self, port: u16, ipv6: bool) -> Result<(), RtnlError> {
        let seq = self.netlink.next_seq();
        let request = Request::new(self.family, NLM_F_ACK, seq)
            .genlmsghdr(FOU_CMD_ADD, FOU_GENL_VERSION)
            .attr_be16(FOU_ATTR_PORT, port)
            .attr_u8(FOU_ATTR_AF, family(ipv6))
            .attr_u8(FOU_ATTR_TYPE, FOU_ENCAP_GUE)
            .finish();
        let what = format!("open GUE port {port}{}", suffix(ipv6));
        self.netlink
            .exchange(&request, seq, Until::Ack, &what)
            .map(drop)
    }

    /// Closes receive port `port` of one family.
    pub fn delete(&mut self, port: u16, ipv6: bool) -> Result<(), RtnlError> {
        let seq = self.netlink.next_seq();
        let request = Request::new(self.family, NLM_F_ACK, seq)
            .genlmsghdr(FOU_CMD_DEL, FOU_GENL_VERSION)
            .attr_be16(FOU_ATTR_PORT, port)
            .attr_u8(FOU_ATTR_AF, family(ipv6))
            .finish();
        let what = format!("close GUE port {port}{}", suffix(ipv6));
        self.netlink
            .exchange(&request, seq, Until::Ack, &what)
            .map(drop)
    }
}

fn family(ipv6: bool) -> u8 {
    if ipv6 {
        AF_INET6
    } else {
        AF_INET
    }
}

fn suffix(ipv6: bool) -> &'static str {
    if ipv6 {
        " (IPv6)"
    } else {
        ""
    }
}

//! The rtnetlink messages this crate sends and reads, encoded by hand: the netlink header,
//! `ifinfomsg` and `ifaddrmsg` with their attributes (`include/uapi/linux/rtnetlink.h`,
//! `if_link.h`, `if_addr.h`). All in the host's byte order, as netlink is.

use std::net::IpAddr;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
pub const IFF_UP: u32 = 0x1;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
/// No duplicate address detection: an IPv6 VIP is usable at once, never "tentative".
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_PERMANENT: u32 = 0x80;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `RT_SCOPE_UNIVERSE`
const SCOPE_UNIVERSE: u8 = 0;

pub const HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;

/// A request being written: header first, its length filled in by [`Request::finish`].
#[derive(Debug)]
pub struct Request {
    bytes: Vec<u8>,
    /// Start of each open nested attribute.
    open: Vec<usize>,
}

impl Request {
    pub fn new(kind: u16, flags: u16, seq: u32) -> Self {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        bytes.extend_from_slice(&seq.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        Request {
            bytes,
            open: Vec::new(),
        }
    }

    /// `struct ifinfomsg` for the link `index` (0: by name, or a new one).
    pub fn ifinfomsg(mut self, index: u32, flags: u32, change: u32) -> Self {
        self.bytes.push(AF_UNSPEC);
        self.bytes.push(0);
        self.bytes.extend_from_slice(&0u16.to_ne_bytes());
        self.bytes.extend_from_slice(&index.to_ne_bytes());
        self.bytes.extend_from_slice(&flags.to_ne_bytes());
        self.bytes.extend_from_slice(&change.to_ne_bytes());
        self
    }

    /// `struct ifaddrmsg` for `address` as a host address (/32, /128) on link `index`.
    pub fn ifaddrmsg_host(mut self, address: IpAddr, index: u32) -> Self {
        let (family, prefix) = match address {
            IpAddr::V4(_) => (AF_INET, 32),
            IpAddr::V6(_) => (AF_INET6, 128),
        };
        self.bytes
            .extend_from_slice(&[family, prefix, 0, SCOPE_UNIVERSE]);
        self.bytes.extend_from_slice(&index.to_ne_bytes());
        self
    }

    /// `struct ifaddrmsg` of every family, for a dump.
    pub fn ifaddrmsg_any(mut self) -> Self {
        self.bytes.extend_from_slice(&[AF_UNSPEC, 0, 0, 0]);
        self.bytes.extend_from_slice(&0u32.to_ne_bytes());
        self
    }

    /// `struct genlmsghdr`: a generic netlink command of the family's `version`.
    pub fn genlmsghdr(mut self, command: u8, version: u8) -> Self {
        self.bytes.extend_from_slice(&[command, version, 0, 0]);
        self
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(self, kind: u16, value: &str) -> Self {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    pub fn attr_u8(self, kind: u16, value: u8) -> Self {
        self.attr(kind, &[value])
    }

    /// A 16-bit attribute in network byte order (`__be16`).
    pub fn attr_be16(self, kind: u16, value: u16) -> Self {
        self.attr(kind, &value.to_be_bytes())
    }

    pub fn ifname(self, name: &str) -> Self {
        let mut value = name.as_bytes().to_vec();
        value.push(0);
        self.attr(IFLA_IFNAME, &value)
    }

    /// `IFLA_LINKINFO { IFLA_INFO_KIND kind }`
    pub fn link_kind(self, kind: &str) -> Self {
        let mut value = kind.as_bytes().to_vec();
        value.push(0);
        self.nest(IFLA_LINKINFO)
            .attr(IFLA_INFO_KIND, &value)
            .end_nest()
    }

    /// The address as `IFA_LOCAL` (IPv4) and `IFA_ADDRESS`, with `IFA_FLAGS`.
    pub fn address(self, address: IpAddr, flags: u32) -> Self {
        let octets = match address {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let with_local = if address.is_ipv4() {
            self.attr(IFA_LOCAL, &octets)
        } else {
            self
        };
        with_local
            .attr(IFA_ADDRESS, &octets)
            .attr(IFA_FLAGS, &flags.to_ne_bytes())
    }

    fn attr(mut self, kind: u16, value: &[u8]) -> Self {
        let len = u16::try_from(4 + value.len()).expect("attributes here are small");
        self.bytes.extend_from_slice(&len.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(value);
        self.pad();
        self
    }

    fn nest(mut self, kind: u16) -> Self {
        self.open.push(self.bytes.len());
        self.bytes.extend_from_slice(&0u16.to_ne_bytes());
        self.bytes
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end_nest(mut self) -> Self {
        let start = self.open.pop().expect("a nest is open");
        let len = u16::try_from(self.bytes.len() - start).expect("attributes here are small");
        self.bytes[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
    }

    pub fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.bytes.len()).expect("requests here are small");
        self.bytes[..4].copy_from_slice(&len.to_ne_bytes());
        self.bytes
    }
}

/// One message of a reply: its header fields and payload.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The messages of one datagram, or why it is malformed.
pub fn messages(mut data: &[u8]) -> Result<Vec<Message<'_>>, String> {
    let mut out = Vec::new();
    while data.len() >= HEADER_LEN {
        let len = u32_at(data, 0) as usize;
        if len < HEADER_LEN || len > data.len() {
            return Err(format!("message length {len} of {} bytes left", data.len()));
        }
        out.push(Message {
            kind: u16::from_ne_bytes([data[4], data[5]]),
            flags: u16::from_ne_bytes([data[6], data[7]]),
            seq: u32_at(data, 8),
            payload: &data[HEADER_LEN..len],
        });
        data = &data[align(len).min(data.len())..];
    }
    Ok(out)
}

/// `NLMSG_ERROR` flags: only the request's header is echoed; attributes follow.
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`
const NLMSGERR_ATTR_MSG: u16 = 1;

/// The errno of an `NLMSG_ERROR` message (0 for an acknowledgement), and the extended
/// acknowledgement's message when the kernel sent one.
pub fn error_of(message: &Message<'_>) -> Result<(i32, Option<String>), String> {
    let payload = message.payload;
    if payload.len() < 4 + HEADER_LEN {
        return Err("short NLMSG_ERROR".into());
    }
    let errno = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
    if message.flags & NLM_F_ACK_TLVS == 0 {
        return Ok((errno, None));
    }
    // The request follows, whole or (capped) only its header, then the attributes.
    let echoed = if message.flags & NLM_F_CAPPED != 0 {
        HEADER_LEN
    } else {
        align(u32_at(payload, 4) as usize)
    };
    let after = payload.get(4 + echoed..).unwrap_or_default();
    let message = attrs(after)
        .find(|(kind, _)| *kind == NLMSGERR_ATTR_MSG)
        .map(|(_, value)| cstr(value));
    Ok((errno, message))
}

/// A link of an `RTM_NEWLINK` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub flags: u32,
    pub name: String,
    /// `dummy`, `ipip`, `veth`...; `None` for a physical device.
    pub kind: Option<String>,
}

pub fn link(payload: &[u8]) -> Result<LinkInfo, String> {
    if payload.len() < IFINFOMSG_LEN {
        return Err("short ifinfomsg".into());
    }
    let index = u32_at(payload, 4);
    let flags = u32_at(payload, 8);
    let mut name = None;
    let mut kind = None;
    for (attr, value) in attrs(&payload[IFINFOMSG_LEN..]) {
        match attr {
            IFLA_IFNAME => name = Some(cstr(value)),
            IFLA_LINKINFO => {
                kind = attrs(value)
                    .find(|(a, _)| *a == IFLA_INFO_KIND)
                    .map(|(_, v)| cstr(v));
            }
            _ => {}
        }
    }
    Ok(LinkInfo {
        index,
        flags,
        name: name.ok_or("link without a name")?,
        kind,
    })
}

/// An address of an `RTM_NEWADDR` reply: (link index, address, prefix length).
pub fn address(payload: &[u8]) -> Result<Option<(u32, IpAddr, u8)>, String> {
    if payload.len() < IFADDRMSG_LEN {
        return Err("short ifaddrmsg".into());
    }
    let (family, prefix) = (payload[0], payload[1]);
    let index = u32_at(payload, 4);
    let (mut local, mut address) = (None, None);
    for (attr, value) in attrs(&payload[IFADDRMSG_LEN..]) {
        let ip = match (family, value.len()) {
            (AF_INET, 4) => IpAddr::from(<[u8; 4]>::try_from(value).expect("4 bytes")),
            (AF_INET6, 16) => IpAddr::from(<[u8; 16]>::try_from(value).expect("16 bytes")),
            _ => continue,
        };
        match attr {
            IFA_LOCAL => local = Some(ip),
            IFA_ADDRESS => address = Some(ip),
            _ => {}
        }
    }
    // On a point-to-point link IFA_ADDRESS is the peer; IFA_LOCAL is always ours.
    Ok(local.or(address).map(|ip| (index, ip, prefix)))
}

/// The attributes of a generic netlink reply, after its `genlmsghdr`.
pub fn genl_attrs(payload: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    attrs(payload.get(4..).unwrap_or_default())
}

/// The attributes in `data`: (type without flags, value).
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([data[0], data[1]]));
        let kind = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > data.len() {
            return None;
        }
        let value = &data[4..len];
        data = &data[align(len).min(data.len())..];
        Some((kind, value))
    })
}

fn cstr(value: &[u8]) -> String {
    let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn a_dummy_link_request_nests_its_kind_and_pads_every_attribute() {
        let bytes = Request::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, 7)
            .ifinfomsg(0, IFF_UP, IFF_UP)
            .ifname("lvs0")
            .link_kind("dummy")
            .finish();
        // header 16 + ifinfomsg 16 + IFLA_IFNAME (4 + 5, padded to 12)
        // + IFLA_LINKINFO (4 + IFLA_INFO_KIND (4 + 6, padded to 12)) = 60
        assert_eq!(bytes.len(), 60);
        assert_eq!(u32_at(&bytes, 0), 60);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), RTM_NEWLINK);
        assert_eq!(
            u16::from_ne_bytes([bytes[6], bytes[7]]),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK
        );
        assert_eq!(&bytes[36..41], b"lvs0\0");
        let linkinfo = &bytes[44..];
        assert_eq!(u16::from_ne_bytes([linkinfo[0], linkinfo[1]]), 16);
        assert_eq!(
            u16::from_ne_bytes([linkinfo[2], linkinfo[3]]),
            IFLA_LINKINFO | NLA_F_NESTED
        );
        assert_eq!(&linkinfo[8..14], b"dummy\0");
        // The same bytes read back as a link.
        let reply = link(&bytes[HEADER_LEN..]).expect("a link");
        assert_eq!(reply.name, "lvs0");
        assert_eq!(reply.kind.as_deref(), Some("dummy"));
        assert_eq!(reply.flags, IFF_UP);
    }

    #[test]
    fn host_addresses_read_back_as_written() {
        for (ip, prefix) in [
            (IpAddr::from(Ipv4Addr::new(10, 0, 0, 1)), 32),
            (
                IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                128,
            ),
        ] {
            let bytes = Request::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, 1)
                .ifaddrmsg_host(ip, 5)
                .address(ip, IFA_F_NODAD)
                .finish();
            let parsed = messages(&bytes).expect("one message");
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].seq, 1);
            assert_eq!(
                address(parsed[0].payload).expect("valid"),
                Some((5, ip, prefix))
            );
        }
    }

    #[test]
    fn an_error_carries_its_errno_and_extended_message() {
        let request = Request::new(RTM_NEWADDR, NLM_F_ACK, 3)
            .ifaddrmsg_any()
            .finish();
        let text = b"File exists\0";
        let mut tlv = (4 + text.len() as u16).to_ne_bytes().to_vec();
        tlv.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        tlv.extend_from_slice(text);
        for (flags, echoed) in [
            (NLM_F_ACK_TLVS, &request[..]),
            (NLM_F_ACK_TLVS | NLM_F_CAPPED, &request[..HEADER_LEN]),
        ] {
            let mut payload = (-17i32).to_ne_bytes().to_vec();
            payload.extend_from_slice(echoed);
            payload.extend_from_slice(&tlv);
            let message = Message {
                kind: NLMSG_ERROR,
                flags,
                seq: 3,
                payload: &payload,
            };
            assert_eq!(
                error_of(&message).expect("valid"),
                (-17, Some("File exists".into()))
            );
        }
        let mut ack = 0i32.to_ne_bytes().to_vec();
        ack.extend_from_slice(&request[..HEADER_LEN]);
        let message = Message {
            kind: NLMSG_ERROR,
            flags: NLM_F_CAPPED,
            seq: 3,
            payload: &ack,
        };
        assert_eq!(error_of(&message).expect("valid"), (0, None));
        assert!(
            messages(&[20, 0, 0, 0, 0]).is_ok(),
            "a trailing fragment is ignored"
        );
        assert!(messages(&8u32.to_ne_bytes().repeat(5)).is_err());
    }
}

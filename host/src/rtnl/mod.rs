//! A small rtnetlink client: find, create, bring up and delete links; list, add and delete
//! addresses. One request at a time, each acknowledged, so every refusal is the kernel's
//! own errno (and extended message) for exactly that request.

mod fou;
mod wire;

pub use fou::{Fou, FouPort};

use std::io;
use std::net::IpAddr;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use wire::{Request, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};

const ENODEV: i32 = 19;
const EINTR: i32 = 4;
/// A dump datagram is at most a page or two; this holds any.
const RECV_BUFFER: usize = 64 << 10;

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `dummy`, `ipip`, `veth`...; `None` for a physical device.
    pub kind: Option<String>,
    pub up: bool,
}

impl From<wire::LinkInfo> for Link {
    fn from(info: wire::LinkInfo) -> Self {
        Link {
            index: info.index,
            up: info.flags & wire::IFF_UP != 0,
            name: info.name,
            kind: info.kind,
        }
    }
}

/// An address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub link: u32,
    pub ip: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum RtnlError {
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    /// The kernel refused a request.
    #[error("{what}: {reason}")]
    Kernel {
        what: String,
        errno: i32,
        reason: String,
    },
    #[error("malformed rtnetlink reply: {0}")]
    Decode(String),
}

impl RtnlError {
    /// The kernel's errno (positive), when it refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RtnlError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// An rtnetlink socket in the network namespace of the thread that opened it.
pub struct Rtnl {
    socket: NlSocket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Rtnl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rtnl")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// What ends a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The acknowledgement (`NLMSG_ERROR` with 0) or the refusal.
    Ack,
    /// `NLMSG_DONE`, after the dump's messages.
    Done,
    /// The first data message, or a refusal.
    OneMessage,
}

impl Rtnl {
    pub fn open() -> Result<Self, RtnlError> {
        Rtnl::open_family(NlFamily::Route)
    }

    /// A socket of another netlink family, for the requests this codec shares with it.
    fn open_family(family: NlFamily) -> Result<Self, RtnlError> {
        let socket =
            NlSocket::connect(family, None, Groups::empty()).map_err(|source| RtnlError::Io {
                context: "cannot open netlink socket",
                source,
            })?;
        socket.block().map_err(|source| RtnlError::Io {
            context: "cannot make netlink socket blocking",
            source,
        })?;
        // Best effort: older kernels send no extended messages.
        let _ = socket.enable_ext_ack(true);
        Ok(Rtnl {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// The link named `name`, if there is one.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_GETLINK, 0, seq)
            .ifinfomsg(0, 0, 0)
            .ifname(name)
            .finish();
        match self.exchange(&request, seq, Until::OneMessage, &format!("link {name}")) {
            Ok(replies) => {
                let payload = replies
                    .first()
                    .ok_or_else(|| RtnlError::Decode("no reply for a link".into()))?;
                wire::link(payload)
                    .map(|info| Some(Link::from(info)))
                    .map_err(RtnlError::Decode)
            }
            Err(e) if e.errno() == Some(ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link.
    pub fn links(&mut self) -> Result<Vec<Link>, RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_GETLINK, NLM_F_DUMP, seq)
            .ifinfomsg(0, 0, 0)
            .finish();
        let replies = self.exchange(&request, seq, Until::Done, "list links")?;
        replies
            .iter()
            .map(|payload| {
                wire::link(payload)
                    .map(Link::from)
                    .map_err(RtnlError::Decode)
            })
            .collect()
    }

    /// Creates a dummy interface, up.
    pub fn add_dummy(&mut self, name: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(
            wire::RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            seq,
        )
        .ifinfomsg(0, wire::IFF_UP, wire::IFF_UP)
        .ifname(name)
        .link_kind("dummy")
        .finish();
        self.exchange(
            &request,
            seq,
            Until::Ack,
            &format!("create dummy link {name}"),
        )
        .map(drop)
    }

    /// Brings link `index` up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_NEWLINK, NLM_F_ACK, seq)
            .ifinfomsg(index, wire::IFF_UP, wire::IFF_UP)
            .finish();
        self.exchange(&request, seq, Until::Ack, &format!("bring link {name} up"))
            .map(drop)
    }

    /// Brings link `index` down.
    pub fn set_down(&mut self, index: u32, name: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_NEWLINK, NLM_F_ACK, seq)
            .ifinfomsg(index, 0, wire::IFF_UP)
            .finish();
        self.exchange(
            &request,
            seq,
            Until::Ack,
            &format!("bring link {name} down"),
        )
        .map(drop)
    }

    /// Makes sure the fallback device `name` of the tunnel driver `kind` (`tunl0` of
    /// `ipip`, `gre0` of `gre`...) exists, by asking for a link of that kind: the kernel
    /// loads the driver for it, which creates its fallback device in every namespace, and
    /// then refuses the request as a duplicate. Where the driver creates none (the
    /// `fb_tunnels_only_for_init_net` sysctl), the link asked for is made instead: a tunnel
    /// with neither end set, which receives what the fallback device would.
    pub fn ensure_fallback_tunnel(&mut self, kind: &str, name: &str) -> Result<(), RtnlError> {
        const EEXIST: i32 = 17;
        let seq = self.next_seq();
        let request = Request::new(
            wire::RTM_NEWLINK,
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            seq,
        )
        .ifinfomsg(0, 0, 0)
        .ifname(name)
        .link_kind(kind)
        .finish();
        let what = format!("create {kind} link {name} (is the {kind} driver available?)");
        match self.exchange(&request, seq, Until::Ack, &what) {
            Err(error) if error.errno() == Some(EEXIST) => Ok(()),
            other => other.map(drop),
        }
    }

    pub fn delete_link(&mut self, index: u32, name: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_DELLINK, NLM_F_ACK, seq)
            .ifinfomsg(index, 0, 0)
            .finish();
        self.exchange(&request, seq, Until::Ack, &format!("delete link {name}"))
            .map(drop)
    }

    /// Every address of every link.
    pub fn addresses(&mut self) -> Result<Vec<Address>, RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_GETADDR, NLM_F_DUMP, seq)
            .ifaddrmsg_any()
            .finish();
        let replies = self.exchange(&request, seq, Until::Done, "list addresses")?;
        let mut addresses = Vec::with_capacity(replies.len());
        for payload in &replies {
            if let Some((link, ip, prefix)) = wire::address(payload).map_err(RtnlError::Decode)? {
                addresses.push(Address { link, ip, prefix });
            }
        }
        Ok(addresses)
    }

    /// Adds `ip` as a host address (/32, /128) to link `index`; IPv6 without duplicate
    /// address detection, so it serves at once.
    pub fn add_address(&mut self, index: u32, ip: IpAddr, link: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let flags = wire::IFA_F_PERMANENT | if ip.is_ipv6() { wire::IFA_F_NODAD } else { 0 };
        let request = Request::new(
            wire::RTM_NEWADDR,
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            seq,
        )
        .ifaddrmsg_host(ip, index)
        .address(ip, flags)
        .finish();
        self.exchange(&request, seq, Until::Ack, &format!("add {ip} to {link}"))
            .map(drop)
    }

    /// Deletes the host address `ip` from link `index`.
    pub fn delete_address(&mut self, index: u32, ip: IpAddr, link: &str) -> Result<(), RtnlError> {
        let seq = self.next_seq();
        let request = Request::new(wire::RTM_DELADDR, NLM_F_ACK, seq)
            .ifaddrmsg_host(ip, index)
            .address(ip, 0)
            .finish();
        self.exchange(
            &request,
            seq,
            Until::Ack,
            &format!("delete {ip} from {link}"),
        )
        .map(drop)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `request` and reads its reply to the end: the payloads of its data messages.
    fn exchange(
        &mut self,
        request: &[u8],
        seq: u32,
        until: Until,
        what: &str,
    ) -> Result<Vec<Vec<u8>>, RtnlError> {
        self.send(request)?;
        let mut payloads = Vec::new();
        loop {
            let len = self.recv()?;
            let messages = wire::messages(&self.buf[..len]).map_err(RtnlError::Decode)?;
            for message in messages {
                if message.seq != seq {
                    // A late reply to an earlier request that failed half-way.
                    continue;
                }
                match message.kind {
                    wire::NLMSG_ERROR => {
                        let (errno, extended) =
                            wire::error_of(&message).map_err(RtnlError::Decode)?;
                        if errno == 0 {
                            return Ok(payloads);
                        }
                        let errno = -errno;
                        let mut reason = io::Error::from_raw_os_error(errno).to_string();
                        if let Some(extended) = extended.filter(|m| !m.is_empty()) {
                            reason = format!("{extended} ({reason})");
                        }
                        return Err(RtnlError::Kernel {
                            what: what.to_owned(),
                            errno,
                            reason,
                        });
                    }
                    wire::NLMSG_DONE => return Ok(payloads),
                    _ => {
                        payloads.push(message.payload.to_vec());
                        if until == Until::OneMessage {
                            return Ok(payloads);
                        }
                    }
                }
            }
        }
    }

    fn send(&self, buf: &[u8]) -> Result<(), RtnlError> {
        loop {
            match self.socket.send(buf, Msg::empty()) {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(EINTR) => continue,
                Err(source) => {
                    return Err(RtnlError::Io {
                        context: "cannot send to rtnetlink",
                        source,
                    })
                }
            }
        }
    }

    fn recv(&mut self) -> Result<usize, RtnlError> {
        loop {
            match self.socket.recv(&mut self.buf[..], Msg::empty()) {
                Ok((len, _)) => return Ok(len),
                Err(e) if e.raw_os_error() == Some(EINTR) => continue,
                Err(source) => {
                    return Err(RtnlError::Io {
                        context: "cannot receive from rtnetlink",
                        source,
                    })
                }
            }
        }
    }
}

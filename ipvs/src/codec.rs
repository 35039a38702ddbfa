//! The netlink wire format, both directions: requests written (`nlmsghdr`, `genlmsghdr`,
//! attributes with nesting and padding) and replies read in place (messages,
//! acknowledgements, refusals, attributes borrowed from the receive buffer, so a dump of
//! thousands of destinations allocates only what the caller keeps).
//!
//! Layouts follow `include/uapi/linux/netlink.h` and `genetlink.h`; the error and done
//! messages follow `netlink_ack` and `netlink_dump_done` (6.1). Integers are in host order
//! unless the caller says otherwise ([`AttrWriter::be16`], [`Attrs::opt_be16`]): the kernel's
//! `nla_put_*` / `nla_get_*` calls in `net/netfilter/ipvs/ip_vs_ctl.c` send ports big-endian
//! and most other integers in host order.
//!
//! Every attribute id is typed by the enum of its level ([`AttrId`]): the kernel reuses
//! numbers across levels, so a number read or written at the wrong level would still
//! "work".

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Error;

/// The attribute types of one nesting level, one enum per level.
pub(crate) trait AttrId: Copy + fmt::Debug {
    /// The attribute's `nla_type`, without flags.
    fn id(self) -> u16;
}

/// `struct nlmsghdr`, `struct genlmsghdr` and `struct nlattr`.
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = 4;
/// `NLA_F_NESTED`, and `NLA_TYPE_MASK`: the type without `NLA_F_NESTED` and
/// `NLA_F_NET_BYTEORDER`.
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `NLM_F_REQUEST`, `NLM_F_ACK`, `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_CAPPED`: an error message echoes only the request's header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS`: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSG_NOOP`, `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

/// `enum nlmsgerr_attrs`: the extended ack's attributes.
#[derive(Debug, Clone, Copy)]
enum ExtAckAttr {
    /// `NLMSGERR_ATTR_MSG`: the text.
    Msg = 1,
}

impl AttrId for ExtAckAttr {
    fn id(self) -> u16 {
        self as u16
    }
}

/// `NLMSG_ALIGN` and `NLA_ALIGN`: lengths round up to 4.
pub(crate) fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// A generic netlink request being written: its command, then its top-level attributes of
/// level `T`. The netlink header is filled in by [`Request::finish`], once the family and
/// sequence number are known.
#[derive(Debug)]
pub(crate) struct Request<T> {
    buf: Vec<u8>,
    level: PhantomData<T>,
}

impl<T: AttrId> Request<T> {
    pub(crate) fn new(cmd: u8, version: u8) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.resize(NLMSG_HDRLEN, 0);
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        Request {
            buf,
            level: PhantomData,
        }
    }

    /// The top-level attributes, appended in the order written.
    pub(crate) fn attrs(&mut self) -> AttrWriter<'_, T> {
        AttrWriter {
            buf: &mut self.buf,
            level: PhantomData,
        }
    }

    /// The message's bytes: `NLM_F_REQUEST` plus `NLM_F_DUMP` or `NLM_F_ACK`, port id 0
    /// (the kernel).
    pub(crate) fn finish(mut self, family: u16, seq: u32, dump: bool) -> Result<Vec<u8>, Error> {
        let len = u32::try_from(self.buf.len())
            .map_err(|_| Error::Encode(format!("a message of {} bytes", self.buf.len())))?;
        let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
        let header = &mut self.buf[..NLMSG_HDRLEN];
        header[0..4].copy_from_slice(&len.to_ne_bytes());
        header[4..6].copy_from_slice(&family.to_ne_bytes());
        header[6..8].copy_from_slice(&flags.to_ne_bytes());
        header[8..12].copy_from_slice(&seq.to_ne_bytes());
        header[12..16].copy_from_slice(&0u32.to_ne_bytes());
        Ok(self.buf)
    }
}

/// Appends attributes of level `T` to a message, each padded to 4 bytes; nested levels are
/// written in place, so a request is one buffer, never copied.
#[derive(Debug)]
pub(crate) struct AttrWriter<'b, T> {
    buf: &'b mut Vec<u8>,
    level: PhantomData<T>,
}

impl<T: AttrId> AttrWriter<'_, T> {
    pub(crate) fn bytes(&mut self, ty: T, payload: &[u8]) -> Result<&mut Self, Error> {
        let start = self.begin(ty.id());
        self.buf.extend_from_slice(payload);
        self.end(start, ty)
    }

    pub(crate) fn u8(&mut self, ty: T, value: u8) -> Result<&mut Self, Error> {
        self.bytes(ty, &[value])
    }

    pub(crate) fn u16(&mut self, ty: T, value: u16) -> Result<&mut Self, Error> {
        self.bytes(ty, &value.to_ne_bytes())
    }

    /// A big-endian `u16` (`nla_put_be16`), as ports travel.
    pub(crate) fn be16(&mut self, ty: T, value: u16) -> Result<&mut Self, Error> {
        self.bytes(ty, &value.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, ty: T, value: u32) -> Result<&mut Self, Error> {
        self.bytes(ty, &value.to_ne_bytes())
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`).
    pub(crate) fn string(&mut self, ty: T, value: &str) -> Result<&mut Self, Error> {
        let start = self.begin(ty.id());
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
        self.end(start, ty)
    }

    /// An address as `struct in_addr` (4 bytes) or `struct in6_addr` (16 bytes); the kernel
    /// copies it into a zeroed `union nf_inet_addr`.
    pub(crate) fn addr(&mut self, ty: T, addr: IpAddr) -> Result<&mut Self, Error> {
        match addr {
            IpAddr::V4(a) => self.bytes(ty, &a.octets()),
            IpAddr::V6(a) => self.bytes(ty, &a.octets()),
        }
    }

    /// A nested attribute (with `NLA_F_NESTED`, as `nla_nest_start` sets it) holding the
    /// attributes of level `C` that `fill` writes.
    pub(crate) fn nested<C: AttrId>(
        &mut self,
        ty: T,
        fill: impl FnOnce(&mut AttrWriter<'_, C>) -> Result<(), Error>,
    ) -> Result<&mut Self, Error> {
        let start = self.begin(ty.id() | NLA_F_NESTED);
        fill(&mut AttrWriter {
            buf: self.buf,
            level: PhantomData,
        })?;
        self.end(start, ty)
    }

    /// Writes a header whose length [`Self::end`] fills in.
    fn begin(&mut self, nla_type: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&nla_type.to_ne_bytes());
        start
    }

    /// The length counts the payload, not the attribute's own padding; a nested one's
    /// counts its children's padding, as `nla_nest_end` does.
    fn end(&mut self, start: usize, ty: T) -> Result<&mut Self, Error> {
        let len = self.buf.len() - start;
        let len = u16::try_from(len).map_err(|_| {
            Error::Encode(format!(
                "attribute {ty:?} takes {len} bytes, more than an attribute holds"
            ))
        })?;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.buf.resize(align(self.buf.len()), 0);
        Ok(self)
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// The attributes of one level of a reply, typed by that level's enum and borrowed from the
/// receive buffer. Lengths are checked once, when the list is parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attrs<'a, T> {
    /// Where these attributes sit, for error messages ("service", "service stats").
    what: &'static str,
    packed: &'a [u8],
    level: PhantomData<T>,
}

impl<'a, T: AttrId> Attrs<'a, T> {
    /// The attributes packed in `payload`, each checked to fit in it.
    pub(crate) fn parse(what: &'static str, payload: &'a [u8]) -> Result<Self, Error> {
        let mut rest = payload;
        while !rest.is_empty() {
            let len = if rest.len() >= NLA_HDRLEN {
                usize::from(u16_at(rest, 0))
            } else {
                0
            };
            if len < NLA_HDRLEN || len > rest.len() {
                return Err(Error::Decode(format!(
                    "{what}: malformed attributes: length {len} with {} bytes left",
                    rest.len()
                )));
            }
            rest = &rest[align(len).min(rest.len())..];
        }
        Ok(Attrs {
            what,
            packed: payload,
            level: PhantomData,
        })
    }

    /// Each attribute's type (flags removed) and payload, in order.
    fn iter(&self) -> impl Iterator<Item = (u16, &'a [u8])> {
        let mut rest = self.packed;
        std::iter::from_fn(move || {
            if rest.len() < NLA_HDRLEN {
                return None;
            }
            // Checked by `parse`.
            let len = usize::from(u16_at(rest, 0));
            let ty = u16_at(rest, 2) & NLA_TYPE_MASK;
            let payload = &rest[NLA_HDRLEN..len];
            rest = &rest[align(len).min(rest.len())..];
            Some((ty, payload))
        })
    }

    /// The payload of the first attribute of type `ty`.
    pub(crate) fn get(&self, ty: T) -> Option<&'a [u8]> {
        let id = ty.id();
        self.iter()
            .find(|(t, _)| *t == id)
            .map(|(_, payload)| payload)
    }

    fn fixed<const N: usize>(&self, ty: T) -> Result<Option<[u8; N]>, Error> {
        match self.get(ty) {
            None => Ok(None),
            Some(raw) => raw
                .get(..N)
                .and_then(|b| b.try_into().ok())
                .map(Some)
                .ok_or_else(|| {
                    Error::Decode(format!(
                        "{}: attribute {} has {} bytes, expected {N}",
                        self.what,
                        ty.id(),
                        raw.len()
                    ))
                }),
        }
    }

    pub(crate) fn opt_u8(&self, ty: T) -> Result<Option<u8>, Error> {
        Ok(self.fixed::<1>(ty)?.map(|b| b[0]))
    }

    pub(crate) fn opt_u16(&self, ty: T) -> Result<Option<u16>, Error> {
        Ok(self.fixed::<2>(ty)?.map(u16::from_ne_bytes))
    }

    pub(crate) fn opt_be16(&self, ty: T) -> Result<Option<u16>, Error> {
        Ok(self.fixed::<2>(ty)?.map(u16::from_be_bytes))
    }

    pub(crate) fn opt_u32(&self, ty: T) -> Result<Option<u32>, Error> {
        Ok(self.fixed::<4>(ty)?.map(u32::from_ne_bytes))
    }

    pub(crate) fn opt_u64(&self, ty: T) -> Result<Option<u64>, Error> {
        Ok(self.fixed::<8>(ty)?.map(u64::from_ne_bytes))
    }

    pub(crate) fn u16(&self, ty: T) -> Result<u16, Error> {
        self.opt_u16(ty)?.ok_or_else(|| self.missing(ty))
    }

    pub(crate) fn u32(&self, ty: T) -> Result<u32, Error> {
        self.opt_u32(ty)?.ok_or_else(|| self.missing(ty))
    }

    /// A NUL-terminated string; bytes after the first NUL are ignored.
    pub(crate) fn opt_string(&self, ty: T) -> Result<Option<String>, Error> {
        let Some(raw) = self.get(ty) else {
            return Ok(None);
        };
        let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
        String::from_utf8(raw[..end].to_vec())
            .map(Some)
            .map_err(|_| {
                Error::Decode(format!("{}: attribute {} is not UTF-8", self.what, ty.id()))
            })
    }

    /// An address stored as `union nf_inet_addr` (16 bytes, IPv4 in the first four).
    pub(crate) fn opt_addr(&self, ty: T, inet6: bool) -> Result<Option<IpAddr>, Error> {
        let Some(raw) = self.get(ty) else {
            return Ok(None);
        };
        let addr = if inet6 {
            raw.get(..16)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
        } else {
            raw.get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
        };
        addr.map(Some).ok_or_else(|| {
            Error::Decode(format!(
                "{}: address attribute {} has {} bytes",
                self.what,
                ty.id(),
                raw.len()
            ))
        })
    }

    /// The attributes of level `C` nested in `ty`, checked as they are opened.
    pub(crate) fn opt_nested<C: AttrId>(
        &self,
        ty: T,
        what: &'static str,
    ) -> Result<Option<Attrs<'a, C>>, Error> {
        match self.get(ty) {
            None => Ok(None),
            Some(raw) => Attrs::parse(what, raw).map(Some),
        }
    }

    pub(crate) fn nested<C: AttrId>(
        &self,
        ty: T,
        what: &'static str,
    ) -> Result<Attrs<'a, C>, Error> {
        self.opt_nested(ty, what)?.ok_or_else(|| self.missing(ty))
    }

    pub(crate) fn missing(&self, ty: T) -> Error {
        Error::Decode(format!("{}: attribute {} is missing", self.what, ty.id()))
    }
}

/// One netlink message: its header fields and payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Message<'a> {
    pub(crate) ty: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    pub(crate) pid: u32,
    payload: &'a [u8],
}

/// The kernel's refusal of one request: errno and extended-ack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Nack {
    pub(crate) errno: i32,
    pub(crate) message: Option<String>,
}

/// A generic netlink reply: its top-level attributes (the command is the request's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply<'a> {
    attrs: &'a [u8],
}

impl<'a> Reply<'a> {
    /// The top-level attributes, of level `T`; `what` names them in errors.
    pub(crate) fn attrs<T: AttrId>(&self, what: &'static str) -> Result<Attrs<'a, T>, Error> {
        Attrs::parse(what, self.attrs)
    }
}

/// What one message means to an exchange.
#[derive(Debug)]
pub(crate) enum Incoming<'a> {
    /// A data message (a reply or one entry of a dump).
    Reply(Reply<'a>),
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// `NLMSG_ERROR` with an errno.
    Nack(Nack),
    /// `NLMSG_DONE`, with the dump's final status.
    Done(Result<(), Nack>),
    /// `NLMSG_NOOP`: nothing.
    Noop,
}

/// The messages of one datagram, in order; a malformed one ends it with an error.
pub(crate) fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

/// See [`messages`].
#[derive(Debug)]
pub(crate) struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        Some(match split_message(self.rest) {
            Ok((message, rest)) => {
                self.rest = rest;
                Ok(message)
            }
            Err(error) => {
                self.rest = &[];
                Err(error)
            }
        })
    }
}

fn split_message(buf: &[u8]) -> Result<(Message<'_>, &[u8]), Error> {
    let malformed = |why: String| Error::Decode(format!("netlink message: {why}"));
    if buf.len() < NLMSG_HDRLEN {
        return Err(malformed(format!(
            "{} bytes left, a header takes 16",
            buf.len()
        )));
    }
    let len = u32_at(buf, 0) as usize;
    if len < NLMSG_HDRLEN || len > buf.len() {
        return Err(malformed(format!(
            "length {len} with {} bytes in the datagram",
            buf.len()
        )));
    }
    let message = Message {
        ty: u16_at(buf, 4),
        flags: u16_at(buf, 6),
        seq: u32_at(buf, 8),
        pid: u32_at(buf, 12),
        payload: &buf[NLMSG_HDRLEN..len],
    };
    let next = align(len).min(buf.len());
    Ok((message, &buf[next..]))
}

impl<'a> Message<'a> {
    /// What the message means: a reply, an acknowledgement, a refusal or a dump's end.
    pub(crate) fn incoming(&self) -> Result<Incoming<'a>, Error> {
        Ok(match self.ty {
            NLMSG_NOOP => Incoming::Noop,
            NLMSG_ERROR => match self.error_code("error")? {
                0 => Incoming::Ack,
                errno => Incoming::Nack(self.nack(errno)),
            },
            // A done message without an error code ended well (kernels before 4.x).
            NLMSG_DONE => match self.error_code("done").unwrap_or(0) {
                0 => Incoming::Done(Ok(())),
                errno => Incoming::Done(Err(self.nack(errno))),
            },
            NLMSG_OVERRUN => {
                return Err(Error::Protocol("the kernel reported a data overrun".into()))
            }
            _ => {
                if self.payload.len() < GENL_HDRLEN {
                    return Err(Error::Decode(format!(
                        "generic netlink message: {} bytes, the header takes 4",
                        self.payload.len()
                    )));
                }
                Incoming::Reply(Reply {
                    attrs: &self.payload[GENL_HDRLEN..],
                })
            }
        })
    }

    /// The `int error` that starts an error or done message.
    fn error_code(&self, what: &str) -> Result<i32, Error> {
        self.payload
            .get(..4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| Error::Decode(format!("netlink {what} message without an error code")))
    }

    /// A refusal and its extended-ack text. After the error code, an error message echoes
    /// the request (only its header when capped); a done message has nothing more. A
    /// malformed extended ack loses only the text, never the errno.
    fn nack(&self, error: i32) -> Nack {
        let mut tlvs_at = 4;
        if self.ty == NLMSG_ERROR {
            let capped = self.flags & NLM_F_CAPPED != 0;
            let echoed = if capped || self.payload.len() < 4 + NLMSG_HDRLEN {
                NLMSG_HDRLEN
            } else {
                u32_at(self.payload, 4) as usize
            };
            tlvs_at += align(echoed);
        }
        let message = self
            .payload
            .get(tlvs_at..)
            .filter(|_| self.flags & NLM_F_ACK_TLVS != 0)
            .and_then(|tlvs| Attrs::<ExtAckAttr>::parse("extended ack", tlvs).ok())
            .and_then(|tlvs| tlvs.get(ExtAckAttr::Msg))
            .map(|raw| {
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                String::from_utf8_lossy(&raw[..end]).into_owned()
            })
            .filter(|m| !m.is_empty());
        Nack {
            errno: error.saturating_neg(),
            message,
        }
    }
}

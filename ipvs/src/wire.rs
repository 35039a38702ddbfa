//! The kernel's netlink messages, read in place: headers and attributes are borrowed from
//! the receive buffer, so a dump of thousands of destinations allocates only what the
//! caller keeps. Layouts follow `include/uapi/linux/netlink.h` and `genetlink.h`; the
//! error and done messages follow `netlink_ack` and `netlink_dump_done` (6.1).

use crate::attrs::Attrs;
use crate::error::Error;

/// `NLMSG_NOOP`, `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// `NLM_F_CAPPED`: an error message echoes only the request's header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS`: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the extended ack's text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `struct nlmsghdr` and `struct genlmsghdr`.
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;

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

impl<'a> Reply<'a> {
    /// The top-level attributes; `what` names them in errors.
    pub(crate) fn attrs(&self, what: &'static str) -> Result<Attrs<'a>, Error> {
        Attrs::parse(what, self.attrs)
    }
}

/// The messages of one datagram, in order; a malformed one ends it with an error.
pub(crate) fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

/// See [`messages`].
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
            .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
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
            .and_then(|tlvs| Attrs::parse("extended ack", tlvs).ok())
            .and_then(|tlvs| tlvs.get(NLMSGERR_ATTR_MSG))
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

/// `NLMSG_ALIGN` and `NLA_ALIGN`: lengths round up to 4.
pub(crate) fn align(len: usize) -> usize {
    (len + 3) & !3
}

pub(crate) fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

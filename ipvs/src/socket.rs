//! The netlink connection: one socket, the `IPVS` family id resolved once, sequence numbers
//! checked on every reply, dumps read to `NLMSG_DONE`, and batches of acknowledged requests
//! sent in one `sendmsg`.

use std::io;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use crate::codec::{messages, AttrId, Incoming, Message, Nack, Reply, Request};
use crate::consts::{CtrlAttr, CTRL_CMD_GETFAMILY, CTRL_VERSION, FAMILY_NAME, GENL_ID_CTRL};
use crate::error::Error;

const EINTR: i32 = 4;
const ENOBUFS: i32 = 105;

/// Socket sizing. The defaults suit tables of tens of thousands of rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// `SO_RCVBUF` to ask for (the kernel caps it at `net.core.rmem_max`).
    pub recv_buffer: usize,
    /// Most requests written into one `sendmsg`. Every request is acknowledged and the
    /// acknowledgements of one `sendmsg` queue up before they are read, so this bounds the
    /// receive buffer a batch needs (an ack takes about 1 KiB of it) and keeps a large batch
    /// from overrunning the socket (which loses acknowledgements, never deadlocks).
    pub batch_messages: usize,
    /// Most bytes written into one `sendmsg`; must stay below `net.core.wmem_default`.
    pub batch_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            recv_buffer: 4 << 20,
            batch_messages: 128,
            batch_bytes: 64 << 10,
        }
    }
}

/// An encoded request waiting to be sent, with its sequence number.
#[derive(Debug)]
pub(crate) struct Outgoing {
    bytes: Vec<u8>,
    seq: u32,
}

/// One connection to the kernel, in the network namespace of the thread that opened it.
pub(crate) struct Connection {
    socket: NlSocket,
    pid: u32,
    family: u16,
    seq: u32,
    recv_buf: Vec<u8>,
    config: Config,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("pid", &self.pid)
            .field("family", &self.family)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens the socket and resolves the `IPVS` family.
    pub(crate) fn open(config: Config) -> Result<Self, Error> {
        let socket = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| Error::io("cannot open generic netlink socket", e))?;
        socket
            .block()
            .map_err(|e| Error::io("cannot make netlink socket blocking", e))?;
        let pid = socket
            .pid()
            .map_err(|e| Error::io("cannot read netlink port id", e))?;
        // Both are best effort: old kernels lack extended acks, and the kernel caps the
        // buffer size itself.
        let _ = socket.enable_ext_ack(true);
        let _ = socket.set_recv_buffer_size(config.recv_buffer);
        let mut conn = Connection {
            socket,
            pid,
            family: 0,
            seq: 0,
            recv_buf: vec![0; 128 << 10],
            config,
        };
        conn.family = conn.resolve_family()?;
        Ok(conn)
    }

    pub(crate) fn config(&self) -> Config {
        self.config
    }

    /// Addresses one IPVS request to the family, with the next sequence number.
    pub(crate) fn request<T: AttrId>(
        &mut self,
        request: Request<T>,
        dump: bool,
    ) -> Result<Outgoing, Error> {
        let seq = self.next_seq();
        let bytes = request.finish(self.family, seq, dump)?;
        Ok(Outgoing { bytes, seq })
    }

    /// Sends acknowledged requests in as few `sendmsg` calls as the batch limits allow and
    /// returns each one's outcome, in order. `on_reply` gets every data reply with the index
    /// of the request it answers.
    pub(crate) fn transact(
        &mut self,
        requests: &[Outgoing],
        mut on_reply: impl FnMut(usize, Reply<'_>) -> Result<(), Error>,
    ) -> Result<Vec<Result<(), Nack>>, Error> {
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut start = 0;
        while start < requests.len() {
            let mut end = start;
            let mut buf = Vec::new();
            while end < requests.len()
                && end - start < self.config.batch_messages.max(1)
                && (end == start
                    || buf.len() + requests[end].bytes.len() <= self.config.batch_bytes)
            {
                buf.extend_from_slice(&requests[end].bytes);
                end += 1;
            }
            let seqs: Vec<u32> = requests[start..end].iter().map(|r| r.seq).collect();
            self.send(&buf)?;
            let chunk = self.collect_acks(&seqs, |i, reply| on_reply(start + i, reply))?;
            outcomes.extend(chunk);
            start = end;
        }
        Ok(outcomes)
    }

    /// Runs one dump request to `NLMSG_DONE`, handing every message to `on_reply`. A failing
    /// `on_reply` does not stop the reading, so the socket stays in step; its first error
    /// is returned at the end.
    pub(crate) fn dump(
        &mut self,
        request: &Outgoing,
        mut on_reply: impl FnMut(Reply<'_>) -> Result<(), Error>,
    ) -> Result<Result<(), Nack>, Error> {
        let seq = request.seq;
        self.send(&request.bytes)?;
        let mut first_error = None;
        loop {
            let len = match self.recv()? {
                Ok(len) => len,
                Err(errno) => {
                    return Err(Error::io(
                        "dump interrupted",
                        io::Error::from_raw_os_error(errno),
                    ))
                }
            };
            for msg in messages(&self.recv_buf[..len]) {
                let msg = msg?;
                if !self.is_current(&msg, seq)? {
                    continue;
                }
                match msg.incoming()? {
                    Incoming::Reply(reply) => {
                        if let Err(e) = on_reply(reply) {
                            first_error.get_or_insert(e);
                        }
                    }
                    Incoming::Done(outcome) => return finish(first_error, outcome),
                    Incoming::Nack(nack) => return finish(first_error, Err(nack)),
                    Incoming::Ack | Incoming::Noop => {}
                }
            }
        }
    }

    fn resolve_family(&mut self) -> Result<u16, Error> {
        let mut request = Request::<CtrlAttr>::new(CTRL_CMD_GETFAMILY, CTRL_VERSION);
        request.attrs().string(CtrlAttr::FamilyName, FAMILY_NAME)?;
        let seq = self.next_seq();
        self.send(&request.finish(GENL_ID_CTRL, seq, false)?)?;
        let mut family = None;
        let outcome = self.collect_acks(&[seq], |_, reply| {
            family = reply
                .attrs::<CtrlAttr>("family")?
                .opt_u16(CtrlAttr::FamilyId)?;
            Ok(())
        })?;
        match (outcome.into_iter().next(), family) {
            (Some(Ok(())), Some(id)) => Ok(id),
            (Some(Err(Nack { errno: 2, .. })), _) => Err(Error::Unavailable),
            (Some(Err(nack)), _) => Err(Error::io(
                "cannot resolve the IPVS generic netlink family",
                io::Error::from_raw_os_error(nack.errno),
            )),
            _ => Err(Error::Decode(
                "family reply without CTRL_ATTR_FAMILY_ID".into(),
            )),
        }
    }

    /// Reads until every sequence number in `seqs` has its acknowledgement.
    fn collect_acks(
        &mut self,
        seqs: &[u32],
        mut on_reply: impl FnMut(usize, Reply<'_>) -> Result<(), Error>,
    ) -> Result<Vec<Result<(), Nack>>, Error> {
        let Some(&first) = seqs.first() else {
            return Ok(Vec::new());
        };
        let mut outcomes: Vec<Option<Result<(), Nack>>> = vec![None; seqs.len()];
        let mut pending = seqs.len();
        let mut first_error = None;
        while pending > 0 {
            let len = match self.recv()? {
                Ok(len) => len,
                Err(errno) => {
                    // The socket overran: the acknowledgements still missing are lost.
                    for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
                        *outcome = Some(Err(Nack {
                            errno,
                            message: None,
                        }));
                    }
                    break;
                }
            };
            for msg in messages(&self.recv_buf[..len]) {
                let msg = msg?;
                if !self.is_current(&msg, first)? {
                    continue;
                }
                let index = msg.seq.wrapping_sub(first) as usize;
                if index >= seqs.len() {
                    return Err(Error::Protocol(format!(
                        "reply with sequence number {} to requests {first}..={}",
                        msg.seq,
                        first.wrapping_add(seqs.len() as u32 - 1)
                    )));
                }
                let outcome = match msg.incoming()? {
                    Incoming::Reply(reply) => {
                        if let Err(e) = on_reply(index, reply) {
                            first_error.get_or_insert(e);
                        }
                        continue;
                    }
                    Incoming::Ack => Ok(()),
                    Incoming::Nack(nack) => Err(nack),
                    Incoming::Done(_) | Incoming::Noop => continue,
                };
                if outcomes[index].replace(outcome).is_none() {
                    pending -= 1;
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(outcomes.into_iter().map(|o| o.unwrap_or(Ok(()))).collect())
    }

    /// Whether `msg` belongs to the exchange that started at `first`: older sequence numbers
    /// are leftovers of an abandoned exchange and skipped; a foreign port id is an error.
    fn is_current(&self, msg: &Message<'_>, first: u32) -> Result<bool, Error> {
        if msg.pid != self.pid && msg.pid != 0 {
            return Err(Error::Protocol(format!(
                "message for port id {}, this socket is {}",
                msg.pid, self.pid
            )));
        }
        Ok((msg.seq.wrapping_sub(first) as i32) >= 0)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, buf: &[u8]) -> Result<(), Error> {
        loop {
            match self.socket.send(buf, Msg::empty()) {
                Ok(sent) if sent == buf.len() => return Ok(()),
                Ok(sent) => {
                    return Err(Error::io(
                        "short netlink send",
                        io::Error::other(format!("{sent} of {} bytes", buf.len())),
                    ))
                }
                Err(e) if e.raw_os_error() == Some(EINTR) => continue,
                Err(e) => return Err(Error::io("cannot send to the kernel", e)),
            }
        }
    }

    /// One datagram into `recv_buf`; `Err(errno)` for a receive-buffer overrun.
    fn recv(&mut self) -> Result<Result<usize, i32>, Error> {
        loop {
            match self.socket.recv(&mut self.recv_buf[..], Msg::empty()) {
                Ok((len, _)) => return Ok(Ok(len)),
                Err(e) if e.raw_os_error() == Some(EINTR) => continue,
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => return Ok(Err(ENOBUFS)),
                Err(e) => return Err(Error::io("cannot receive from the kernel", e)),
            }
        }
    }
}

fn finish(
    first_error: Option<Error>,
    outcome: Result<(), Nack>,
) -> Result<Result<(), Nack>, Error> {
    match first_error {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

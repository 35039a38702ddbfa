//! TCP checks without a connection: a SYN from a raw socket, answered by a SYN-ACK when
//! something listens on the port and by a reset when nothing does.
//!
//! The same answer as a `connect()` gets (the real server's kernel completes a handshake
//! without its application either way), for less: three packets instead of four, no socket
//! on either side, and the application never accepts a connection it then sees reset. Our
//! kernel holds no socket for the SYN-ACK, so it resets the half-open connection itself.
//!
//! One [`SynSocket`] per address family serves every TCP check of the agent. Its replies come
//! to a port it holds bound (so no connection of this host gets that port), and a socket
//! filter passes only segments to that port to the reader task, which hands each answer to
//! the checks waiting on that address and port. Opening one needs CAP_NET_RAW; without it
//! TCP checks connect.

mod segment;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::net::{ipproto, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use socket2::{SockFilter, SockRef};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use segment::Answer;
use segment::Received;

/// How long a source address looked up for a target is used before it is looked up again
/// (it is also looked up again after an attempt without answer).
const SOURCE_LIFETIME: Duration = Duration::from_secs(30);

/// The raw sockets of both families, each opened at its first check.
#[derive(Debug, Default)]
pub struct SynSockets {
    v4: OnceLock<Option<SynSocket>>,
    v6: OnceLock<Option<SynSocket>>,
}

impl SynSockets {
    /// The socket for checks of `target`'s family; `None` if it cannot be opened (then TCP
    /// checks of that family connect).
    pub fn get(&self, target: IpAddr) -> Option<&SynSocket> {
        let v6 = target.is_ipv6();
        let cell = if v6 { &self.v6 } else { &self.v4 };
        cell.get_or_init(|| match SynSocket::open(v6) {
            Ok(socket) => Some(socket),
            Err(error) => {
                tracing::warn!(
                    %error,
                    ipv6 = v6,
                    "TCP checks connect: no raw socket for SYN checks (CAP_NET_RAW?)"
                );
                None
            }
        })
        .as_ref()
    }
}

/// This host's address towards one target, which a SYN's checksum covers: what a
/// `connect()` would choose, looked up again when old or after an attempt without answer.
#[derive(Debug, Default)]
pub struct Source(Mutex<Option<(IpAddr, Instant)>>);

impl Source {
    pub fn get(&self, target: SocketAddr) -> io::Result<IpAddr> {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((address, since)) = *known {
            if since.elapsed() < SOURCE_LIFETIME {
                return Ok(address);
            }
        }
        let any = match target {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        // A UDP socket's connect() picks the route and the address, and sends nothing.
        let socket = std::net::UdpSocket::bind(SocketAddr::new(any, 0))?;
        socket.connect(target)?;
        let address = socket.local_addr()?.ip();
        *known = Some((address, Instant::now()));
        Ok(address)
    }

    pub fn forget(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// The checks waiting for an answer, by the real server's address and port.
type Waiting = Mutex<HashMap<SocketAddr, Vec<(u64, oneshot::Sender<Answer>)>>>;

/// A raw TCP socket of one address family, with the port its checks' answers come to.
#[derive(Debug)]
pub struct SynSocket {
    raw: Arc<AsyncFd<OwnedFd>>,
    /// Bound and never listening: holds `port` for the checks.
    _holder: OwnedFd,
    port: u16,
    waiting: Arc<Waiting>,
    next_id: AtomicU64,
    reader: JoinHandle<()>,
}

impl SynSocket {
    /// Opens the family's raw socket (`v6` or IPv4) and starts reading its answers; within
    /// a tokio runtime, whose reactor watches the socket.
    pub fn open(v6: bool) -> io::Result<SynSocket> {
        let (family, any) = if v6 {
            (AddressFamily::INET6, IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        } else {
            (AddressFamily::INET, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
        let raw = rustix::net::socket_with(family, SocketType::RAW, flags, Some(ipproto::TCP))?;
        let holder = rustix::net::socket_with(family, SocketType::STREAM, flags, None)?;
        if v6 {
            rustix::net::sockopt::set_ipv6_v6only(&holder, true)?;
        }
        rustix::net::bind(&holder, &SocketAddr::new(any, 0))?;
        let port = SocketAddr::try_from(rustix::net::getsockname(&holder)?)
            .map_err(|_| io::Error::other("the held port's address is not IP"))?
            .port();
        SockRef::from(&raw).attach_filter(&to_port_filter(v6, port))?;
        // Deprecated for types that may not own their descriptor; an OwnedFd does.
        #[allow(deprecated)]
        let raw = Arc::new(AsyncFd::new(raw)?);
        let waiting = Arc::new(Waiting::default());
        let reader = tokio::spawn(read_answers(
            Arc::clone(&raw),
            Arc::clone(&waiting),
            (v6, port),
        ));
        Ok(SynSocket {
            raw,
            _holder: holder,
            port,
            waiting,
            next_id: AtomicU64::new(0),
            reader,
        })
    }

    /// Sends a SYN from `source` (this host's address towards `target`) and waits for the
    /// answer; for ever if none comes, so the caller bounds the wait.
    pub async fn check(&self, source: IpAddr, target: SocketAddr) -> io::Result<Answer> {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(target)
            .or_default()
            .push((id, tx));
        let _waiter = Waiter {
            waiting: &self.waiting,
            target,
            id,
        };
        let seq = (crate::random::fraction() * f64::from(u32::MAX)) as u32;
        let syn = segment::syn((source, self.port), (target.ip(), target.port()), seq);
        // The port is the protocol's for a raw IPv6 socket: 0 means this socket's.
        let to = SocketAddr::new(target.ip(), 0);
        loop {
            let mut ready = self.raw.writable().await?;
            match ready.try_io(|raw| {
                rustix::net::sendto(raw, &syn, SendFlags::empty(), &to).map_err(io::Error::from)
            }) {
                Ok(sent) => {
                    sent?;
                    break;
                }
                Err(_would_block) => continue,
            }
        }
        rx.await
            .map_err(|_| io::Error::other("the SYN socket's reader stopped"))
    }
}

impl Drop for SynSocket {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Takes a check's place in the queue out when it ends, answered or not.
struct Waiter<'a> {
    waiting: &'a Waiting,
    target: SocketAddr,
    id: u64,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(queue) = waiting.get_mut(&self.target) {
            queue.retain(|(id, _)| *id != self.id);
            if queue.is_empty() {
                waiting.remove(&self.target);
            }
        }
    }
}

/// Hands each answer to every check waiting on its address and port: checks of the same
/// port with other settings learn the same from it.
async fn read_answers(raw: Arc<AsyncFd<OwnedFd>>, waiting: Arc<Waiting>, (v6, port): (bool, u16)) {
    // An IPv4 header with options (60 bytes) and a TCP header with options (60 bytes).
    let mut packet = [0_u8; 128];
    loop {
        let Ok(mut ready) = raw.readable().await else {
            return;
        };
        loop {
            let (read, from) = match ready.try_io(|raw| {
                rustix::net::recvfrom(raw, &mut packet[..], RecvFlags::TRUNC)
                    .map(|(_, read, from)| (read, from))
                    .map_err(io::Error::from)
            }) {
                Ok(Ok(received)) => received,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "reading the answers to TCP checks");
                    break;
                }
                Err(_would_block) => break,
            };
            let packet = &packet[..read.min(packet.len())];
            let received = if v6 {
                from.and_then(|from| SocketAddr::try_from(from).ok())
                    .and_then(|from| segment::parse_tcp(from.ip(), packet))
            } else {
                segment::parse_v4(packet)
            };
            // The filter was attached after the socket was made.
            if let Some(received) = received.filter(|r| r.to_port == port) {
                answer(&waiting, received);
            }
        }
    }
}

fn answer(waiting: &Waiting, received: Received) {
    let from = SocketAddr::new(received.from, received.port);
    let queue = waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&from);
    for (_, tx) in queue.into_iter().flatten() {
        let _ = tx.send(received.answer);
    }
}

/// A classic BPF program that passes only TCP segments to `port`: the raw socket would
/// otherwise get a copy of every TCP segment this host receives.
fn to_port_filter(v6: bool, port: u16) -> Vec<SockFilter> {
    const LD_H_ABS: u16 = 0x28;
    const LD_H_IND: u16 = 0x48;
    const LDX_B_MSH: u16 = 0xb1;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let mut program = if v6 {
        // The segment starts the packet: its destination port at 2.
        vec![SockFilter::new(LD_H_ABS, 0, 0, 2)]
    } else {
        // X = the IPv4 header's length, then the destination port after it.
        vec![
            SockFilter::new(LDX_B_MSH, 0, 0, 0),
            SockFilter::new(LD_H_IND, 0, 0, 2),
        ]
    };
    program.extend([
        SockFilter::new(JEQ_K, 0, 1, u32::from(port)),
        SockFilter::new(RET_K, 0, 0, u32::from(u16::MAX)),
        SockFilter::new(RET_K, 0, 0, 0),
    ]);
    program
}

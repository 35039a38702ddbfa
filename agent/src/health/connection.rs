//! An HTTP check's connection to its real server, plain or TLS. With `reuse_connection` it
//! may wait, idle, for the next check; it holds nothing else then (no buffer of the check's).

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::probe::connect;
use super::{Failure, Target};

/// How a check reaches the real server.
pub enum Transport {
    Plain,
    Tls(TlsConnector, ServerName<'static>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Plain => f.write_str("Plain"),
            Transport::Tls(_, name) => write!(f, "Tls({name:?})"),
        }
    }
}

/// An open connection; dropping it resets it (see `probe::connect`), whether the check is
/// done with it, timed out, or stopped while it was idle.
pub enum Connection {
    Plain(TcpStream),
    /// Boxed: a TLS session is large, and most checks hold no connection.
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Plain(_) => f.write_str("Plain"),
            Connection::Tls(_) => f.write_str("Tls"),
        }
    }
}

impl Connection {
    /// Connects to `target`, with the TLS handshake if it is https.
    pub async fn open(target: &Target, transport: &Transport) -> Result<Connection, Failure> {
        let stream = connect(target).await?;
        match transport {
            Transport::Plain => Ok(Connection::Plain(stream)),
            Transport::Tls(connector, name) => connector
                .connect(name.clone(), stream)
                .await
                .map(|stream| Connection::Tls(Box::new(stream)))
                .map_err(|e| Failure::Tls(e.to_string())),
        }
    }

    /// Whether an idle connection has nothing to read: neither the server's close nor bytes
    /// it should not have sent (a "408 Request Timeout" before closing). Either way it does
    /// not carry the next request. One non-blocking peek, no buffer.
    pub fn is_clean(&self) -> bool {
        let stream = match self {
            Connection::Plain(stream) => stream,
            Connection::Tls(stream) => stream.get_ref().0,
        };
        let mut byte = [0_u8; 1];
        let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
        matches!(
            rustix::net::recv(stream, &mut byte, flags),
            Err(rustix::io::Errno::AGAIN)
        )
    }
}

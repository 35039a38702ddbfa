//! One attempt of a check. The caller bounds it with the check's timeout; each kind keeps
//! what it needs between attempts (a TLS configuration, a compiled pattern, a kept-alive
//! HTTP connection) in [`Probe`], and what all checks share (the `exec` policy, the SYN
//! sockets) in [`Shared`].

use std::io;
use std::sync::Arc;
use std::time::Duration;

use lvs_model::{BodyMatch, Probe as Kind};
use tokio::net::TcpStream;

use super::connection::Transport;
use super::exec::ExecPolicy;
use super::http::HttpProbe;
use super::syn::{Answer, Source, SynSockets};
use super::{dns, exec, tls, Failure, Target};

/// How TCP checks are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TcpChecks {
    /// A SYN from a raw socket, answered by SYN-ACK or reset: no connection on either side
    /// (needs CAP_NET_RAW; connects without it).
    #[default]
    Syn,
    /// A connection, closed with a reset once made.
    Connect,
}

/// What every check of an agent shares.
#[derive(Debug, Default)]
pub struct Shared {
    exec: ExecPolicy,
    /// `None` when TCP checks connect.
    syn: Option<SynSockets>,
}

impl Shared {
    pub fn new(exec: ExecPolicy, tcp: TcpChecks) -> Shared {
        let syn = (tcp == TcpChecks::Syn).then(SynSockets::default);
        Shared { exec, syn }
    }
}

/// A target's check, ready to run again and again.
#[derive(Debug)]
pub struct Probe {
    target: Target,
    how: How,
    shared: Arc<Shared>,
}

#[derive(Debug)]
enum How {
    Tcp(Source),
    Http(Box<HttpProbe>),
    Dns(dns::Query),
    Exec,
    /// A probe that cannot run (a CA file that does not load): every attempt fails so.
    Broken(Failure),
}

impl Probe {
    /// Prepares `target`'s check.
    pub fn new(target: Target, shared: &Arc<Shared>) -> Probe {
        let how = match target.check.probe() {
            Kind::Tcp | Kind::None => How::Tcp(Source::default()),
            Kind::Http(http) => {
                let transport = match &http.tls {
                    None => Ok(Transport::Plain),
                    Some(settings) => tls::connector(settings, &http.host, target.address)
                        .map(|(connector, name)| Transport::Tls(connector, name)),
                };
                let body = match &http.expect_body {
                    None => Ok(None),
                    Some(BodyMatch::Contains(text)) => {
                        Ok(Some(super::http::Body::Contains(text.as_bytes().to_vec())))
                    }
                    Some(BodyMatch::Regex(pattern)) => regex::bytes::Regex::new(pattern)
                        .map(|re| Some(super::http::Body::Regex(re)))
                        .map_err(|e| Failure::Protocol(format!("pattern: {e}"))),
                };
                match (transport, body) {
                    (Ok(transport), Ok(body)) => How::Http(Box::new(HttpProbe::new(
                        http,
                        transport,
                        body,
                        target.socket(),
                    ))),
                    (Err(failure), _) | (_, Err(failure)) => How::Broken(failure),
                }
            }
            Kind::UdpDns(query) => How::Dns(dns::Query::new(query)),
            Kind::Exec(_) => How::Exec,
        };
        Probe {
            target,
            how,
            shared: Arc::clone(shared),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// One attempt, which fails with [`Failure::Timeout`] past the check's timeout.
    pub async fn run(&mut self) -> Result<(), Failure> {
        let limit = Duration::from_millis(u64::from(self.target.check.timeout_ms()));
        let result = tokio::time::timeout(limit, self.attempt())
            .await
            .unwrap_or(Err(Failure::Timeout));
        if let (How::Tcp(source), Err(Failure::Timeout)) = (&self.how, &result) {
            // The route may have changed, and with it the address a SYN must come from.
            source.forget();
        }
        result
    }

    async fn attempt(&mut self) -> Result<(), Failure> {
        match &mut self.how {
            How::Tcp(source) => {
                let syn = self.shared.syn.as_ref();
                match syn.and_then(|syn| syn.get(self.target.address)) {
                    Some(syn) => {
                        let target = self.target.socket();
                        let from = source.get(target).map_err(io_failure)?;
                        match syn.check(from, target).await.map_err(io_failure)? {
                            Answer::Open => Ok(()),
                            Answer::Closed => Err(Failure::Refused),
                        }
                    }
                    None => connect(&self.target).await.map(drop),
                }
            }
            How::Http(http) => http.run(&self.target).await,
            How::Dns(query) => query.run(self.target.socket()).await,
            How::Exec => {
                let Kind::Exec(program) = self.target.check.probe() else {
                    return Err(Failure::NotRun("not an exec check".into()));
                };
                exec::run(&self.shared.exec, program, self.target.socket()).await
            }
            How::Broken(failure) => Err(failure.clone()),
        }
    }
}

pub(super) async fn connect(target: &Target) -> Result<TcpStream, Failure> {
    let stream = TcpStream::connect(target.socket())
        .await
        .map_err(io_failure)?;
    // Closed with a reset once the check is done (or, kept alive, once the check stops):
    // fewer packets than an orderly close, and no TIME_WAIT left behind (a thousand TCP
    // checks a second would keep sixty thousand on the director). Zero linger never blocks
    // the close. No TCP_NODELAY: one write per check, nothing for Nagle's algorithm to hold
    // back.
    rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO))
        .map_err(|e| io_failure(e.into()))?;
    Ok(stream)
}

/// The failure an I/O error means for a check; by value, to be `map_err`'s argument.
#[allow(clippy::needless_pass_by_value)]
pub(super) fn io_failure(error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Io(error.to_string()),
    }
}

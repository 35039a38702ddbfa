//! Health checks: how a director decides that a real server is up, and what it does when it
//! is not. Only [`crate::spec::HealthCheckSpec::parse`] builds a [`HealthCheck`], so every
//! value here obeys the rules checked there.

use std::num::{NonZeroU16, NonZeroU32};

use crate::keyword::keyword_enum;
use crate::service::Port;

keyword_enum! {
    /// What a health check does to reach a real server.
    pub enum CheckKind ("check kind") {
        /// A TCP connection that opens.
        Tcp = "tcp",
        /// An HTTP request whose answer matches.
        Http = "http",
        /// An HTTP request over TLS.
        Https = "https",
        /// A DNS query over UDP whose answer has the expected rcode.
        UdpDns = "udp-dns",
        /// A program on the director (keepalived's MISC_CHECK); exit 0 means up.
        Exec = "exec",
        /// No check: the real server always counts as up.
        None = "none",
    }
}

keyword_enum! {
    /// What a director does with a real server that failed its check.
    pub enum OnFailure ("on_failure") {
        /// Weight 0 in the kernel: no new connections, established ones finish.
        Quiesce = "quiesce",
        /// Out of the kernel's table: established connections break.
        Remove = "remove",
    }
}

keyword_enum! {
    /// A real server's health as a director sees it.
    pub enum Health ("health") {
        Up = "up",
        Down = "down",
    }
}

keyword_enum! {
    /// The HTTP methods a check may send; neither changes the real server.
    pub enum HttpMethod ("http method") {
        Get = "GET",
        Head = "HEAD",
    }
}

keyword_enum! {
    /// DNS query types a `udp-dns` check may ask.
    pub enum DnsType ("dns type") {
        A = "A",
        Aaaa = "AAAA",
        Cname = "CNAME",
        Mx = "MX",
        Ns = "NS",
        Ptr = "PTR",
        Soa = "SOA",
        Srv = "SRV",
        Txt = "TXT",
    }
}

impl DnsType {
    /// The type's number on the wire (RFC 1035, RFC 3596, RFC 2782).
    pub const fn code(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Ns => 2,
            DnsType::Cname => 5,
            DnsType::Soa => 6,
            DnsType::Ptr => 12,
            DnsType::Mx => 15,
            DnsType::Txt => 16,
            DnsType::Aaaa => 28,
            DnsType::Srv => 33,
        }
    }
}

keyword_enum! {
    /// DNS response codes a `udp-dns` check may expect.
    pub enum DnsRcode ("dns rcode") {
        NoError = "NOERROR",
        FormErr = "FORMERR",
        ServFail = "SERVFAIL",
        NxDomain = "NXDOMAIN",
        NotImp = "NOTIMP",
        Refused = "REFUSED",
    }
}

impl DnsRcode {
    /// The code's number in the header (RFC 1035 4.1.1).
    pub const fn code(self) -> u8 {
        match self {
            DnsRcode::NoError => 0,
            DnsRcode::FormErr => 1,
            DnsRcode::ServFail => 2,
            DnsRcode::NxDomain => 3,
            DnsRcode::NotImp => 4,
            DnsRcode::Refused => 5,
        }
    }
}

/// A health check of a service's real servers (or of one real server, overriding its
/// service's). Equal checks of the same address and port are one check on a director.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheck {
    pub(crate) probe: Probe,
    pub(crate) port: Option<Port>,
    pub(crate) interval_ms: NonZeroU32,
    pub(crate) timeout_ms: NonZeroU32,
    pub(crate) rise: NonZeroU16,
    pub(crate) fall: NonZeroU16,
    pub(crate) on_failure: OnFailure,
    pub(crate) initial: Health,
}

/// What a check sends and what it expects back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Probe {
    Tcp,
    /// HTTP, or HTTPS when `tls` is set.
    Http(HttpProbe),
    UdpDns(DnsProbe),
    Exec(ExecProbe),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpProbe {
    pub method: HttpMethod,
    /// Starts with `/`; no spaces or control characters.
    pub path: String,
    /// The `Host` header; the real server's address when unset.
    pub host: Option<String>,
    /// Inclusive ranges of accepted status codes, sorted, not overlapping.
    pub expect_status: Vec<(u16, u16)>,
    pub expect_body: Option<BodyMatch>,
    pub tls: Option<Tls>,
    /// Keep the connection open from one check to the next (HTTP/1.1 keep-alive): cheaper,
    /// but a reused connection does not prove that new ones are accepted.
    pub reuse_connection: bool,
}

/// What the body of an answer must contain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyMatch {
    Contains(String),
    /// A regular expression (Rust `regex` syntax) that compiled when it was parsed.
    Regex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tls {
    /// The server name sent in the handshake and verified; the `Host` when unset.
    pub sni: Option<String>,
    pub verify: TlsVerify,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlsVerify {
    /// The certificate chain must lead to a CA in this PEM file on the director.
    CaFile(String),
    /// Any certificate is accepted: the check proves only that TLS answers.
    Insecure,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsProbe {
    pub name: String,
    pub kind: DnsType,
    pub rcode: DnsRcode,
}

/// A program on the director; the agent runs it only from its allowed directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExecProbe {
    /// An absolute path.
    pub command: String,
    pub args: Vec<String>,
}

impl HealthCheck {
    pub const DEFAULT_INTERVAL_MS: u32 = 2000;
    pub const DEFAULT_TIMEOUT_MS: u32 = 1000;
    pub const DEFAULT_RISE: u16 = 2;
    pub const DEFAULT_FALL: u16 = 3;
    /// Below this, checks of a few thousand real servers would cost the director more than
    /// the traffic they protect.
    pub const MIN_INTERVAL_MS: u32 = 100;
    pub const MAX_INTERVAL_MS: u32 = 3_600_000;
    /// The most consecutive results `rise` and `fall` may ask for.
    pub const MAX_COUNT: u16 = 100;

    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    pub fn kind(&self) -> CheckKind {
        match &self.probe {
            Probe::Tcp => CheckKind::Tcp,
            Probe::Http(http) if http.tls.is_some() => CheckKind::Https,
            Probe::Http(_) => CheckKind::Http,
            Probe::UdpDns(_) => CheckKind::UdpDns,
            Probe::Exec(_) => CheckKind::Exec,
            Probe::None => CheckKind::None,
        }
    }

    /// The port checked instead of the real server's own.
    pub fn port(&self) -> Option<Port> {
        self.port
    }

    pub fn interval_ms(&self) -> u32 {
        self.interval_ms.get()
    }

    /// Always below the interval.
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms.get()
    }

    /// Consecutive successes that bring a down real server up.
    pub fn rise(&self) -> u16 {
        self.rise.get()
    }

    /// Consecutive failures that take an up real server down.
    pub fn fall(&self) -> u16 {
        self.fall.get()
    }

    pub fn on_failure(&self) -> OnFailure {
        self.on_failure
    }

    /// A new real server's health until its first result decides.
    pub fn initial(&self) -> Health {
        self.initial
    }

    /// Whether the check reaches a port (every kind but `exec` and `none`).
    pub fn needs_port(&self) -> bool {
        matches!(self.probe, Probe::Tcp | Probe::Http(_) | Probe::UdpDns(_))
    }

    /// A check that never fails: no checking at all.
    pub fn is_none(&self) -> bool {
        self.probe == Probe::None
    }
}

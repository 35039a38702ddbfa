//! HTTP and HTTPS checks: one request, the status line checked against the expected codes
//! and, when asked, the body against a text or a pattern. At most [`MAX_ANSWER`] bytes are
//! read.
//!
//! By default each check is an HTTP/1.0 request on a new connection, which the server closes
//! after its answer. With `reuse_connection` the request is HTTP/1.1 with keep-alive, each
//! answer is read exactly to its end (`framing`), within the check's timeout, and the
//! connection waits in the probe for the next check while the server keeps it open.

use std::borrow::Cow;
use std::net::SocketAddr;

use lvs_model::{HttpMethod, HttpProbe as Settings};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::connection::{Connection, Transport};
use super::framing::{Framing, Head};
use super::probe::io_failure;
use super::{Failure, Target};

/// The most of an answer a check reads: a health page, not a download.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug)]
pub struct HttpProbe {
    request: Vec<u8>,
    expect_status: Vec<(u16, u16)>,
    body: Option<Body>,
    transport: Transport,
    head_request: bool,
    /// `reuse_connection`: answers are framed, and a connection may outlive its check.
    keep_alive: bool,
    /// The connection the last check left open, taken out by the next one, so that an
    /// attempt that times out or fails never leaves one behind.
    idle: Option<Connection>,
}

#[derive(Debug)]
pub enum Body {
    Contains(Vec<u8>),
    Regex(regex::bytes::Regex),
}

/// How an exchange on a connection ended.
enum Ended {
    /// Not a byte of an answer: on a kept connection, most likely one the server closed
    /// while it was idle.
    Unanswered(Failure),
    /// The check's result; `reusable` when the answer was read exactly to its end and the
    /// server keeps the connection open.
    Answered {
        result: Result<(), Failure>,
        reusable: bool,
    },
}

impl HttpProbe {
    pub fn new(
        settings: &Settings,
        transport: Transport,
        body: Option<Body>,
        target: SocketAddr,
    ) -> HttpProbe {
        let host = match &settings.host {
            Some(host) => host.clone(),
            None => default_host(target, matches!(transport, Transport::Tls(..))),
        };
        let method = match settings.method {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        };
        let (version, connection) = match settings.reuse_connection {
            true => ("1.1", "keep-alive"),
            false => ("1.0", "close"),
        };
        let request = format!(
            "{method} {} HTTP/{version}\r\nHost: {host}\r\nUser-Agent: lvs-agent/{}\r\n\
             Accept: */*\r\nConnection: {connection}\r\n\r\n",
            settings.path,
            crate::AGENT_VERSION
        );
        HttpProbe {
            request: request.into_bytes(),
            expect_status: settings.expect_status.clone(),
            // A HEAD answer has no body to match.
            body: body.filter(|_| settings.method == HttpMethod::Get),
            transport,
            head_request: settings.method == HttpMethod::Head,
            keep_alive: settings.reuse_connection,
            idle: None,
        }
    }

    pub async fn run(&mut self, target: &Target) -> Result<(), Failure> {
        if let Some(mut idle) = self.idle.take() {
            if idle.is_clean() {
                match self.exchange(&mut idle).await {
                    // Closed under the request: once more, on a new connection.
                    Ended::Unanswered(_) => {}
                    Ended::Answered { result, reusable } => {
                        return self.keep_if(reusable, idle, result)
                    }
                }
            }
        }
        let mut connection = Connection::open(target, &self.transport).await?;
        match self.exchange(&mut connection).await {
            Ended::Unanswered(failure) => Err(failure),
            Ended::Answered { result, reusable } => self.keep_if(reusable, connection, result),
        }
    }

    fn keep_if(
        &mut self,
        reusable: bool,
        connection: Connection,
        result: Result<(), Failure>,
    ) -> Result<(), Failure> {
        if reusable {
            self.idle = Some(connection);
        }
        result
    }

    async fn exchange(&self, connection: &mut Connection) -> Ended {
        match connection {
            Connection::Plain(stream) => self.exchange_on(stream).await,
            Connection::Tls(stream) => self.exchange_on(stream.as_mut()).await,
        }
    }

    async fn exchange_on<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: &mut S) -> Ended {
        if let Err(error) = stream.write_all(&self.request).await {
            return Ended::Unanswered(io_failure(error));
        }
        // Read straight into the heap: a buffer on the stack would live in every check
        // task's future, idle or not.
        let mut answer = Vec::with_capacity(1024);
        let status = match read_status(stream, &mut answer).await {
            Ok(status) => status,
            Err(failure) if answer.is_empty() => return Ended::Unanswered(failure),
            Err(failure) => {
                return Ended::Answered {
                    result: Err(failure),
                    reusable: false,
                }
            }
        };
        let expected = self
            .expect_status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status));
        let body = self.body.as_ref().filter(|_| expected);
        let rest = self
            .read_rest(stream, &mut answer, status, body.is_some())
            .await;
        let result = match (expected, body, &rest.error) {
            (false, _, _) => Err(Failure::Status(status)),
            (true, None, _) => Ok(()),
            (true, Some(_), Some(failure)) => Err(failure.clone()),
            (true, Some(body), None) => match body.matches(&rest.body(&answer)) {
                true => Ok(()),
                false => Err(Failure::BodyMismatch),
            },
        };
        Ended::Answered {
            result,
            reusable: rest.reusable,
        }
    }

    /// Reads what follows the status line: to the answer's end when the connection may be
    /// kept, else as far as the body match needs (to the close, as an HTTP/1.0 answer ends)
    /// or not at all.
    async fn read_rest<S: AsyncRead + Unpin>(
        &self,
        stream: &mut S,
        answer: &mut Vec<u8>,
        status: u16,
        matching: bool,
    ) -> Rest {
        let mut rest = Rest {
            body: None,
            reusable: false,
            error: None,
        };
        loop {
            if rest.body.is_none() {
                if let Some(end) = find(answer, b"\r\n\r\n") {
                    let head = match self.keep_alive {
                        true => Head::parse(&answer[..end], status, self.head_request),
                        false => Head {
                            framing: Framing::UntilClose,
                            reusable: false,
                        },
                    };
                    rest.body = Some((end + 4, head));
                }
            }
            // Until the header says otherwise, a kept-alive answer may leave a reusable
            // connection.
            let may_reuse = self.keep_alive && rest.body.is_none_or(|(_, head)| head.reusable);
            if !may_reuse && !matching {
                return rest;
            }
            if let Some((start, head)) = rest.body {
                match head.framing.end(&answer[start..]) {
                    Ok(None) => {}
                    Ok(Some(end)) => {
                        // Bytes past the answer's end: the connection is out of step.
                        rest.reusable = may_reuse && start + end == answer.len();
                        return rest;
                    }
                    Err(what) => {
                        rest.error = Some(Failure::Protocol(what));
                        return rest;
                    }
                }
            }
            if answer.len() >= MAX_ANSWER {
                answer.truncate(MAX_ANSWER);
                return rest;
            }
            match read_some(stream, answer).await {
                Ok(0) => return rest,
                Ok(_) => {}
                Err(failure) => {
                    rest.error = Some(failure);
                    return rest;
                }
            }
        }
    }
}

/// How far the rest of an answer was read.
struct Rest {
    /// Where the body starts and the header's verdict, once the header is complete.
    body: Option<(usize, Head)>,
    /// Read exactly to its end, on a connection the server keeps open.
    reusable: bool,
    /// A read that failed, or a body that is not what its framing says.
    error: Option<Failure>,
}

impl Rest {
    /// The body as far as it was read, as its framing delimits it.
    fn body<'a>(&self, answer: &'a [u8]) -> Cow<'a, [u8]> {
        match self.body {
            Some((start, head)) => head.framing.body(&answer[start..]),
            None => Cow::Borrowed(&[]),
        }
    }
}

impl Body {
    fn matches(&self, body: &[u8]) -> bool {
        match self {
            Body::Contains(text) => find(body, text).is_some(),
            Body::Regex(re) => re.is_match(body),
        }
    }
}

/// Reads up to the end of the status line; its code.
async fn read_status<S: AsyncRead + Unpin>(
    stream: &mut S,
    answer: &mut Vec<u8>,
) -> Result<u16, Failure> {
    loop {
        let read = read_some(stream, answer).await?;
        if let Some(status) = status_code(answer)? {
            return Ok(status);
        }
        if read == 0 || answer.len() >= MAX_ANSWER {
            return Err(Failure::Protocol("no HTTP status line".into()));
        }
    }
}

/// Appends what the stream has next to `answer` (up to a few KiB); 0 at its end.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    answer: &mut Vec<u8>,
) -> Result<usize, Failure> {
    answer.reserve(4096);
    match stream.read_buf(answer).await {
        Ok(read) => Ok(read),
        // A TLS peer that closes without close_notify still ended its answer.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(error) => Err(io_failure(error)),
    }
}

/// The status code once the status line is complete; an error if it is not HTTP.
fn status_code(answer: &[u8]) -> Result<Option<u16>, Failure> {
    let Some(end) = find(answer, b"\r\n") else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(&answer[..end]);
    let mut words = line.split(' ');
    let version = words.next().unwrap_or("");
    let code = words.next().unwrap_or("");
    if !version.starts_with("HTTP/") || code.len() != 3 {
        return Err(Failure::Protocol(format!(
            "status line {:?}",
            truncate(&line)
        )));
    }
    code.parse()
        .map(Some)
        .map_err(|_| Failure::Protocol(format!("status line {:?}", truncate(&line))))
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `10.0.0.1`, `[2001:db8::1]:8080`: the address, with the port unless it is the scheme's.
fn default_host(target: SocketAddr, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    match (target.ip(), target.port() == default_port) {
        (std::net::IpAddr::V4(ip), true) => ip.to_string(),
        (std::net::IpAddr::V6(ip), true) => format!("[{ip}]"),
        (_, false) => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_code_once_the_line_is_complete() {
        assert_eq!(status_code(b"HTTP/1.1 20").unwrap(), None);
        assert_eq!(
            status_code(b"HTTP/1.1 204 No Content\r\n").unwrap(),
            Some(204)
        );
        assert_eq!(status_code(b"HTTP/1.0 503\r\n").unwrap(), Some(503));
        assert!(status_code(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(status_code(b"HTTP/1.1 2000 x\r\n").is_err());
    }

    #[test]
    fn the_host_is_the_address_with_a_port_only_when_needed() {
        let v4: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:8443".parse().unwrap();
        assert_eq!(default_host(v4, false), "10.0.0.1");
        assert_eq!(default_host(v4, true), "10.0.0.1:80");
        assert_eq!(default_host(v6, true), "[2001:db8::1]:8443");
    }
}

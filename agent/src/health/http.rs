//! HTTP and HTTPS checks: one HTTP/1.0 request (no chunked answers, the connection closes
//! after it), the status line checked against the expected codes and, when asked, the body
//! against a text or a pattern. At most [`MAX_ANSWER`] bytes are read.

use std::net::SocketAddr;

use lvs_model::{HttpMethod, HttpProbe as Settings};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::probe::io_failure;
use super::Failure;

/// The most of an answer a check reads: a health page, not a download.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug)]
pub struct HttpProbe {
    request: Vec<u8>,
    expect_status: Vec<(u16, u16)>,
    body: Option<Body>,
    transport: Transport,
}

#[derive(Debug)]
pub enum Body {
    Contains(Vec<u8>),
    Regex(regex::bytes::Regex),
}

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
        let request = format!(
            "{method} {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: lvs-agent/{}\r\n\
             Accept: */*\r\nConnection: close\r\n\r\n",
            settings.path,
            crate::AGENT_VERSION
        );
        HttpProbe {
            request: request.into_bytes(),
            expect_status: settings.expect_status.clone(),
            // A HEAD answer has no body to match.
            body: body.filter(|_| settings.method == HttpMethod::Get),
            transport,
        }
    }

    pub async fn run(&self, stream: TcpStream) -> Result<(), Failure> {
        match &self.transport {
            Transport::Plain => self.exchange(stream).await,
            Transport::Tls(connector, name) => {
                let stream = connector
                    .connect(name.clone(), stream)
                    .await
                    .map_err(|e| Failure::Tls(e.to_string()))?;
                self.exchange(stream).await
            }
        }
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
    ) -> Result<(), Failure> {
        stream.write_all(&self.request).await.map_err(io_failure)?;
        // Read straight into the heap: a buffer on the stack would live in every check
        // task's future, idle or not.
        let mut answer = Vec::with_capacity(1024);
        let status = loop {
            let read = read_some(&mut stream, &mut answer).await?;
            if let Some(status) = status_code(&answer)? {
                break status;
            }
            if read == 0 || answer.len() >= MAX_ANSWER {
                return Err(Failure::Protocol("no HTTP status line".into()));
            }
        };
        if !self
            .expect_status
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&status))
        {
            return Err(Failure::Status(status));
        }
        let Some(body) = &self.body else {
            return Ok(());
        };
        // Up to the end of the answer (HTTP/1.0: the server closes) or the cap.
        loop {
            if answer.len() >= MAX_ANSWER {
                answer.truncate(MAX_ANSWER);
                break;
            }
            if read_some(&mut stream, &mut answer).await? == 0 {
                break;
            }
        }
        let start = find(&answer, b"\r\n\r\n").map_or(answer.len(), |at| at + 4);
        let matched = match body {
            Body::Contains(text) => find(&answer[start..], text).is_some(),
            Body::Regex(re) => re.is_match(&answer[start..]),
        };
        if matched {
            Ok(())
        } else {
            Err(Failure::BodyMismatch)
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

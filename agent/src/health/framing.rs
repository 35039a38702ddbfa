//! Where an HTTP/1.1 answer ends (RFC 9112 section 6), so that a kept connection is read
//! exactly to it and the next check's answer starts clean: no body, `Content-Length`, or
//! `Transfer-Encoding: chunked`. Anything else ends with the connection, which is then not
//! kept.

use std::borrow::Cow;

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: the answer to a HEAD, a 1xx, 204 or 304.
    Empty,
    Length(usize),
    Chunked,
    /// Up to the end of the connection.
    UntilClose,
}

/// What an answer's header says of its end and of the connection after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub framing: Framing,
    /// The connection may carry the next request once this answer is read to its end.
    pub reusable: bool,
}

impl Head {
    /// The header's verdict; `header` runs from the status line to the blank line.
    pub fn parse(header: &[u8], status: u16, head_request: bool) -> Head {
        let text = String::from_utf8_lossy(header);
        let mut lines = text.split("\r\n");
        let http_1_0 = lines
            .next()
            .is_some_and(|line| line.starts_with("HTTP/1.0"));
        let (mut lengths, mut codings, mut close, mut keep_alive) =
            (Vec::new(), None, false, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let words = || value.split(',').map(str::trim);
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => lengths.push(value.to_owned()),
                // Codings may span several fields; the last one applied decides.
                "transfer-encoding" => codings = words().next_back().map(str::to_ascii_lowercase),
                "connection" => {
                    close |= words().any(|w| w.eq_ignore_ascii_case("close"));
                    keep_alive |= words().any(|w| w.eq_ignore_ascii_case("keep-alive"));
                }
                _ => {}
            }
        }
        let length = content_length(&lengths);
        let (framing, well_framed) = if head_request || matches!(status, 100..=199 | 204 | 304) {
            (Framing::Empty, true)
        } else if let Some(coding) = codings {
            // With a length as well, the answer may be smuggling another: framed, not kept.
            let framing = match coding.as_str() {
                "chunked" => Framing::Chunked,
                _ => Framing::UntilClose,
            };
            (framing, lengths.is_empty())
        } else {
            match length {
                Ok(Some(length)) => (Framing::Length(length), true),
                Ok(None) => (Framing::UntilClose, true),
                Err(()) => (Framing::UntilClose, false),
            }
        };
        // A 1xx is followed by the final answer, which the check does not wait for.
        let reusable = well_framed
            && framing != Framing::UntilClose
            && !(100..=199).contains(&status)
            && !close
            && (!http_1_0 || keep_alive);
        Head { framing, reusable }
    }
}

impl Framing {
    /// Where the body ends in `raw` (what follows the header), once all of it is there; an
    /// error for a chunked body that is not one.
    pub fn end(self, raw: &[u8]) -> Result<Option<usize>, String> {
        match self {
            Framing::Empty => Ok(Some(0)),
            Framing::Length(length) => Ok((raw.len() >= length).then_some(length)),
            Framing::Chunked => chunks(raw, |_| {}),
            Framing::UntilClose => Ok(None),
        }
    }

    /// The body in `raw` as far as it arrived: without its chunk sizes, and not past its end.
    pub fn body(self, raw: &[u8]) -> Cow<'_, [u8]> {
        match self {
            Framing::Empty => Cow::Borrowed(&[]),
            Framing::Length(length) => Cow::Borrowed(&raw[..length.min(raw.len())]),
            Framing::Chunked => {
                let mut body = Vec::with_capacity(raw.len());
                // A bad chunk ends the body where it starts; `end` reported it.
                let _ = chunks(raw, |data| body.extend_from_slice(data));
                Cow::Owned(body)
            }
            Framing::UntilClose => Cow::Borrowed(raw),
        }
    }
}

/// One length, or several equal ones; `Err` for any other.
fn content_length(values: &[String]) -> Result<Option<usize>, ()> {
    let mut length = None;
    for value in values.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        let parsed: usize = value.parse().map_err(drop)?;
        if length.is_some_and(|seen| seen != parsed) {
            return Err(());
        }
        length = Some(parsed);
    }
    Ok(length)
}

/// Walks a chunked body, handing each chunk's data to `data` as far as it arrived; where
/// the body ends, past the last chunk's trailers, once it is complete.
fn chunks(raw: &[u8], mut data: impl FnMut(&[u8])) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(line) = line_at(raw, at) else {
            return Ok(None);
        };
        let size = chunk_size(&raw[at..line])?;
        at = line + 2;
        if size == 0 {
            // Trailer fields, skipped, up to the blank line.
            loop {
                let Some(line) = line_at(raw, at) else {
                    return Ok(None);
                };
                let blank = line == at;
                at = line + 2;
                if blank {
                    return Ok(Some(at));
                }
            }
        }
        let arrived = size.min(raw.len() - at);
        data(&raw[at..at + arrived]);
        let Some(after) = raw.get(at + size..at + size + 2) else {
            return Ok(None);
        };
        if after != b"\r\n" {
            return Err("chunk longer than its size".into());
        }
        at += size + 2;
    }
}

/// Where the line starting at `at` ends (its CR), once it is complete.
fn line_at(raw: &[u8], at: usize) -> Option<usize> {
    raw[at..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|end| at + end)
}

/// A chunk's size: hex digits, then maybe extensions after `;`.
fn chunk_size(line: &[u8]) -> Result<usize, String> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = String::from_utf8_lossy(digits);
    let digits = digits.trim_matches([' ', '\t']);
    let bad = || format!("chunk size {:?}", truncate(digits));
    // Eight digits are 4 GiB, far past what a check reads.
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    usize::from_str_radix(digits, 16).map_err(|_| bad())
}

fn truncate(text: &str) -> String {
    text.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(header: &str, status: u16) -> Head {
        Head::parse(header.as_bytes(), status, false)
    }

    #[test]
    fn the_header_names_the_framing_and_whether_the_connection_stays() {
        let kept = |framing| Head {
            framing,
            reusable: true,
        };
        let dropped = |framing| Head {
            framing,
            reusable: false,
        };
        assert_eq!(
            head("HTTP/1.1 200 OK\r\ncontent-length: 12", 200),
            kept(Framing::Length(12))
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked", 200),
            kept(Framing::Chunked)
        );
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\nContent-Length: 0", 204),
            kept(Framing::Empty)
        );
        assert_eq!(
            Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5", 200, true),
            kept(Framing::Empty),
            "HEAD"
        );
        assert_eq!(head("HTTP/1.1 200 OK", 200), dropped(Framing::UntilClose));
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: Close",
                200
            ),
            dropped(Framing::Length(2))
        );
        assert_eq!(
            head("HTTP/1.0 200 OK\r\nContent-Length: 2", 200),
            dropped(Framing::Length(2))
        );
        assert_eq!(
            head(
                "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive",
                200
            ),
            kept(Framing::Length(2))
        );
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 2, 3", 200),
            dropped(Framing::UntilClose)
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2",
                200
            ),
            kept(Framing::Length(2))
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked",
                200
            ),
            dropped(Framing::Chunked)
        );
        assert_eq!(
            head("HTTP/1.1 103 Early Hints", 103),
            dropped(Framing::Empty)
        );
    }

    #[test]
    fn a_chunked_body_ends_after_its_trailers() {
        let raw = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(Framing::Chunked.end(raw), Ok(Some(raw.len())));
        assert_eq!(&*Framing::Chunked.body(raw), b"Wikipedia");
        for cut in 0..raw.len() {
            assert_eq!(Framing::Chunked.end(&raw[..cut]), Ok(None), "{cut}");
        }
        assert_eq!(&*Framing::Chunked.body(&raw[..12]), b"Wik");
        assert!(Framing::Chunked.end(b"4\r\nWikipedia\r\n").is_err());
        assert!(Framing::Chunked.end(b"zz\r\n").is_err());
        assert_eq!(Framing::Chunked.end(b"0\r\n\r\n"), Ok(Some(5)));
    }

    #[test]
    fn a_body_of_known_length_stops_there() {
        assert_eq!(Framing::Length(3).end(b"ab"), Ok(None));
        assert_eq!(Framing::Length(3).end(b"abcd"), Ok(Some(3)));
        assert_eq!(&*Framing::Length(3).body(b"abcd"), b"abc");
        assert_eq!(Framing::UntilClose.end(b"abcd"), Ok(None));
        assert_eq!(&*Framing::UntilClose.body(b"abcd"), b"abcd");
    }
}

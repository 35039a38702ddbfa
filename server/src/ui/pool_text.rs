//! The bulk editor's text form of a pool: one real server per line,
//! `ADDRESS[:PORT] weight=N forwarding=masq ...`, in the API's field names.

use std::net::{IpAddr, SocketAddr};

use lvs_model::spec::RealServerSpec;

/// Fields a line may set after its address, as `name=value`.
const FIELDS: &[&str] = &[
    "weight",
    "forwarding",
    "state",
    "tunnel_type",
    "tunnel_port",
    "tunnel_checksum",
    "upper_threshold",
    "lower_threshold",
    "description",
];

/// The text of a pool, in the order given.
pub fn format(servers: &[RealServerSpec]) -> String {
    let mut text = String::new();
    for server in servers {
        let address = server.address.as_deref().unwrap_or("");
        match (address.parse::<IpAddr>(), server.port) {
            (Ok(ip), Some(port)) => {
                let port = u16::try_from(port).unwrap_or(0);
                text.push_str(&SocketAddr::new(ip, port).to_string());
            }
            _ => text.push_str(address),
        }
        let mut field = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                text.push_str(&format!(" {name}={value}"));
            }
        };
        field("weight", server.weight.map(|w| w.to_string()));
        field("forwarding", server.forwarding.clone());
        field("state", server.state.clone().filter(|s| s != "active"));
        field("tunnel_type", server.tunnel_type.clone());
        field("tunnel_port", server.tunnel_port.map(|p| p.to_string()));
        field("tunnel_checksum", server.tunnel_checksum.clone());
        let thresholds = |t: Option<i64>| t.filter(|t| *t != 0).map(|t| t.to_string());
        field("upper_threshold", thresholds(server.upper_threshold));
        field("lower_threshold", thresholds(server.lower_threshold));
        if !server.description.is_empty() {
            field("description", Some(quoted(&server.description)));
        }
        text.push('\n');
    }
    text
}

/// `rack "a"` -> `"rack \"a\""`, as [`fields`] reads it back.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A line of the text that could not be read, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// The servers of a pool's text, with the line each came from. Blank lines and `#`
/// comments are skipped; every bad line is reported.
pub fn parse(text: &str) -> Result<Vec<(usize, RealServerSpec)>, Vec<LineError>> {
    let mut servers = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(spec) => servers.push((line_number, spec)),
            Err(message) => errors.push(LineError {
                line: line_number,
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(servers)
    } else {
        Err(errors)
    }
}

fn parse_line(line: &str) -> Result<RealServerSpec, String> {
    let (address, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut spec = RealServerSpec::default();
    if let Ok(socket) = address.parse::<SocketAddr>() {
        spec.address = Some(socket.ip().to_string());
        spec.port = Some(i64::from(socket.port()));
    } else if address.parse::<IpAddr>().is_ok() {
        spec.address = Some(address.to_owned());
    } else {
        return Err(format!(
            "{address:?} is not an address such as 10.1.0.1, 10.1.0.1:80 or [2001:db8::1]:80"
        ));
    }
    for (name, value) in fields(rest)? {
        let number = || {
            value
                .parse::<i64>()
                .map_err(|_| format!("{name} must be a whole number, not {value:?}"))
        };
        match name.as_str() {
            "weight" => spec.weight = Some(number()?),
            "forwarding" => spec.forwarding = Some(value),
            "state" => spec.state = Some(value),
            "tunnel_type" => spec.tunnel_type = Some(value),
            "tunnel_port" => spec.tunnel_port = Some(number()?),
            "tunnel_checksum" => spec.tunnel_checksum = Some(value),
            "upper_threshold" => spec.upper_threshold = Some(number()?),
            "lower_threshold" => spec.lower_threshold = Some(number()?),
            "description" => spec.description = value,
            other => {
                return Err(format!(
                    "unknown field {other:?}; fields are {}",
                    FIELDS.join(", ")
                ))
            }
        }
    }
    Ok(spec)
}

/// `name=value` pairs; a value may be double-quoted, with `\"` and `\\` inside.
fn fields(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if chars.next() != Some('=') {
            return Err(format!("{name:?} needs a value, as in {name}=..."));
        }
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("the quoted value of {name} is not closed")),
                    Some('"') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                }
            }
            value
        } else {
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
        };
        pairs.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_reads_back_as_written() {
        let servers = vec![
            RealServerSpec {
                address: Some("10.1.0.1".into()),
                port: Some(80),
                forwarding: Some("masq".into()),
                weight: Some(2),
                state: Some("drained".into()),
                description: "rack \"a\" 1".into(),
                ..RealServerSpec::default()
            },
            RealServerSpec {
                address: Some("2001:db8::1".into()),
                port: Some(8080),
                forwarding: Some("tunnel".into()),
                tunnel_type: Some("gue".into()),
                tunnel_port: Some(6080),
                weight: Some(1),
                ..RealServerSpec::default()
            },
        ];
        let text = format(&servers);
        assert_eq!(
            text,
            "10.1.0.1:80 weight=2 forwarding=masq state=drained description=\"rack \\\"a\\\" 1\"\n\
             [2001:db8::1]:8080 weight=1 forwarding=tunnel tunnel_type=gue tunnel_port=6080\n"
        );
        let parsed: Vec<RealServerSpec> = parse(&text)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(parsed, servers);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text =
            "# pool\n10.1.0.1:80 weight=x\n\nweb1 weight=1\n10.1.0.3 wieght=1\n10.1.0.4 weight\n";
        let errors = parse(text).err().unwrap_or_default();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 4, 5, 6]);
        assert_eq!(
            errors[0].message,
            "weight must be a whole number, not \"x\""
        );
        assert!(errors[2].message.starts_with("unknown field \"wieght\""));
        assert_eq!(
            errors[3].message,
            "\"weight\" needs a value, as in weight=..."
        );
    }
}

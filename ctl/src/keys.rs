//! Service and real-server keys as the API writes them (`tcp:192.0.2.10:80`,
//! `udp:[2001:db8::1]:53`, `fwmark:1:ipv4`; `10.1.0.11:8080`, `[2001:db8::11]:80`), from
//! documents and from the command line.

use std::net::IpAddr;

use lvs_model::spec::{RealServerSpec, ServiceSpec};

use crate::exit::{Exit, Failure, Outcome};

/// The key of a service, as the model names it; an error naming the bad field when its
/// protocol, address, port, mark or family is not valid (an import's, before it is applied).
pub fn try_service_key(service: &ServiceSpec) -> Result<String, String> {
    service
        .parse_key()
        .map(|key| key.to_string())
        .map_err(|errors| errors.to_string())
}

/// The key of a service of a document the server wrote, which is always valid.
pub fn service_key(service: &ServiceSpec) -> String {
    try_service_key(service).unwrap_or_else(|why| format!("(invalid service: {why})"))
}

/// The key of a real server of a document the server wrote.
pub fn real_server_key(real_server: &RealServerSpec) -> String {
    socket(
        real_server.address.as_deref().unwrap_or("?"),
        real_server.port.unwrap_or(0),
    )
}

/// `address:port`, with an IPv6 address in brackets.
pub fn socket(address: &str, port: i64) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

/// A service named on the command line, as the services list's filters.
#[derive(Debug, PartialEq, Eq)]
pub enum ServiceQuery {
    Address {
        protocol: String,
        address: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        family: String,
    },
}

impl ServiceQuery {
    pub fn parse(text: &str) -> Outcome<ServiceQuery> {
        let bad = |why: &str| {
            Failure::new(
                Exit::Usage,
                format!(
                    "service {text:?}: {why} (write tcp:192.0.2.10:80, udp:[2001:db8::1]:53 \
                     or fwmark:1:ipv4)"
                ),
            )
        };
        let (kind, rest) = text.split_once(':').ok_or_else(|| bad("no protocol"))?;
        match kind {
            "fwmark" => {
                let (mark, family) = rest.split_once(':').unwrap_or((rest, "ipv4"));
                let mark = mark
                    .parse()
                    .map_err(|_| bad("the mark is not a number 1-4294967295"))?;
                if family != "ipv4" && family != "ipv6" {
                    return Err(bad("the family must be ipv4 or ipv6"));
                }
                Ok(ServiceQuery::Fwmark {
                    mark,
                    family: family.to_owned(),
                })
            }
            "tcp" | "udp" | "sctp" => {
                let (address, port) = split_socket(rest).ok_or_else(|| bad("no :port"))?;
                Ok(ServiceQuery::Address {
                    protocol: kind.to_owned(),
                    address: address.parse().map_err(|_| bad("not an IP address"))?,
                    port: port.parse().map_err(|_| bad("the port is not 1-65535"))?,
                })
            }
            _ => Err(bad("the protocol must be tcp, udp, sctp or fwmark")),
        }
    }

    /// Whether `service`, of a document the server wrote, is this one.
    pub fn matches(&self, service: &ServiceSpec) -> bool {
        match self {
            ServiceQuery::Address {
                protocol,
                address,
                port,
            } => {
                service.protocol.as_deref() == Some(protocol.as_str())
                    && service.address.as_deref().and_then(|a| a.parse().ok()) == Some(*address)
                    && service.port == Some(i64::from(*port))
            }
            ServiceQuery::Fwmark { mark, family } => {
                service.fwmark == Some(i64::from(*mark))
                    && service.family.as_deref() == Some(family.as_str())
            }
        }
    }

    /// The services list's query string for this service.
    pub fn filter(&self) -> String {
        match self {
            ServiceQuery::Address {
                protocol,
                address,
                port,
            } => format!(
                "protocol={protocol}&address={}&port={port}",
                crate::client::encode(&address.to_string())
            ),
            ServiceQuery::Fwmark { mark, family: _ } => format!("fwmark={mark}"),
        }
    }
}

/// A real server named on the command line: its address, and its port when given.
pub fn parse_real_server(text: &str) -> Outcome<(IpAddr, Option<u16>)> {
    let bad = |why: &str| {
        Failure::new(
            Exit::Usage,
            format!("real server {text:?}: {why} (write 10.1.0.11:8080, [2001:db8::11]:80 or an address)"),
        )
    };
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok((address, None));
    }
    let (address, port) = split_socket(text).ok_or_else(|| bad("not an address"))?;
    let address = address.parse().map_err(|_| bad("not an IP address"))?;
    let port = port.parse().map_err(|_| bad("the port is not 0-65535"))?;
    Ok((address, Some(port)))
}

/// `1.2.3.4:80` or `[2001:db8::1]:80` into address and port text.
fn split_socket(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (address, port) = rest.split_once("]:")?;
        return Some((address, port));
    }
    let (address, port) = text.rsplit_once(':')?;
    (!address.contains(':')).then_some((address, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_named_as_the_api_names_them() {
        assert_eq!(
            ServiceQuery::parse("udp:[2001:db8::1]:53").unwrap(),
            ServiceQuery::Address {
                protocol: "udp".into(),
                address: "2001:db8::1".parse().unwrap(),
                port: 53
            }
        );
        assert_eq!(
            ServiceQuery::parse("fwmark:7:ipv6").unwrap(),
            ServiceQuery::Fwmark {
                mark: 7,
                family: "ipv6".into()
            }
        );
        for bad in [
            "192.0.2.1:80",
            "tcp:192.0.2.1",
            "tcp:host:80",
            "icmp:1.2.3.4:1",
            "fwmark:x",
        ] {
            let failure = ServiceQuery::parse(bad).unwrap_err();
            assert!(failure.message.contains(bad), "{failure}");
        }
    }

    #[test]
    fn real_servers_with_and_without_a_port() {
        assert_eq!(
            parse_real_server("10.1.0.11").unwrap(),
            ("10.1.0.11".parse().unwrap(), None)
        );
        assert_eq!(
            parse_real_server("[2001:db8::11]:80").unwrap(),
            ("2001:db8::11".parse().unwrap(), Some(80))
        );
        assert_eq!(
            parse_real_server("2001:db8::11").unwrap(),
            ("2001:db8::11".parse().unwrap(), None)
        );
        assert!(parse_real_server("10.1.0.11:x").is_err());
    }
}

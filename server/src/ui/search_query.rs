//! What a search box's text asks for: an address (with a port), a service as the UI labels
//! it, a firewall mark, an address prefix, or a name fragment. Service labels are read by
//! the model's own `ServiceSpec::parse_key`, so the search accepts exactly the keys the
//! pages show.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use lvs_model::spec::ServiceSpec;
use lvs_model::{Fwmark, Protocol, ServiceKey};

use crate::db::search::AddressRange;

/// Longer fragments are no name the fleet uses.
const MAX_NAME: usize = 100;

/// A parsed search.
#[derive(Debug, PartialEq, Eq)]
pub enum Query {
    /// Nothing typed.
    Empty,
    /// `10.1.0.11`, `10.1.0.11:8080`, `[2001:db8::1]:80`: VIPs, real servers, hosts.
    Address { address: IpAddr, port: Option<u16> },
    /// `tcp:20.0.0.100:80`, `fwmark:1:ipv4`: one service in every cluster that has it.
    Service(ServiceKey),
    /// `fwmark 5`, `fwmark:5`: the services of that mark, in both families.
    Fwmark(Fwmark),
    /// `10.1.0.`, `10.1.0.0/24`, `2001:db8:`: what it says and the address ranges it covers.
    Prefix {
        shown: String,
        ranges: Vec<AddressRange>,
    },
    /// Anything else: a fragment of a name (or of a service's description).
    Name(String),
}

/// The query `text` asks for, or why it cannot be searched.
pub fn parse(text: &str) -> Result<Query, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Query::Empty);
    }
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(Query::Address {
            address,
            port: None,
        });
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Ok(Query::Address {
            address: socket.ip(),
            port: Some(socket.port()),
        });
    }
    if let Some((network, len)) = text.split_once('/') {
        if let Ok(network) = network.parse::<IpAddr>() {
            return cidr(network, len);
        }
    }
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower
        .strip_prefix("fwmark:")
        .or_else(|| lower.strip_prefix("fwmark "))
    {
        return fwmark(rest.trim());
    }
    if let Some((protocol, socket)) = lower.split_once(':') {
        if protocol.parse::<Protocol>().is_ok() {
            return service(protocol, socket);
        }
    }
    if let Some(prefix) = v4_prefix(text).or_else(|| v6_prefix(&lower)) {
        return Ok(Query::Prefix {
            shown: prefix.clone(),
            ranges: vec![AddressRange::prefix(&prefix)],
        });
    }
    if text.chars().count() > MAX_NAME {
        return Err(format!(
            "a name is at most {MAX_NAME} characters; this is {}",
            text.chars().count()
        ));
    }
    Ok(Query::Name(text.to_owned()))
}

/// `tcp:20.0.0.100:80`: the model's key, or its reason.
fn service(protocol: &str, socket: &str) -> Result<Query, String> {
    let socket: SocketAddr = socket.parse().map_err(|_| {
        format!(
            "{protocol}:{socket} is not a service: after {protocol}: write address:port, \
             as in {protocol}:20.0.0.100:80 or {protocol}:[2001:db8::1]:443"
        )
    })?;
    let spec = ServiceSpec {
        protocol: Some(protocol.to_owned()),
        address: Some(socket.ip().to_string()),
        port: Some(i64::from(socket.port())),
        ..ServiceSpec::default()
    };
    spec.parse_key()
        .map(Query::Service)
        .map_err(|errors| format!("{protocol}:{socket} is not a service: {errors}"))
}

/// `5` or `5:ipv4` after `fwmark`.
fn fwmark(rest: &str) -> Result<Query, String> {
    let (mark, family) = match rest.split_once(':') {
        Some((mark, family)) => (mark, Some(family)),
        None => (rest, None),
    };
    let mark: i64 = mark
        .parse()
        .map_err(|_| format!("fwmark: {mark:?} is not a number such as fwmark 5"))?;
    match family {
        None => Fwmark::parse(mark)
            .map(Query::Fwmark)
            .map_err(|why| format!("fwmark: {why}")),
        Some(family) => {
            let spec = ServiceSpec {
                fwmark: Some(mark),
                family: Some(family.to_owned()),
                ..ServiceSpec::default()
            };
            spec.parse_key()
                .map(Query::Service)
                .map_err(|errors| format!("fwmark:{mark}:{family} is not a service: {errors}"))
        }
    }
}

/// `10.1.0.0/24`: the ranges of the addresses' text it covers.
fn cidr(network: IpAddr, len: &str) -> Result<Query, String> {
    let max = if network.is_ipv4() { 32 } else { 128 };
    let len: u8 = len
        .parse()
        .ok()
        .filter(|len| *len <= max)
        .ok_or_else(|| format!("{network}/{len}: the prefix length must be 0-{max}"))?;
    let ranges = match network {
        IpAddr::V4(network) => v4_ranges(network, len)?,
        IpAddr::V6(network) => v6_ranges(network, len)?,
    };
    Ok(Query::Prefix {
        shown: format!("{network}/{len}"),
        ranges,
    })
}

/// An IPv4 network as text ranges: its whole octets as a prefix, and each value the
/// partial octet can take (a /20 is 16 prefixes `10.1.0.` ... `10.1.15.`).
fn v4_ranges(network: Ipv4Addr, len: u8) -> Result<Vec<AddressRange>, String> {
    if len < 8 {
        return Err(format!(
            "{network}/{len} is too wide to search: use a /8 or longer"
        ));
    }
    let mask = u32::MAX << (32 - u32::from(len));
    let octets = Ipv4Addr::from(u32::from(network) & mask).octets();
    if len == 32 {
        return Ok(vec![AddressRange::exact(&network.to_string(), None)]);
    }
    let whole = usize::from(len / 8);
    let head: String = octets[..whole].iter().map(|o| format!("{o}.")).collect();
    let free = 8 - u32::from(len % 8);
    if free == 8 {
        return Ok(vec![AddressRange::prefix(&head)]);
    }
    let first = u32::from(octets[whole]);
    Ok((first..first + (1 << free))
        .map(|octet| {
            if whole == 3 {
                AddressRange::exact(&format!("{head}{octet}"), None)
            } else {
                AddressRange::prefix(&format!("{head}{octet}."))
            }
        })
        .collect())
}

/// An IPv6 network as a text prefix, which its leading groups are when they are whole and
/// non-zero (the canonical text compresses zeros, so others have no single prefix).
fn v6_ranges(network: Ipv6Addr, len: u8) -> Result<Vec<AddressRange>, String> {
    if len == 128 {
        return Ok(vec![AddressRange::exact(&network.to_string(), None)]);
    }
    let groups = &network.segments()[..usize::from(len / 16)];
    if len % 16 != 0 || groups.is_empty() || groups.contains(&0) {
        return Err(format!(
            "{network}/{len}: an IPv6 prefix is searched by its leading groups, which must \
             be whole and non-zero: write 2001:db8::/32 or 2001:db8:"
        ));
    }
    let head: String = groups.iter().map(|g| format!("{g:x}:")).collect();
    Ok(vec![AddressRange::prefix(&head)])
}

/// `10.`, `10.1`, `10.1.0.`: one to three whole octets, as the prefix `10.1.0.`.
fn v4_prefix(text: &str) -> Option<String> {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let octets: Vec<&str> = trimmed.split('.').collect();
    let dotted = text.contains('.');
    let valid = octets.iter().all(|o| {
        !o.is_empty()
            && o.len() <= 3
            && o.bytes().all(|b| b.is_ascii_digit())
            && o.parse::<u8>().is_ok()
    });
    (dotted && valid && octets.len() <= 3).then(|| {
        octets
            .iter()
            .map(|o| format!("{}.", o.parse::<u8>().unwrap_or(0)))
            .collect()
    })
}

/// `2001:db8:`: whole groups, each followed by a colon, no `::`.
fn v6_prefix(lower: &str) -> Option<String> {
    let body = lower.strip_suffix(':')?;
    let groups: Vec<&str> = body.split(':').collect();
    let valid = groups.len() < 8
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.len() <= 4 && g.bytes().all(|b| b.is_ascii_hexdigit()));
    // The stored text has no leading zeros in a group.
    valid.then(|| {
        groups
            .iter()
            .map(|g| format!("{:x}:", u16::from_str_radix(g, 16).unwrap_or(0)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes(query: &str) -> Vec<String> {
        match parse(query) {
            Ok(Query::Prefix { ranges, .. }) => ranges.into_iter().map(|r| r.from).collect(),
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn reads_each_form() {
        assert_eq!(parse("  "), Ok(Query::Empty));
        assert_eq!(
            parse("10.1.0.11"),
            Ok(Query::Address {
                address: "10.1.0.11".parse().unwrap(),
                port: None
            })
        );
        assert_eq!(
            parse("[2001:db8::1]:80"),
            Ok(Query::Address {
                address: "2001:db8::1".parse().unwrap(),
                port: Some(80)
            })
        );
        let key = |q: &str| match parse(q) {
            Ok(Query::Service(key)) => key.to_string(),
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(key("TCP:20.0.0.100:80"), "tcp:20.0.0.100:80");
        assert_eq!(key("udp:[2001:DB8::1]:53"), "udp:[2001:db8::1]:53");
        assert_eq!(key("fwmark:1:ipv6"), "fwmark:1:ipv6");
        assert!(matches!(parse("fwmark 5"), Ok(Query::Fwmark(m)) if m.get() == 5));
        assert!(matches!(parse("fwmark:5"), Ok(Query::Fwmark(m)) if m.get() == 5));
        assert_eq!(parse("web-1"), Ok(Query::Name("web-1".into())));
        assert_eq!(parse("cafe"), Ok(Query::Name("cafe".into())));
    }

    #[test]
    fn prefixes_become_text_ranges() {
        assert_eq!(prefixes("10.1.0."), ["10.1.0."]);
        assert_eq!(prefixes("10.1"), ["10.1."]);
        assert_eq!(prefixes("10.1.0.0/24"), ["10.1.0."]);
        assert_eq!(prefixes("10.0.0.0/8"), ["10."]);
        let wide = prefixes("10.1.7.0/20");
        assert_eq!(wide.len(), 16);
        assert_eq!(
            (wide[0].as_str(), wide[15].as_str()),
            ("10.1.0.", "10.1.15.")
        );
        assert_eq!(
            prefixes("10.1.0.4/30"),
            ["10.1.0.4", "10.1.0.5", "10.1.0.6", "10.1.0.7"]
        );
        assert_eq!(prefixes("2001:0DB8:"), ["2001:db8:"]);
        assert_eq!(prefixes("2001:db8::/32"), ["2001:db8:"]);
        let range = AddressRange::prefix("10.1.0.");
        for inside in ["10.1.0.0", "10.1.0.255"] {
            assert!(range.from.as_str() <= inside && inside <= range.to.as_str());
        }
        for outside in ["10.1.1.0", "10.1.00", "10.1.0", "10.10.0.1"] {
            assert!(!(range.from.as_str() <= outside && outside <= range.to.as_str()));
        }
    }

    #[test]
    fn bad_queries_say_why() {
        for (query, why) in [
            ("tcp:20.0.0.100", "write address:port"),
            ("tcp:20.0.0.100:0", "port"),
            ("fwmark 0", "fwmark: must be between 1"),
            ("fwmark x", "not a number"),
            ("fwmark:1:ipv5", "family"),
            ("10.0.0.0/4", "too wide"),
            ("10.0.0.0/33", "0-32"),
            ("2001:db8::/20", "leading groups"),
        ] {
            let error = parse(query).expect_err(query);
            assert!(error.contains(why), "{query}: {error}");
        }
        assert!(parse(&"x".repeat(101)).is_err());
    }
}

//! The packets a firewall-mark service takes: per rule a protocol, a VIP and ports or port
//! ranges, whose packets the director marks with the service's mark (in an nftables table
//! the agent owns). A fwmark service without rules takes packets marked by someone else.

use std::fmt;
use std::net::IpAddr;

use crate::service::{Family, Protocol};

/// One rule: packets of `protocol` to `address` on any of `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MarkRule {
    pub protocol: Protocol,
    pub address: IpAddr,
    /// Sorted, not overlapping, not adjacent (merged as they are read).
    pub ports: Vec<PortRange>,
}

/// Ports `first` to `last`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl MarkRule {
    /// Most rules a service has.
    pub const MAX_RULES: usize = 64;
    /// Most ports and ranges a rule lists.
    pub const MAX_PORTS: usize = 64;

    pub fn family(&self) -> Family {
        Family::of(self.address)
    }
}

/// The first packet class both rule lists mark: the index of its rule in `rules` and the
/// class (`tcp 192.0.2.10 port 443`). Two services cannot both mark one packet: the mark
/// it ends up with would depend on the order of their rules.
pub fn first_overlap(rules: &[MarkRule], other: &[MarkRule]) -> Option<(usize, String)> {
    rules.iter().enumerate().find_map(|(i, rule)| {
        other
            .iter()
            .filter(|o| o.protocol == rule.protocol && o.address == rule.address)
            .flat_map(|o| o.ports.iter())
            .find_map(|theirs| {
                rule.ports.iter().find_map(|ours| {
                    let first = ours.first.max(theirs.first);
                    let last = ours.last.min(theirs.last);
                    (first <= last).then(|| {
                        let ports = PortRange { first, last };
                        let noun = if first == last { "port" } else { "ports" };
                        (
                            i,
                            format!("{} {} {noun} {ports}", rule.protocol, rule.address),
                        )
                    })
                })
            })
    })
}

impl PortRange {
    /// `80` or `8000-8100`, as written in JSON; a port must be 1 to 65535.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let port = |text: &str| -> Result<u16, String> {
            text.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{text:?} is not a port between 1 and 65535"))
        };
        let (first, last) = match raw.split_once('-') {
            Some((first, last)) => (port(first)?, port(last)?),
            None => {
                let p = port(raw)?;
                (p, p)
            }
        };
        if first > last {
            return Err(format!("range {raw:?} ends before it starts"));
        }
        Ok(PortRange { first, last })
    }

    /// Sorts and merges overlapping and adjacent ranges.
    pub fn normalise(mut ranges: Vec<PortRange>) -> Vec<PortRange> {
        ranges.sort_unstable();
        let mut merged: Vec<PortRange> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(range.first) <= u32::from(last.last) + 1 => {
                    last.last = last.last.max(range.last);
                }
                _ => merged.push(range),
            }
        }
        merged
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_need_the_same_protocol_address_and_a_common_port() {
        let rule = |protocol, address: &str, first, last| MarkRule {
            protocol,
            address: address.parse().expect("an address"),
            ports: vec![PortRange { first, last }],
        };
        let web = [
            rule(Protocol::Tcp, "192.0.2.10", 80, 80),
            rule(Protocol::Tcp, "192.0.2.10", 8000, 8100),
        ];
        let others = [
            rule(Protocol::Udp, "192.0.2.10", 80, 80),
            rule(Protocol::Tcp, "192.0.2.11", 80, 80),
            rule(Protocol::Tcp, "192.0.2.10", 81, 7999),
        ];
        assert_eq!(first_overlap(&web, &others), None);
        let clash = [rule(Protocol::Tcp, "192.0.2.10", 8050, 9000)];
        assert_eq!(
            first_overlap(&web, &clash),
            Some((1, "tcp 192.0.2.10 ports 8050-8100".to_owned()))
        );
    }

    #[test]
    fn ranges_are_read_sorted_and_merged() {
        let ranges: Vec<PortRange> = ["443", "80", "8000-8100", "8050-8200", "81"]
            .iter()
            .map(|r| PortRange::parse(r).expect("valid"))
            .collect();
        let merged: Vec<String> = PortRange::normalise(ranges)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(merged, ["80-81", "443", "8000-8200"]);
        assert_eq!(
            PortRange::parse("90-80").expect_err("backwards"),
            "range \"90-80\" ends before it starts"
        );
        assert_eq!(
            PortRange::parse("0").expect_err("no port 0"),
            "\"0\" is not a port between 1 and 65535"
        );
    }
}

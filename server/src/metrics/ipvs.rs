//! The agents' IPVS statistics under node_exporter's names and labels (its `ipvs`
//! collector), so dashboards built for node_exporter on each director work on the fleet:
//! every series also carries `cluster` and `director`.
//!
//! - `node_ipvs_{connections,incoming_packets,outgoing_packets,incoming_bytes,outgoing_bytes}_total`:
//!   the director's totals, the sum of its services' counters (node_exporter reads the
//!   kernel's own sum; a deleted service leaves it, which a rate sees as a counter reset).
//! - `node_ipvs_backend_{connections_active,connections_inactive,weight}` (written by
//!   `backends.rs`): per real server with `local_address`, `local_port`, `remote_address`,
//!   `remote_port`, `proto` and `local_mark` as node_exporter writes them from
//!   `/proc/net/ip_vs` ([`Local`]): `proto` `TCP`, `UDP`, `SCTP` or `FWM`; a fwmark service
//!   has an empty `local_address`, `local_port` `0` and its mark in `local_mark` as eight
//!   upper-case hex digits, others an empty `local_mark`.

use std::fmt;

use lvs_model::agent::Counters;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::Reported;

/// A family of the module's: its name, help, and the value it takes of a `T`.
struct Described<T> {
    name: &'static str,
    help: &'static str,
    value: fn(&T) -> u64,
}

const fn described<T>(
    name: &'static str,
    help: &'static str,
    value: fn(&T) -> u64,
) -> Described<T> {
    Described { name, help, value }
}

const TOTALS: [Described<Counters>; 5] = [
    described(
        "node_ipvs_connections",
        "The total number of connections made",
        |c| c.connections,
    ),
    described(
        "node_ipvs_incoming_packets",
        "The total number of incoming packets",
        |c| c.packets_in,
    ),
    described(
        "node_ipvs_outgoing_packets",
        "The total number of outgoing packets",
        |c| c.packets_out,
    ),
    described(
        "node_ipvs_incoming_bytes",
        "The total amount of incoming data",
        |c| c.bytes_in,
    ),
    described(
        "node_ipvs_outgoing_bytes",
        "The total amount of outgoing data",
        |c| c.bytes_out,
    ),
];

/// The directors' totals; the backend families are `backends.rs`'.
pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    reported: &[Reported],
) -> Result<(), fmt::Error> {
    for Described {
        name,
        help,
        value: field,
    } in TOTALS
    {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for director in reported {
            let total: u64 = director
                .report
                .services
                .iter()
                .map(|s| field(&s.counters))
                .fold(0, u64::wrapping_add);
            let labels = [
                ("cluster", &*director.cluster),
                ("director", &director.director),
            ];
            ConstCounter::new(total).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// A service's labels, from its key (`tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`,
/// `fwmark:42:ipv4`).
#[derive(Debug)]
pub(super) struct Local<'a> {
    pub address: &'a str,
    pub port: &'a str,
    pub proto: &'static str,
    pub mark: String,
}

impl<'a> Local<'a> {
    pub fn of(key: &'a str) -> Local<'a> {
        let (kind, rest) = key.split_once(':').unwrap_or((key, ""));
        let proto = match kind {
            "tcp" => "TCP",
            "udp" => "UDP",
            "sctp" => "SCTP",
            "fwmark" => "FWM",
            _ => "",
        };
        if proto == "FWM" {
            let mark = rest.split(':').next().and_then(|m| m.parse::<u32>().ok());
            return Local {
                address: "",
                port: "0",
                proto,
                mark: mark.map(|m| format!("{m:08X}")).unwrap_or_default(),
            };
        }
        let (address, port) = split_address(rest);
        Local {
            address,
            port,
            proto,
            mark: String::new(),
        }
    }
}

/// `10.0.0.1:80` or `[2001:db8::1]:80` as address and port, without the brackets.
pub(super) fn split_address(key: &str) -> (&str, &str) {
    let (address, port) = key.rsplit_once(':').unwrap_or((key, ""));
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    (address, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_keys_become_node_exporters_labels() {
        let tcp = Local::of("tcp:10.0.0.1:80");
        assert_eq!(
            (tcp.address, tcp.port, tcp.proto, tcp.mark.as_str()),
            ("10.0.0.1", "80", "TCP", "")
        );
        let udp = Local::of("udp:[2001:db8::1]:53");
        assert_eq!(
            (udp.address, udp.port, udp.proto),
            ("2001:db8::1", "53", "UDP")
        );
        let mark = Local::of("fwmark:42:ipv4");
        assert_eq!(
            (mark.address, mark.port, mark.proto, mark.mark.as_str()),
            ("", "0", "FWM", "0000002A")
        );
        assert_eq!(split_address("[2001:db8::2]:8080"), ("2001:db8::2", "8080"));
    }
}

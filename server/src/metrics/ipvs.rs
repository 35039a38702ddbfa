//! The agents' IPVS statistics under node_exporter's names and labels (its `ipvs`
//! collector), so dashboards built for node_exporter on each director work on the fleet:
//! every series also carries `cluster` and `director`.
//!
//! - `node_ipvs_{connections,incoming_packets,outgoing_packets,incoming_bytes,outgoing_bytes}_total`:
//!   the director's totals, the sum of its services' counters (node_exporter reads the
//!   kernel's own sum; a deleted service leaves it, which a rate sees as a counter reset).
//! - `node_ipvs_backend_{connections_active,connections_inactive,weight}`: per real server
//!   with `local_address`, `local_port`, `remote_address`, `remote_port`, `proto` and
//!   `local_mark` written as node_exporter writes them from `/proc/net/ip_vs`: `proto`
//!   `TCP`, `UDP`, `SCTP` or `FWM`; a fwmark service has an empty `local_address`,
//!   `local_port` `0` and its mark in `local_mark` as eight upper-case hex digits, others
//!   an empty `local_mark`.
//!
//! A coarser `--metrics-detail` sums the backend series over the labels it leaves out, as
//! node_exporter does with `--collector.ipvs.backend-labels`: `service` leaves out the
//! remote labels, `cluster` every address label.

use std::fmt;

use lvs_model::agent::{Counters, ServiceStats};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::{MetricsDetail, Reported};

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

/// The backend gauges: name, help, and which value of a [`Backend`].
const BACKENDS: [Described<Backend>; 3] = [
    described(
        "node_ipvs_backend_connections_active",
        "The current active connections by local and remote address",
        |b| b.active,
    ),
    described(
        "node_ipvs_backend_connections_inactive",
        "The current inactive connections by local and remote address",
        |b| b.inactive,
    ),
    described(
        "node_ipvs_backend_weight",
        "The current backend weight by local and remote address",
        |b| b.weight,
    ),
];

/// One backend series' values.
#[derive(Debug, Default, Clone, Copy)]
struct Backend {
    active: u64,
    inactive: u64,
    weight: u64,
}

impl Backend {
    fn add(&mut self, other: Backend) {
        self.active += other.active;
        self.inactive += other.inactive;
        self.weight += other.weight;
    }
}

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    reported: &[Reported],
    detail: MetricsDetail,
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
    // The local labels of each service, parsed once for the three families.
    let locals: Vec<Vec<Local>> = reported
        .iter()
        .map(|r| {
            r.report
                .services
                .iter()
                .map(|s| Local::of(&s.key))
                .collect()
        })
        .collect();
    for Described { name, help, value } in BACKENDS {
        let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for (director, locals) in reported.iter().zip(&locals) {
            let (cluster, name) = (&*director.cluster, director.director.as_str());
            let services = director.report.services.iter().zip(locals);
            match detail {
                MetricsDetail::RealServer => {
                    for (service, local) in services {
                        for server in &service.real_servers {
                            let backend = Backend {
                                active: u64::from(server.active_connections),
                                inactive: u64::from(server.inactive_connections),
                                weight: u64::from(director.weights.of(&service.key, &server.key)),
                            };
                            let (address, port) = split_address(&server.key);
                            let labels = [
                                ("cluster", cluster),
                                ("director", name),
                                ("local_address", local.address),
                                ("local_port", local.port),
                                ("remote_address", address),
                                ("remote_port", port),
                                ("proto", local.proto),
                                ("local_mark", &local.mark),
                            ];
                            ConstGauge::new(value(&backend))
                                .encode(family.encode_family(&labels)?)?;
                        }
                    }
                }
                MetricsDetail::Service => {
                    for (service, local) in services {
                        let backend = service_backend(director, service);
                        let labels = [
                            ("cluster", cluster),
                            ("director", name),
                            ("local_address", local.address),
                            ("local_port", local.port),
                            ("proto", local.proto),
                            ("local_mark", &local.mark),
                        ];
                        ConstGauge::new(value(&backend)).encode(family.encode_family(&labels)?)?;
                    }
                }
                MetricsDetail::Cluster => {
                    let mut backend = Backend::default();
                    for service in &director.report.services {
                        backend.add(service_backend(director, service));
                    }
                    let labels = [("cluster", cluster), ("director", name)];
                    ConstGauge::new(value(&backend)).encode(family.encode_family(&labels)?)?;
                }
            }
        }
    }
    Ok(())
}

/// A service's real servers summed.
fn service_backend(director: &Reported, service: &ServiceStats) -> Backend {
    let mut sum = Backend::default();
    for server in &service.real_servers {
        sum.add(Backend {
            active: u64::from(server.active_connections),
            inactive: u64::from(server.inactive_connections),
            weight: u64::from(director.weights.of(&service.key, &server.key)),
        });
    }
    sum
}

/// A service's labels, from its key (`tcp:10.0.0.1:80`, `udp:[2001:db8::1]:53`,
/// `fwmark:42:ipv4`).
#[derive(Debug)]
struct Local<'a> {
    address: &'a str,
    port: &'a str,
    proto: &'static str,
    mark: String,
}

impl<'a> Local<'a> {
    fn of(key: &'a str) -> Local<'a> {
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
fn split_address(key: &str) -> (&str, &str) {
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

//! The kernel's counters as a [`StatsReport`]: per service and per real server, from the same
//! table read the reconciler does.

use lvs_ipvs::{Stats, TableEntry};
use lvs_model::agent::{Counters, Rates, RealServerStats, ServiceStats, StatsReport};

use crate::observed::key_name;

/// Every service of the table with its real servers' counters and connection counts.
pub fn report(table: &[TableEntry]) -> StatsReport {
    let mut services: Vec<ServiceStats> = table
        .iter()
        .map(|entry| ServiceStats {
            key: key_name(&entry.service.service.key),
            counters: counters(&entry.service.stats),
            rates: rates(&entry.service.stats),
            real_servers: entry
                .destinations
                .iter()
                .map(|d| RealServerStats {
                    key: d.destination.addr.to_string(),
                    active_connections: d.active_conns,
                    inactive_connections: d.inactive_conns,
                    persistent_connections: d.persistent_conns,
                    counters: counters(&d.stats),
                    rates: rates(&d.stats),
                })
                .collect(),
        })
        .collect();
    services.sort_by(|a, b| a.key.cmp(&b.key));
    StatsReport { services }
}

fn counters(s: &Stats) -> Counters {
    Counters {
        connections: s.conns,
        packets_in: s.in_packets,
        packets_out: s.out_packets,
        bytes_in: s.in_bytes,
        bytes_out: s.out_bytes,
    }
}

fn rates(s: &Stats) -> Rates {
    Rates {
        connections: s.cps,
        packets_in: s.in_pps,
        packets_out: s.out_pps,
        bytes_in: s.in_bps,
        bytes_out: s.out_bps,
    }
}

#[cfg(test)]
mod tests {
    use lvs_ipvs::{
        Destination, DestinationEntry, ForwardMethod, Protocol, Scheduler, Service, ServiceEntry,
        ServiceKey,
    };

    use super::*;

    #[test]
    fn maps_counters_rates_and_connections() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
        };
        let stats = Stats {
            conns: 1,
            in_packets: 2,
            out_packets: 3,
            in_bytes: 4,
            out_bytes: 5,
            cps: 6,
            in_pps: 7,
            out_pps: 8,
            in_bps: 9,
            out_bps: 10,
        };
        let table = [TableEntry {
            service: ServiceEntry {
                service: Service::new(key, Scheduler::RoundRobin),
                stats,
            },
            destinations: vec![DestinationEntry {
                destination: Destination::new(
                    "[2001:db8::2]:8080".parse().unwrap(),
                    ForwardMethod::Tunnel,
                ),
                active_conns: 11,
                inactive_conns: 12,
                persistent_conns: 13,
                stats,
            }],
        }];
        let report = report(&table);
        let service = &report.services[0];
        assert_eq!(service.key, "tcp:10.0.0.1:80");
        assert_eq!(service.counters.bytes_out, 5);
        assert_eq!(service.rates.connections, 6);
        assert_eq!(service.rates.bytes_out, 10);
        let server = &service.real_servers[0];
        assert_eq!(server.key, "[2001:db8::2]:8080");
        assert_eq!(
            (
                server.active_connections,
                server.inactive_connections,
                server.persistent_connections
            ),
            (11, 12, 13)
        );
        assert_eq!(server.counters.packets_in, 2);
    }
}

//! The tables the benchmark uses: `services` wrr TCP services on 10.0.x.y:80, each with 10
//! NAT real servers 10.100.d.y:8080 of weights 1..=10, except the first real server of the
//! last service, whose weight is the one the benchmark changes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use lvs_model::spec::DesiredStateSpec;
use lvs_model::DesiredState;
use serde_json::{json, Value};

pub const REAL_SERVERS: usize = 10;

fn vip(service: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, (service / 250) as u8, (service % 250 + 1) as u8)
}

fn real_server(service: usize, index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 100, index as u8, (service % 250 + 1) as u8)
}

/// The services as the API takes them, with `weight` on the changing real server.
pub fn services(count: usize, weight: u32) -> Value {
    let services: Vec<Value> = (0..count)
        .map(|s| {
            let servers: Vec<Value> = (0..REAL_SERVERS)
                .map(|d| {
                    let w = if s + 1 == count && d == 0 {
                        weight
                    } else {
                        1 + d as u32
                    };
                    json!({"address": real_server(s, d).to_string(), "port": 8080,
                           "forwarding": "masq", "weight": w})
                })
                .collect();
            json!({"protocol": "tcp", "address": vip(s).to_string(), "port": 80,
                   "scheduler": "wrr", "real_servers": servers})
        })
        .collect();
    Value::Array(services)
}

/// The same table as the agent receives it, at `generation`: the document's text.
pub fn document(count: usize, weight: u32, generation: u64) -> String {
    json!({"generation": generation, "timeouts": {}, "services": services(count, weight)})
        .to_string()
}

/// A document parsed and validated as the agent's client does it.
pub fn parse(document: &str) -> DesiredState {
    let spec: DesiredStateSpec = serde_json::from_str(document).expect("a desired-state document");
    spec.parse().expect("a valid desired state")
}

/// The kernel key of the service holding the changing real server, and that server.
pub fn changing(count: usize) -> (lvs_ipvs::ServiceKey, SocketAddr) {
    let service = count - 1;
    let key = lvs_ipvs::ServiceKey::Inet {
        protocol: lvs_ipvs::Protocol::Tcp,
        addr: IpAddr::V4(vip(service)),
        port: 80,
    };
    (
        key,
        SocketAddr::new(IpAddr::V4(real_server(service, 0)), 8080),
    )
}

//! The kernel's table as the planner sees it: a model state, plus what the model cannot say
//! (connection counts, the raw destinations, and services the model cannot represent).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use lvs_ipvs::{DestinationEntry, ServiceKey, TableEntry, Timeouts};
use lvs_model::spec::ServiceSpec;
use lvs_model::{DesiredService, DesiredState};

use crate::kernel_map;

/// One read of a director's IPVS table.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every service the model can represent, at generation 0 with no timeouts.
    pub state: DesiredState,
    /// The connection timeouts in force.
    pub timeouts: Timeouts,
    /// Every service's destinations as the kernel reports them, foreign ones included.
    pub destinations: HashMap<ServiceKey, Vec<DestinationEntry>>,
    /// Services the model rejects (an unloaded scheduler, a weight above 65535, ...).
    pub foreign: Vec<ForeignService>,
}

/// A kernel service that does not parse as a model service.
#[derive(Debug, Clone)]
pub struct ForeignService {
    pub key: ServiceKey,
    /// Its spec as read, for reports.
    pub spec: ServiceSpec,
    /// Why the model rejects it.
    pub reason: String,
}

impl Observed {
    /// Converts a table read with `ipvs.table()` and `ipvs.timeouts()`.
    pub fn from_table(table: &[TableEntry], timeouts: Timeouts) -> Observed {
        let mut services = Vec::with_capacity(table.len());
        let mut foreign = Vec::new();
        let mut destinations = HashMap::with_capacity(table.len());
        for entry in table {
            let key = entry.service.service.key;
            match kernel_map::observed_service(entry) {
                Ok(service) => services.push(service),
                Err(errors) => foreign.push(ForeignService {
                    key,
                    spec: kernel_map::service_spec(entry),
                    reason: errors.to_string(),
                }),
            }
            destinations.insert(key, entry.destinations.clone());
        }
        let state = DesiredState::new(0, lvs_model::Timeouts::default(), services)
            .expect("distinct kernel keys are distinct model keys");
        Observed {
            state,
            timeouts,
            destinations,
            foreign,
        }
    }

    /// The kernel's entry for one destination.
    pub fn destination(&self, service: &ServiceKey, addr: SocketAddr) -> Option<&DestinationEntry> {
        self.destinations
            .get(service)?
            .iter()
            .find(|d| d.destination.addr == addr)
    }

    /// Active + inactive connections of one destination (0 when unknown).
    pub fn connections(&self, service: &ServiceKey, addr: SocketAddr) -> u32 {
        self.destination(service, addr).map_or(0, connections)
    }

    /// Active + inactive connections of a whole service.
    pub fn service_connections(&self, service: &ServiceKey) -> u32 {
        self.destinations.get(service).map_or(0, |d| {
            d.iter().map(connections).fold(0, u32::saturating_add)
        })
    }

    /// The model services, for callers that want them directly.
    pub fn services(&self) -> impl Iterator<Item = &DesiredService> {
        self.state.services()
    }
}

fn connections(d: &DestinationEntry) -> u32 {
    d.active_conns.saturating_add(d.inactive_conns)
}

/// A service key the way the model and the API write it: `tcp:10.0.0.1:80`,
/// `udp:[2001:db8::1]:53`, `fwmark:42:ipv4`; also for keys the model cannot hold.
pub fn key_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Inet {
            protocol,
            addr: IpAddr::V4(a),
            port,
        } => format!("{protocol}:{a}:{port}"),
        ServiceKey::Inet {
            protocol,
            addr: IpAddr::V6(a),
            port,
        } => format!("{protocol}:[{a}]:{port}"),
        ServiceKey::Fwmark { family, mark } => {
            let family = match family {
                lvs_ipvs::Family::Inet => "ipv4".to_owned(),
                lvs_ipvs::Family::Inet6 => "ipv6".to_owned(),
                lvs_ipvs::Family::Other(raw) => format!("family{raw}"),
            };
            format!("fwmark:{mark}:{family}")
        }
    }
}

/// `service tcp:10.0.0.1:80`.
pub fn service_object(key: &ServiceKey) -> String {
    format!("service {}", key_name(key))
}

/// `real server 10.1.0.1:80 of tcp:10.0.0.1:80`.
pub fn real_server_object(key: &ServiceKey, addr: SocketAddr) -> String {
    format!("real server {addr} of {}", key_name(key))
}

//! The desired state of a cluster: everything its directors' kernels should hold.

use std::collections::btree_map::{BTreeMap, Entry};

use serde::{Deserialize, Serialize};

use crate::host::HostSettings;
use crate::mark_rules::first_overlap;
use crate::real_server::{RealServer, RealServerKey};
use crate::service::{ServiceKey, VirtualService};
use crate::spec::{DesiredStateSpec, DocumentView, RealServerSpec, ServiceSpec, Timeouts};
use crate::validation::ValidationErrors;

/// A cluster's whole configuration at one generation, in a deterministic order (services
/// by key, real servers by address and port), so equal states serialise identically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "DesiredStateSpec")]
pub struct DesiredState {
    /// Bumped by every committed change to the cluster's desired state; 0 = never set.
    pub generation: u64,
    pub timeouts: Timeouts,
    /// How the agents prepare each director host (VIPs, sysctls).
    pub host: HostSettings,
    services: BTreeMap<ServiceKey, DesiredService>,
}

/// A virtual service with its real servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    service: VirtualService,
    real_servers: BTreeMap<RealServerKey, RealServer>,
}

impl DesiredService {
    /// A service and its real servers; `real_servers` must have been parsed for this
    /// service's key, and a duplicate address and port is an error, as is a real server
    /// that is also the sorry server (the kernel holds one of each address and port).
    pub fn new(
        service: VirtualService,
        real_servers: impl IntoIterator<Item = RealServer>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut map = BTreeMap::new();
        let sorry = service.sorry_server().map(RealServer::key);
        for (i, server) in real_servers.into_iter().enumerate() {
            if sorry == Some(server.key()) {
                errors.add(
                    "sorry_server",
                    format!(
                        "{} is also real_servers[{i}]; a sorry server stands in for the real \
                         servers and cannot be one of them",
                        display_key(server.key())
                    ),
                );
                continue;
            }
            match map.entry(server.key()) {
                Entry::Occupied(_) => errors.add(
                    format!("real_servers[{i}]"),
                    format!("duplicate real server {}", display_key(server.key())),
                ),
                Entry::Vacant(slot) => {
                    slot.insert(server);
                }
            }
        }
        errors.into_result().map(|()| DesiredService {
            service,
            real_servers: map,
        })
    }

    pub fn service(&self) -> &VirtualService {
        &self.service
    }

    pub fn key(&self) -> &ServiceKey {
        self.service.key()
    }

    pub fn real_servers(&self) -> impl ExactSizeIterator<Item = &RealServer> {
        self.real_servers.values()
    }

    pub fn real_server(&self, key: &RealServerKey) -> Option<&RealServer> {
        self.real_servers.get(key)
    }

    pub(crate) fn real_server_map(&self) -> &BTreeMap<RealServerKey, RealServer> {
        &self.real_servers
    }

    pub(crate) fn real_server_map_mut(&mut self) -> &mut BTreeMap<RealServerKey, RealServer> {
        &mut self.real_servers
    }

    pub(crate) fn set_service(&mut self, service: VirtualService) {
        self.service = service;
    }

    /// Validates a service spec with its `real_servers`.
    pub fn parse(spec: &ServiceSpec) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let service = errors.check_nested("", spec.parse());
        let mut servers = Vec::new();
        // Real servers need only the key: with it they are checked even when other
        // settings are bad, so every problem is reported at once.
        if let Ok(key) = spec.parse_key() {
            for (i, server) in spec.real_servers.iter().flatten().enumerate() {
                if let Some(server) =
                    errors.check_nested(&format!("real_servers[{i}]"), server.parse(&key))
                {
                    servers.push(server);
                }
            }
        }
        match service {
            Some(service) if errors.is_empty() => DesiredService::new(service, servers),
            _ => Err(errors),
        }
    }

    /// The canonical spec, with its real servers.
    pub fn to_spec(&self) -> ServiceSpec {
        ServiceSpec {
            real_servers: Some(self.real_servers().map(RealServerSpec::from).collect()),
            ..ServiceSpec::from(&self.service)
        }
    }
}

impl DesiredState {
    /// A state from services, rejecting two services with the same key.
    pub fn new(
        generation: u64,
        timeouts: Timeouts,
        services: impl IntoIterator<Item = DesiredService>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut map = BTreeMap::new();
        for (i, service) in services.into_iter().enumerate() {
            match map.entry(*service.key()) {
                Entry::Occupied(_) => errors.add(
                    format!("services[{i}]"),
                    format!("duplicate service {}", service.key()),
                ),
                Entry::Vacant(slot) => {
                    slot.insert(service);
                }
            }
        }
        errors.into_result().map(|()| DesiredState {
            generation,
            timeouts,
            host: HostSettings::default(),
            services: map,
        })
    }

    pub fn services(&self) -> impl ExactSizeIterator<Item = &DesiredService> {
        self.services.values()
    }

    pub fn service(&self, key: &ServiceKey) -> Option<&DesiredService> {
        self.services.get(key)
    }

    /// Marking rules of two fwmark services that mark the same packets: the later service,
    /// the index of its rule and why (`tcp 192.0.2.10 port 443 is marked by fwmark:1:ipv4
    /// too`). Fwmark services with rules are few, so all pairs are compared.
    pub fn mark_rule_overlaps(&self) -> Vec<(ServiceKey, usize, String)> {
        let marking: Vec<&DesiredService> = self
            .services()
            .filter(|s| !s.service().mark_rules().is_empty())
            .collect();
        let mut overlaps = Vec::new();
        for (n, service) in marking.iter().enumerate() {
            for earlier in &marking[..n] {
                let rules = service.service().mark_rules();
                if let Some((r, class)) = first_overlap(rules, earlier.service().mark_rules()) {
                    overlaps.push((
                        *service.key(),
                        r,
                        format!("{class} is marked by {} too", earlier.key()),
                    ));
                }
            }
        }
        overlaps
    }

    pub fn real_server_count(&self) -> usize {
        self.services.values().map(|s| s.real_servers.len()).sum()
    }

    pub(crate) fn service_map(&self) -> &BTreeMap<ServiceKey, DesiredService> {
        &self.services
    }

    pub(crate) fn service_map_mut(&mut self) -> &mut BTreeMap<ServiceKey, DesiredService> {
        &mut self.services
    }
}

impl TryFrom<DesiredStateSpec> for DesiredState {
    type Error = ValidationErrors;

    fn try_from(spec: DesiredStateSpec) -> Result<Self, ValidationErrors> {
        spec.parse()
    }
}

impl Serialize for DesiredState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        DocumentView {
            cluster: None,
            state: self,
        }
        .serialize(serializer)
    }
}

/// `10.0.0.2:80` or `[2001:db8::2]:80`.
pub(crate) fn display_key((address, port): RealServerKey) -> String {
    std::net::SocketAddr::new(address, port).to_string()
}

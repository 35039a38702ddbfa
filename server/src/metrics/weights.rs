//! The weights `node_ipvs_backend_weight` shows: each real server's desired weight, 0 while
//! drained, as the cluster's desired state has it. They change only with a new generation,
//! so a scrape reads them from the database once per cluster and generation.
//!
//! A real server that a director's health checks took down has weight 0 in that kernel but
//! its desired weight here; its health is on `GET .../health`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

/// A stored real server: its service's key, address, port and weight in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWeight {
    pub service_key: String,
    pub address: String,
    pub port: u16,
    pub weight: u32,
}

/// Service key -> real server key (`10.1.0.1:80`, `[2001:db8::1]:80`, as agents report
/// it) -> weight.
#[derive(Debug, Default)]
pub struct Weights(HashMap<String, HashMap<String, u32>>);

impl Weights {
    pub fn new(stored: impl IntoIterator<Item = StoredWeight>) -> Weights {
        let mut services: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for row in stored {
            // The key as agents write it, from the address's canonical form.
            let key = match row.address.parse::<IpAddr>() {
                Ok(address) => SocketAddr::new(address, row.port).to_string(),
                Err(_) => format!("{}:{}", row.address, row.port),
            };
            services
                .entry(row.service_key)
                .or_default()
                .insert(key, row.weight);
        }
        Weights(services)
    }

    /// The weights of a service's real servers.
    pub fn of_service(&self, service_key: &str) -> ServiceWeights<'_> {
        ServiceWeights(self.0.get(service_key))
    }
}

/// The weights of one service's real servers, looked up once per service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceWeights<'a>(Option<&'a HashMap<String, u32>>);

impl ServiceWeights<'_> {
    /// The weight of one of them; 0 for one the desired state no longer has, which its
    /// director is draining.
    pub fn of(&self, real_server_key: &str) -> u32 {
        self.0
            .and_then(|servers| servers.get(real_server_key))
            .copied()
            .unwrap_or(0)
    }
}

/// Per cluster id, the weights of its latest generation read.
#[derive(Debug, Default)]
pub struct WeightsCache(Mutex<HashMap<i64, (u64, Arc<Weights>)>>);

impl WeightsCache {
    /// The cluster's weights at `generation`, if they were read.
    pub fn get(&self, cluster_id: i64, generation: u64) -> Option<Arc<Weights>> {
        let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(&cluster_id)
            .filter(|(read_at, _)| *read_at == generation)
            .map(|(_, weights)| weights.clone())
    }

    pub fn put(&self, cluster_id: i64, generation: u64, weights: Arc<Weights>) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(cluster_id, (generation, weights));
    }

    /// Forgets the clusters not in `clusters` (deleted since).
    pub fn keep_only(&self, clusters: &[i64]) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|id, _| clusters.contains(id));
    }
}

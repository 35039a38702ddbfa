//! The real-server hosts' long-polls now waiting, and waking those a commit concerns.
//!
//! A commit records in its [`super::Tx`] what it changed that can change a host's needs
//! ([`HostChanges`]: real servers' addresses, services' VIPs, deleted clusters, edited
//! hosts), and [`super::Tx::commit`] hands that to [`HostPolls::wake`] once it is durable.
//! The polls are indexed by their host's addresses and by the services of their last
//! answer, so a commit wakes the polls it may concern at the cost of what it changed, never
//! of the fleet. A woken poll recomputes its host's needs and answers only if they changed.
//!
//! A poll reads its host's needs after registering, and is indexed only once it has: while
//! it reads ([`Registration::reread`] until [`Registration::watch`]) every commit wakes it,
//! since what it reads may predate the commit and it is not indexed yet. Few polls are
//! reading at any moment.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use lvs_model::real_server_host::{vips_of, Arrival};
use lvs_model::{Diff, RealServer, RealServerChange, ServiceChange};
use tokio::sync::Notify;

/// A service of a cluster: its cluster's id and its key (`tcp:192.0.2.10:80`).
pub type ServiceOfCluster = (i64, String);

/// What a transaction changed that can change real-server hosts' needs.
#[derive(Debug, Default)]
pub struct HostChanges {
    /// Addresses of route and tunnel real servers added, removed, or whose way of
    /// forwarding changed.
    pub addresses: HashSet<IpAddr>,
    /// Services whose VIPs changed (a fwmark service's marking rules).
    pub services: HashSet<ServiceOfCluster>,
    /// Deleted clusters: every service of theirs went.
    pub clusters: Vec<i64>,
    /// Hosts whose addresses changed, or that were deleted.
    pub hosts: Vec<i64>,
}

impl HostChanges {
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
            && self.services.is_empty()
            && self.clusters.is_empty()
            && self.hosts.is_empty()
    }

    /// Records what `diff`, a change of cluster `cluster_id`, changes for hosts: costs
    /// what the diff holds, and leaves out what needs no host (NAT real servers, weights,
    /// drains, schedulers).
    pub fn add_diff(&mut self, cluster_id: i64, diff: &Diff) {
        for change in &diff.services {
            match change {
                ServiceChange::Added(service) | ServiceChange::Removed(service) => {
                    for server in service.real_servers() {
                        self.add_server(server);
                    }
                }
                ServiceChange::Changed(update) => {
                    if let Some(settings) = &update.settings {
                        if vips_of(&settings.old) != vips_of(&settings.new) {
                            let key = update.key.to_string();
                            self.services.insert((cluster_id, key));
                        }
                    }
                    for server in &update.real_servers {
                        match server {
                            RealServerChange::Added(s) | RealServerChange::Removed(s) => {
                                self.add_server(s);
                            }
                            RealServerChange::Changed(change) => {
                                let before = Arrival::of(&change.old.forwarding());
                                if before != Arrival::of(&change.new.forwarding()) {
                                    self.addresses.insert(change.new.address());
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn add_server(&mut self, server: &RealServer) {
        if Arrival::of(&server.forwarding()).is_some() {
            self.addresses.insert(server.address());
        }
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct HostPolls {
    inner: Mutex<Polls>,
}

#[derive(Debug, Default)]
struct Polls {
    next_id: u64,
    polls: HashMap<u64, Poll>,
    /// Registered and not yet indexed: woken by every commit.
    reading: HashSet<u64>,
    by_host: HashMap<i64, HashSet<u64>>,
    by_address: HashMap<IpAddr, HashSet<u64>>,
    by_service: HashMap<ServiceOfCluster, HashSet<u64>>,
    by_cluster: HashMap<i64, HashSet<u64>>,
}

#[derive(Debug)]
struct Poll {
    host_id: i64,
    addresses: Vec<IpAddr>,
    services: Vec<ServiceOfCluster>,
    wake: Arc<Notify>,
}

/// A waiting long-poll of a host, registered until dropped.
#[derive(Debug)]
pub struct Registration {
    polls: Arc<HostPolls>,
    id: u64,
    wake: Arc<Notify>,
}

impl HostPolls {
    /// Registers a poll of `host_id`, reading: call before reading the host's needs.
    pub fn register(self: &Arc<Self>, host_id: i64) -> Registration {
        let wake = Arc::new(Notify::new());
        let mut polls = self.lock();
        polls.next_id += 1;
        let id = polls.next_id;
        polls.polls.insert(
            id,
            Poll {
                host_id,
                addresses: Vec::new(),
                services: Vec::new(),
                wake: wake.clone(),
            },
        );
        polls.reading.insert(id);
        polls.by_host.entry(host_id).or_default().insert(id);
        Registration {
            polls: self.clone(),
            id,
            wake,
        }
    }

    /// Wakes the polls that `changes`, just committed, may concern.
    pub fn wake(&self, changes: &HostChanges) {
        if changes.is_empty() {
            return;
        }
        let polls = self.lock();
        let mut woken: HashSet<u64> = polls.reading.clone();
        let mut add = |ids: Option<&HashSet<u64>>| woken.extend(ids.into_iter().flatten());
        for address in &changes.addresses {
            add(polls.by_address.get(address));
        }
        for service in &changes.services {
            add(polls.by_service.get(service));
        }
        for cluster in &changes.clusters {
            add(polls.by_cluster.get(cluster));
        }
        for host in &changes.hosts {
            add(polls.by_host.get(host));
        }
        for id in woken {
            if let Some(poll) = polls.polls.get(&id) {
                // Kept as a permit when the poll is not waiting yet: it then reads again.
                poll.wake.notify_one();
            }
        }
    }

    /// How many polls are registered (for tests and logs).
    pub fn len(&self) -> usize {
        self.lock().polls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Polls> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Polls {
    /// Takes the poll out of the address and service indexes.
    fn unindex(&mut self, id: u64) {
        let Some(poll) = self.polls.get_mut(&id) else {
            return;
        };
        let addresses = std::mem::take(&mut poll.addresses);
        let services = std::mem::take(&mut poll.services);
        for address in addresses {
            remove(&mut self.by_address, &address, id);
        }
        for service in services {
            let cluster = service.0;
            remove(&mut self.by_service, &service, id);
            remove(&mut self.by_cluster, &cluster, id);
        }
    }
}

/// Takes `id` out of the set at `key`, and the set out of `index` once empty.
fn remove<K: std::hash::Hash + Eq>(index: &mut HashMap<K, HashSet<u64>>, key: &K, id: u64) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

impl Registration {
    /// The host's needs were read from its `addresses` and used `services`: index the poll
    /// by them, ending its reading.
    pub fn watch(&self, addresses: Vec<IpAddr>, services: Vec<ServiceOfCluster>) {
        let mut polls = self.polls.lock();
        polls.unindex(self.id);
        polls.reading.remove(&self.id);
        for address in &addresses {
            polls
                .by_address
                .entry(*address)
                .or_default()
                .insert(self.id);
        }
        for service in &services {
            polls
                .by_cluster
                .entry(service.0)
                .or_default()
                .insert(self.id);
            polls
                .by_service
                .entry(service.clone())
                .or_default()
                .insert(self.id);
        }
        if let Some(poll) = polls.polls.get_mut(&self.id) {
            poll.addresses = addresses;
            poll.services = services;
        }
    }

    /// The poll is about to read its host's needs again: every commit wakes it until it
    /// [`Registration::watch`]es again (the indexes it has stay meanwhile).
    pub fn reread(&self) {
        self.polls.lock().reading.insert(self.id);
    }

    /// Returns once a commit that may concern the host was announced (at once if one was
    /// since the last call).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut polls = self.polls.lock();
        polls.unindex(self.id);
        polls.reading.remove(&self.id);
        if let Some(poll) = polls.polls.remove(&self.id) {
            remove(&mut polls.by_host, &poll.host_id, self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(address: &str) -> HostChanges {
        HostChanges {
            addresses: [address.parse().unwrap()].into(),
            ..HostChanges::default()
        }
    }

    async fn is_woken(registration: &Registration) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(20), registration.woken())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_commit_wakes_reading_polls_and_those_it_concerns_only() {
        let polls = Arc::new(HostPolls::default());
        let a = polls.register(1);
        let b = polls.register(2);
        // Both read: any commit wakes them.
        polls.wake(&changes("10.0.0.9"));
        assert!(is_woken(&a).await && is_woken(&b).await);
        a.watch(
            vec!["10.0.0.1".parse().unwrap()],
            vec![(7, "tcp:192.0.2.1:80".into())],
        );
        b.watch(vec!["10.0.0.2".parse().unwrap()], Vec::new());
        polls.wake(&changes("10.0.0.9"));
        assert!(!is_woken(&a).await && !is_woken(&b).await);
        polls.wake(&changes("10.0.0.1"));
        assert!(is_woken(&a).await && !is_woken(&b).await);
        let service = HostChanges {
            services: [(7, "tcp:192.0.2.1:80".to_owned())].into(),
            ..HostChanges::default()
        };
        polls.wake(&service);
        assert!(is_woken(&a).await && !is_woken(&b).await);
        let cluster = HostChanges {
            clusters: vec![7],
            ..HostChanges::default()
        };
        polls.wake(&cluster);
        assert!(is_woken(&a).await && !is_woken(&b).await);
        let host = HostChanges {
            hosts: vec![2],
            ..HostChanges::default()
        };
        polls.wake(&host);
        assert!(!is_woken(&a).await && is_woken(&b).await);
        drop(a);
        drop(b);
        assert!(polls.is_empty());
        let polls = Arc::into_inner(polls).unwrap().inner.into_inner().unwrap();
        assert!(polls.by_address.is_empty() && polls.by_service.is_empty());
        assert!(polls.by_cluster.is_empty() && polls.by_host.is_empty());
    }
}

//! What real-server hosts must hold, read from the real servers at their addresses with
//! `route` or `tunnel` forwarding, in any cluster: one indexed query for any number of
//! hosts (`real_servers_by_socket`), its rows parsed into the model as every read does.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use lvs_model::real_server_host::RealServerNeeds;
use lvs_model::spec::{HealthCheckSpec, MarkRuleSpec, RealServerSpec};
use lvs_model::{
    Family, Forwarding, ForwardingMethod, PersistenceEngine, Protocol, RealServerState,
    SchedulerName, TunnelChecksum, TunnelType, VirtualService,
};
use sqlx::types::Json;
use sqlx::SqliteConnection;

use super::host_polls::ServiceOfCluster;
use super::in_row;
use super::real_servers::RealServerRow;
use super::services::ServiceRow;
use super::types::Keyword;

/// A host's needs, with the services they come from: its long-poll is woken when one of
/// them changes its VIPs (see [`super::host_polls`]).
#[derive(Debug, Clone)]
pub struct HostNeeds {
    pub needs: RealServerNeeds,
    /// Every service that lists one of the host's addresses as a route or tunnel real
    /// server, whether or not it names VIPs (a fwmark service without marking rules).
    pub services: Vec<ServiceOfCluster>,
}

impl HostNeeds {
    /// The needs of a host that no service uses.
    pub fn none() -> HostNeeds {
        HostNeeds {
            needs: RealServerNeeds::collect(std::iter::empty()),
            services: Vec::new(),
        }
    }
}

/// One real server at a host's address, with its service and cluster.
struct Use {
    host_id: i64,
    cluster_id: i64,
    cluster: String,
    service_id: i64,
    service_key: String,
    protocol: Option<Protocol>,
    service_address: Option<String>,
    service_port: Option<i64>,
    fwmark: Option<i64>,
    family: Family,
    scheduler: SchedulerName,
    scheduler_flags: String,
    persistence_timeout: i64,
    persistence_prefix_len: Option<i64>,
    one_packet: bool,
    persistence_engine: Option<PersistenceEngine>,
    service_name: String,
    service_description: String,
    service_health_check: Option<Json<HealthCheckSpec>>,
    sorry_server: Option<Json<RealServerSpec>>,
    min_healthy: i64,
    mark_rules: Option<Json<Vec<MarkRuleSpec>>>,
    service_created_at: i64,
    service_updated_at: i64,
    real_server_id: i64,
    address: String,
    port: i64,
    forwarding: ForwardingMethod,
    tunnel_type: Option<TunnelType>,
    tunnel_port: Option<i64>,
    tunnel_checksum: Option<TunnelChecksum>,
    weight: i64,
    upper_threshold: i64,
    lower_threshold: i64,
    state: RealServerState,
    real_server_description: String,
    real_server_health_check: Option<Json<HealthCheckSpec>>,
    real_server_created_at: i64,
    real_server_updated_at: i64,
}

impl Use {
    fn service_row(&self) -> ServiceRow {
        ServiceRow {
            id: self.service_id,
            cluster_id: self.cluster_id,
            service_key: self.service_key.clone(),
            protocol: self.protocol,
            address: self.service_address.clone(),
            port: self.service_port,
            fwmark: self.fwmark,
            family: self.family,
            scheduler: self.scheduler,
            scheduler_flags: self.scheduler_flags.clone(),
            persistence_timeout: self.persistence_timeout,
            persistence_prefix_len: self.persistence_prefix_len,
            one_packet: self.one_packet,
            persistence_engine: self.persistence_engine,
            name: self.service_name.clone(),
            description: self.service_description.clone(),
            health_check: self.service_health_check.clone(),
            sorry_server: self.sorry_server.clone(),
            min_healthy: self.min_healthy,
            mark_rules: self.mark_rules.clone(),
            created_at: self.service_created_at,
            updated_at: self.service_updated_at,
        }
    }

    fn real_server_row(&self) -> RealServerRow {
        RealServerRow {
            id: self.real_server_id,
            service_id: self.service_id,
            address: self.address.clone(),
            port: self.port,
            forwarding: self.forwarding,
            tunnel_type: self.tunnel_type,
            tunnel_port: self.tunnel_port,
            tunnel_checksum: self.tunnel_checksum,
            weight: self.weight,
            upper_threshold: self.upper_threshold,
            lower_threshold: self.lower_threshold,
            state: self.state,
            description: self.real_server_description.clone(),
            health_check: self.real_server_health_check.clone(),
            created_at: self.real_server_created_at,
            updated_at: self.real_server_updated_at,
        }
    }
}

/// The needs of one host.
pub async fn of_host(conn: &mut SqliteConnection, host_id: i64) -> Result<HostNeeds, sqlx::Error> {
    let mut needs = of_hosts(conn, &[host_id]).await?;
    Ok(needs.remove(&host_id).unwrap_or_else(HostNeeds::none))
}

/// The needs of each of `host_ids` (a host no service uses needs nothing).
pub async fn of_hosts(
    conn: &mut SqliteConnection,
    host_ids: &[i64],
) -> Result<HashMap<i64, HostNeeds>, sqlx::Error> {
    let ids = serde_json::to_string(host_ids).expect("integers always serialise");
    let found = sqlx::query_as!(
        Use,
        r#"SELECT a.host_id AS "host_id!", c.id AS "cluster_id!", c.name AS "cluster!",
                s.id AS "service_id!", s.service_key AS "service_key!",
                s.protocol AS "protocol!: Keyword<Option<Protocol>>",
                s.address AS service_address, s.port AS service_port, s.fwmark,
                s.family AS "family!: Keyword<Family>",
                s.scheduler AS "scheduler!: Keyword<SchedulerName>",
                s.scheduler_flags AS "scheduler_flags!",
                s.persistence_timeout AS "persistence_timeout!", s.persistence_prefix_len,
                s.one_packet AS "one_packet!: bool",
                s.persistence_engine AS "persistence_engine!: Keyword<Option<PersistenceEngine>>",
                s.name AS "service_name!", s.description AS "service_description!",
                s.health_check AS "service_health_check: Json<HealthCheckSpec>",
                s.sorry_server AS "sorry_server: Json<RealServerSpec>",
                s.min_healthy AS "min_healthy!",
                s.mark_rules AS "mark_rules: Json<Vec<MarkRuleSpec>>",
                s.created_at AS "service_created_at!", s.updated_at AS "service_updated_at!",
                r.id AS "real_server_id!", r.address, r.port,
                r.forwarding AS "forwarding: Keyword<ForwardingMethod>",
                r.tunnel_type AS "tunnel_type!: Keyword<Option<TunnelType>>", r.tunnel_port,
                r.tunnel_checksum AS "tunnel_checksum!: Keyword<Option<TunnelChecksum>>",
                r.weight, r.upper_threshold, r.lower_threshold,
                r.state AS "state: Keyword<RealServerState>",
                r.description AS real_server_description,
                r.health_check AS "real_server_health_check: Json<HealthCheckSpec>",
                r.created_at AS real_server_created_at, r.updated_at AS real_server_updated_at
         FROM real_server_host_addresses a
         JOIN real_servers r ON r.address = a.address
         JOIN services s ON s.id = r.service_id
         JOIN clusters c ON c.id = s.cluster_id
         WHERE a.host_id IN (SELECT value FROM json_each(?1))
           AND r.forwarding IN ('route', 'tunnel')
         ORDER BY a.host_id, s.id, r.id"#,
        ids
    )
    .fetch_all(conn)
    .await
    .map_err(|e| in_row("real_servers", &"at real-server hosts' addresses", e))?;

    // A service is parsed once, however many of its real servers a host is.
    let mut services: HashMap<i64, VirtualService> = HashMap::new();
    let mut uses: HashMap<i64, Vec<(usize, Forwarding)>> = HashMap::new();
    for (i, found) in found.iter().enumerate() {
        let service = match services.entry(found.service_id) {
            Entry::Occupied(parsed) => parsed.into_mut(),
            Entry::Vacant(new) => new.insert(found.service_row().service()?),
        };
        let key = service.key();
        let forwarding = found.real_server_row().real_server(key)?.forwarding();
        uses.entry(found.host_id).or_default().push((i, forwarding));
    }
    Ok(uses
        .into_iter()
        .map(|(host_id, uses)| {
            let needs = RealServerNeeds::collect(uses.iter().map(|(i, forwarding)| {
                let found = &found[*i];
                let service = &services[&found.service_id];
                (found.cluster.as_str(), service, *forwarding)
            }));
            let mut used: Vec<ServiceOfCluster> = uses
                .iter()
                .map(|(i, _)| (found[*i].cluster_id, found[*i].service_key.clone()))
                .collect();
            used.sort();
            used.dedup();
            let needs = HostNeeds {
                needs,
                services: used,
            };
            (host_id, needs)
        })
        .collect())
}

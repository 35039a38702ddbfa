//! `lvsctl status [CLUSTER]`: directors' sync state; for one cluster also its desired table
//! as `ipvsadm -Ln` shows a kernel's, with the directors' live connection counts.

use std::collections::HashMap;
use std::fmt::Write;

use lvs_model::agent::StatsReport;
use lvs_model::spec::{DesiredStateSpec, RealServerSpec, ServiceSpec};
use serde::Serialize;
use serde_json::Value;

use super::get::{directors_row, directors_table, document, list_directors, typed};
use super::resources::{director_state, Cluster, Director};
use super::Context;
use crate::cli::StatusArgs;
use crate::client::encode;
use crate::describe::scheduler;
use crate::exit::{Exit, Failure, Outcome};
use crate::keys::{real_server_key, service_key};
use crate::table::Table;

pub async fn run(context: &Context, args: StatusArgs) -> Outcome<Exit> {
    match args.cluster {
        None => fleet(context).await?,
        Some(cluster) => one_cluster(context, &cluster, args.director.as_deref()).await?,
    }
    Ok(Exit::Ok)
}

/// Every cluster's directors.
async fn fleet(context: &Context) -> Outcome {
    let clusters: Vec<Cluster> = context
        .api
        .list::<Value>("/clusters")
        .await?
        .into_iter()
        .map(typed)
        .collect::<Outcome<_>>()?;
    let mut rows = Vec::new();
    for cluster in &clusters {
        for director in list_directors(context, &cluster.name).await? {
            rows.push((cluster, typed::<Director>(director)?));
        }
    }
    if !context.tables() {
        let data: Vec<_> = rows
            .iter()
            .map(|(cluster, director)| {
                serde_json::json!({
                    "cluster": cluster.name,
                    "generation": cluster.generation,
                    "director": director.name,
                    "state": director.status.sync,
                    "online": director.status.online,
                    "applied_generation": director.status.applied_generation,
                    "last_seen": director.status.last_seen,
                    "errors": director.status.last_errors.len(),
                })
            })
            .collect();
        return context.print_data(&data);
    }
    let mut table = Table::new(&[
        "CLUSTER",
        "GENERATION",
        "DIRECTOR",
        "STATE",
        "APPLIED",
        "LAST SEEN",
        "ERRORS",
    ]);
    for (cluster, director) in &rows {
        let status = &director.status;
        table.row(vec![
            cluster.name.clone(),
            cluster.generation.to_string(),
            director.name.clone(),
            director_state(status),
            status
                .applied_generation
                .map_or("-".into(), |g| g.to_string()),
            status.last_seen.clone().unwrap_or_else(|| "never".into()),
            status.last_errors.len().to_string(),
        ]);
    }
    if table.is_empty() {
        eprintln!("no directors");
    } else {
        print!("{}", table.render());
    }
    Ok(())
}

/// Active and inactive connections of one real server, summed over directors.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Connections {
    active: u64,
    inactive: u64,
}

async fn one_cluster(context: &Context, cluster: &str, only: Option<&str>) -> Outcome {
    let directors: Vec<Director> = list_directors(context, cluster)
        .await?
        .into_iter()
        .map(typed)
        .collect::<Outcome<_>>()?;
    if let Some(name) = only {
        if !directors.iter().any(|d| d.name == name) {
            return Err(Failure::new(
                Exit::NotFound,
                format!("cluster {cluster} has no director {name}"),
            ));
        }
    }
    let document = document(context, cluster).await?;
    let mut connections: HashMap<(String, String), Connections> = HashMap::new();
    let mut reporting = Vec::new();
    for director in directors
        .iter()
        .filter(|d| only.is_none_or(|n| n == d.name))
    {
        let path = format!(
            "/clusters/{}/directors/{}/stats",
            encode(cluster),
            encode(&director.name)
        );
        let report: StatsReport = match context.api.get(&path).await {
            Ok(report) => report,
            // No statistics from this director yet.
            Err(failure) if failure.exit == Exit::NotFound => continue,
            Err(failure) => return Err(failure),
        };
        reporting.push(director.name.clone());
        for service in report.services {
            for real_server in service.real_servers {
                let entry = connections
                    .entry((service.key.clone(), real_server.key))
                    .or_default();
                entry.active += u64::from(real_server.active_connections);
                entry.inactive += u64::from(real_server.inactive_connections);
            }
        }
    }
    if !context.tables() {
        return context.print_data(&serde_json::json!({
            "cluster": cluster,
            "generation": document.generation,
            "directors": directors.iter().map(|d| serde_json::json!({
                "name": d.name, "state": d.status.sync, "online": d.status.online,
                "applied_generation": d.status.applied_generation,
                "last_seen": d.status.last_seen, "errors": d.status.last_errors,
            })).collect::<Vec<_>>(),
            "connections_from": reporting,
            "services": services_with_connections(&document, &connections),
        }));
    }
    let mut table = directors_table();
    for director in &directors {
        directors_row(&mut table, None, director);
    }
    if table.is_empty() {
        println!("cluster {cluster} has no directors");
    } else {
        print!("{}", table.render());
    }
    println!();
    print!(
        "{}",
        ipvsadm_view(cluster, &document, &connections, &reporting)
    );
    Ok(())
}

/// The desired table laid out like `ipvsadm -Ln`, with the summed connection counts.
fn ipvsadm_view(
    cluster: &str,
    document: &DesiredStateSpec,
    connections: &HashMap<(String, String), Connections>,
    reporting: &[String],
) -> String {
    let mut out = String::new();
    let from = match reporting {
        [] => "no director has reported connections yet".to_owned(),
        [one] => format!("connections from {one}"),
        many => format!("connections summed over {}", many.join(", ")),
    };
    let _ = writeln!(
        out,
        "Desired table of {cluster}, generation {} ({from})",
        document.generation.unwrap_or(0)
    );
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for service in document.services.iter().flatten() {
        let key = service_key(service);
        let _ = writeln!(out, "{}", service_line(service));
        for real_server in service.real_servers.iter().flatten() {
            let rs_key = real_server_key(real_server);
            let counts = connections
                .get(&(key.clone(), rs_key.clone()))
                .copied()
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  -> {rs_key:<28} {:<7} {:<6} {:<10} {}",
                forward_word(real_server),
                kernel_weight(real_server),
                counts.active,
                counts.inactive
            );
        }
    }
    out
}

/// `TCP  192.0.2.10:80 wrr persistent 300 mask 255.255.255.0`, `FWM  42 rr`.
fn service_line(service: &ServiceSpec) -> String {
    let mut line = match service.fwmark {
        Some(mark) => {
            let v6 = if service.family.as_deref() == Some("ipv6") {
                " IPv6"
            } else {
                ""
            };
            format!("FWM  {mark}{v6} {}", scheduler(service))
        }
        None => {
            let key = service_key(service);
            let socket = key.split_once(':').map_or(key.as_str(), |(_, rest)| rest);
            format!(
                "{:<4} {socket} {}",
                service.protocol.as_deref().unwrap_or("?").to_uppercase(),
                scheduler(service)
            )
        }
    };
    if service.persistence_timeout > 0 {
        let _ = write!(line, " persistent {}", service.persistence_timeout);
        match &service.persistence_netmask {
            Some(lvs_model::spec::Netmask::Text(mask)) => {
                let _ = write!(line, " mask {mask}");
            }
            Some(lvs_model::spec::Netmask::Prefix(bits)) => {
                let _ = write!(line, " mask {bits}");
            }
            None => {}
        }
    }
    if service.one_packet {
        line.push_str(" ops");
    }
    if let Some(engine) = &service.persistence_engine {
        let _ = write!(line, " pe {engine}");
    }
    line
}

fn forward_word(real_server: &RealServerSpec) -> &'static str {
    match real_server.forwarding.as_deref() {
        Some("masq") => "Masq",
        Some("route") => "Route",
        Some("tunnel") => "Tunnel",
        Some("local") => "Local",
        _ => "?",
    }
}

/// The weight the kernel holds: 0 while drained.
fn kernel_weight(real_server: &RealServerSpec) -> i64 {
    if real_server.state.as_deref() == Some("drained") {
        0
    } else {
        real_server.weight.unwrap_or(1)
    }
}

#[derive(Debug, Serialize)]
struct ServiceStatus<'a> {
    service: String,
    scheduler: String,
    real_servers: Vec<RealServerStatus<'a>>,
}

#[derive(Debug, Serialize)]
struct RealServerStatus<'a> {
    real_server: String,
    forwarding: &'a str,
    weight: i64,
    active_connections: u64,
    inactive_connections: u64,
}

fn services_with_connections<'a>(
    document: &'a DesiredStateSpec,
    connections: &HashMap<(String, String), Connections>,
) -> Vec<ServiceStatus<'a>> {
    document
        .services
        .iter()
        .flatten()
        .map(|service| {
            let key = service_key(service);
            let real_servers = service
                .real_servers
                .iter()
                .flatten()
                .map(|real_server| {
                    let rs_key = real_server_key(real_server);
                    let counts = connections
                        .get(&(key.clone(), rs_key.clone()))
                        .copied()
                        .unwrap_or_default();
                    RealServerStatus {
                        real_server: rs_key,
                        forwarding: real_server.forwarding.as_deref().unwrap_or(""),
                        weight: kernel_weight(real_server),
                        active_connections: counts.active,
                        inactive_connections: counts.inactive,
                    }
                })
                .collect();
            ServiceStatus {
                scheduler: scheduler(service),
                service: key,
                real_servers,
            }
        })
        .collect()
}

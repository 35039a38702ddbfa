//! `lvsctl get clusters|services|real-servers|directors|changes`.

use lvs_model::spec::{DesiredStateSpec, RealServerSpec};
use serde::Serialize;
use serde_json::Value;

use super::resources::{director_state, summary_words, Change, Cluster, Director};
use super::Context;
use crate::cli::Get;
use crate::client::encode;
use crate::describe::{forwarding, scheduler};
use crate::exit::{Exit, Failure, Outcome};
use crate::keys::{real_server_key, service_key, ServiceQuery};
use crate::table::Table;

pub async fn run(context: &Context, what: Get) -> Outcome<Exit> {
    match what {
        Get::Clusters => clusters(context).await?,
        Get::Services { cluster } => services(context, &cluster).await?,
        Get::RealServers { cluster, service } => {
            real_servers(context, &cluster, service.as_deref()).await?;
        }
        Get::Directors { cluster } => directors(context, &cluster).await?,
        Get::Changes { cluster, limit } => changes(context, &cluster, limit).await?,
    }
    Ok(Exit::Ok)
}

async fn clusters(context: &Context) -> Outcome {
    let items: Vec<Value> = context.api.list("/clusters").await?;
    if !context.tables() {
        return context.print_data(&items);
    }
    let mut table = Table::new(&["NAME", "GENERATION", "UPDATED", "DESCRIPTION"]);
    for item in items {
        let cluster: Cluster = typed(item)?;
        table.row(vec![
            cluster.name,
            cluster.generation.to_string(),
            cluster.updated_at,
            cluster.description,
        ]);
    }
    print_table(&table, "no clusters");
    Ok(())
}

/// The cluster's desired state: one request whatever its size.
pub async fn document(context: &Context, cluster: &str) -> Outcome<DesiredStateSpec> {
    context
        .api
        .get(&format!("/clusters/{}/desired-state", encode(cluster)))
        .await
}

async fn services(context: &Context, cluster: &str) -> Outcome {
    let document = document(context, cluster).await?;
    let services = document.services.unwrap_or_default();
    if !context.tables() {
        return context.print_data(&services);
    }
    let mut table = Table::new(&[
        "SERVICE",
        "SCHEDULER",
        "PERSISTENCE",
        "REAL SERVERS",
        "NAME",
    ]);
    for service in &services {
        table.row(vec![
            service_key(service),
            scheduler(service),
            match service.persistence_timeout {
                0 => "-".into(),
                seconds => format!("{seconds}s"),
            },
            service
                .real_servers
                .as_ref()
                .map_or(0, Vec::len)
                .to_string(),
            service.name.clone(),
        ]);
    }
    print_table(&table, "no services");
    Ok(())
}

/// A real server with its service's key, as `get real-servers -o json` writes it.
#[derive(Debug, Serialize)]
struct ServiceRealServer<'a> {
    service: String,
    #[serde(flatten)]
    real_server: &'a RealServerSpec,
}

async fn real_servers(context: &Context, cluster: &str, service: Option<&str>) -> Outcome {
    let wanted = service.map(ServiceQuery::parse).transpose()?;
    let document = document(context, cluster).await?;
    let mut rows = Vec::new();
    let mut found = wanted.is_none();
    for spec in document.services.iter().flatten() {
        let key = service_key(spec);
        if let Some(query) = &wanted {
            if !query.matches(spec) {
                continue;
            }
            found = true;
        }
        for real_server in spec.real_servers.iter().flatten() {
            rows.push(ServiceRealServer {
                service: key.clone(),
                real_server,
            });
        }
    }
    if !found {
        return Err(Failure::new(
            Exit::NotFound,
            format!(
                "cluster {cluster} has no service {}",
                service.unwrap_or_default()
            ),
        ));
    }
    if !context.tables() {
        return context.print_data(&rows);
    }
    let mut table = Table::new(&["SERVICE", "REAL SERVER", "FORWARDING", "WEIGHT", "STATE"]);
    for row in &rows {
        let real_server = row.real_server;
        table.row(vec![
            row.service.clone(),
            real_server_key(real_server),
            forwarding(real_server),
            real_server.weight.unwrap_or(1).to_string(),
            real_server.state.clone().unwrap_or_else(|| "active".into()),
        ]);
    }
    print_table(&table, "no real servers");
    Ok(())
}

pub async fn list_directors(context: &Context, cluster: &str) -> Outcome<Vec<Value>> {
    context
        .api
        .list(&format!("/clusters/{}/directors", encode(cluster)))
        .await
}

async fn directors(context: &Context, cluster: &str) -> Outcome {
    let items = list_directors(context, cluster).await?;
    if !context.tables() {
        return context.print_data(&items);
    }
    let mut table = directors_table();
    for item in items {
        directors_row(&mut table, None, &typed(item)?);
    }
    print_table(&table, "no directors");
    Ok(())
}

pub fn directors_table() -> Table {
    Table::new(&[
        "DIRECTOR",
        "STATE",
        "APPLIED",
        "LAST SEEN",
        "ERRORS",
        "AGENT",
    ])
}

/// One director's row; `cluster` is written in front of the name when given.
pub fn directors_row(table: &mut Table, cluster: Option<&str>, director: &Director) {
    let status = &director.status;
    let name = match cluster {
        Some(cluster) => format!("{cluster}/{}", director.name),
        None => director.name.clone(),
    };
    table.row(vec![
        name,
        director_state(status),
        status
            .applied_generation
            .map_or("-".into(), |g| g.to_string()),
        status.last_seen.clone().unwrap_or_else(|| "never".into()),
        status.last_errors.len().to_string(),
        status.agent_version.clone().unwrap_or_else(|| "-".into()),
    ]);
}

async fn changes(context: &Context, cluster: &str, limit: usize) -> Outcome {
    let page: Value = context
        .api
        .get(&format!(
            "/clusters/{}/changes?limit={}",
            encode(cluster),
            limit.clamp(1, 1000)
        ))
        .await?;
    let items = page
        .get("items")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if !context.tables() {
        return context.print_data(&items);
    }
    let mut table = Table::new(&["GENERATION", "COMMITTED", "BY", "SOURCE", "CHANGE"]);
    for item in items.as_array().into_iter().flatten() {
        let change: Change = typed(item.clone())?;
        let by = change
            .author
            .map(|a| a.name.unwrap_or(a.kind))
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            change.generation.to_string(),
            change.committed_at,
            by,
            change.source,
            summary_words(&change.summary),
        ]);
    }
    print_table(&table, "no changes");
    Ok(())
}

pub fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Outcome<T> {
    serde_json::from_value(value).map_err(|e| {
        Failure::error(format!(
            "the server's answer is not what lvsctl expects: {e}"
        ))
    })
}

fn print_table(table: &Table, empty: &str) {
    if table.is_empty() {
        eprintln!("{empty}");
    } else {
        print!("{}", table.render());
    }
}

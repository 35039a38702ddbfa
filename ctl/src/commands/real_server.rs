//! `lvsctl drain|restore|weight`: what a deploy script does to one real server.

use reqwest::Method;
use serde_json::{json, Value};

use super::get::typed;
use super::resources::{Cluster, Keyed};
use super::{wait, Context};
use crate::cli::{RealServerArgs, RealServerCommand, WaitArgs, WeightArgs};
use crate::client::encode;
use crate::exit::{Exit, Failure, Outcome};
use crate::keys::{parse_real_server, ServiceQuery};

pub async fn drain(context: &Context, args: RealServerCommand) -> Outcome<Exit> {
    let path = resolve(context, &args.target).await?;
    let done: Value = context
        .api
        .send(Method::POST, &format!("{path}/drain"), None::<&()>, None)
        .await?;
    finish(context, &args.target, "drained", &done, args.wait).await
}

pub async fn restore(context: &Context, args: RealServerCommand) -> Outcome<Exit> {
    let path = resolve(context, &args.target).await?;
    let done: Value = context
        .api
        .send(Method::POST, &format!("{path}/restore"), None::<&()>, None)
        .await?;
    finish(context, &args.target, "restored", &done, args.wait).await
}

pub async fn weight(context: &Context, args: WeightArgs) -> Outcome<Exit> {
    let path = resolve(context, &args.target).await?;
    let current = context.api.get_tagged::<Value>(&path).await?;
    let done: Value = context
        .api
        .send(
            Method::PATCH,
            &path,
            Some(&json!({ "weight": args.weight })),
            current.etag.as_deref(),
        )
        .await?;
    let what = format!("set to weight {}", args.weight);
    finish(context, &args.target, &what, &done, args.wait).await
}

/// Reports the change and, with `--wait`, waits for the cluster's generation after it.
async fn finish(
    context: &Context,
    target: &RealServerArgs,
    what: &str,
    done: &Value,
    wait: WaitArgs,
) -> Outcome<Exit> {
    let cluster: Cluster = context
        .api
        .get(&format!("/clusters/{}", encode(&target.cluster)))
        .await?;
    if context.tables() {
        let key = done
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or(&target.real_server);
        println!(
            "real server {key} of {} {what} (cluster {} at generation {})",
            target.service, target.cluster, cluster.generation
        );
    } else {
        context.print_data(done)?;
    }
    if wait.wait {
        // The cluster's generation now: the change's, or a later one that includes it.
        return wait::until_applied(context, &target.cluster, cluster.generation, wait.timeout)
            .await;
    }
    Ok(Exit::Ok)
}

/// The API path of the real server the arguments name.
async fn resolve(context: &Context, target: &RealServerArgs) -> Outcome<String> {
    let query = ServiceQuery::parse(&target.service)?;
    let (address, port) = parse_real_server(&target.real_server)?;
    let cluster_path = format!("/clusters/{}", encode(&target.cluster));
    let services: Vec<Keyed> = context
        .api
        .list::<Value>(&format!("{cluster_path}/services?{}", query.filter()))
        .await?
        .into_iter()
        .map(typed)
        .collect::<Outcome<_>>()?;
    let family_matches = |service: &&Keyed| match &query {
        ServiceQuery::Fwmark { family, .. } => service.key.ends_with(family.as_str()),
        ServiceQuery::Address { .. } => true,
    };
    let service = services.iter().find(family_matches).ok_or_else(|| {
        Failure::new(
            Exit::NotFound,
            format!(
                "cluster {} has no service {}",
                target.cluster, target.service
            ),
        )
    })?;
    let service_path = format!("{cluster_path}/services/{}", service.id);
    let mut filter = format!("address={}", encode(&address.to_string()));
    if let Some(port) = port {
        filter.push_str(&format!("&port={port}"));
    }
    let real_servers: Vec<Keyed> = context
        .api
        .list::<Value>(&format!("{service_path}/real-servers?{filter}"))
        .await?
        .into_iter()
        .map(typed)
        .collect::<Outcome<_>>()?;
    match real_servers.as_slice() {
        [] => Err(Failure::new(
            Exit::NotFound,
            format!(
                "service {} of cluster {} has no real server {}",
                target.service, target.cluster, target.real_server
            ),
        )),
        [one] => Ok(format!("{service_path}/real-servers/{}", one.id)),
        several => Err(Failure::new(
            Exit::Usage,
            format!(
                "service {} has {} real servers at {address}: name one with its port ({})",
                target.service,
                several.len(),
                several
                    .iter()
                    .map(|r| r.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

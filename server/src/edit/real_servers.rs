//! Real servers: add, edit, drain and restore, remove.

use lvs_model::spec::RealServerSpec;
use lvs_model::{Diff, RealServer, RealServerState, VirtualService};
use serde_json::Value;

use super::{lookup, patch};
use super::{unique, Author, Committed, IfMatch};
use super::{EditError, EditResult};
use crate::db::real_servers::{self, RealServerRow};
use crate::db::services::ServiceRow;
use crate::db::{clusters, now_millis};
use crate::resources::real_server_etag;
use crate::state::AppState;

/// Adds a real server to a service.
pub async fn create(
    state: &AppState,
    cluster: &str,
    service: i64,
    spec: &RealServerSpec,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let parent = service.service()?;
    let key = *parent.key();
    let server = spec.parse(&key)?;
    not_the_sorry_server(&parent, &server)?;
    let now = now_millis();
    let inserted = real_servers::insert(&mut tx, service.id, &server, now).await;
    let row = unique(inserted, || already_there(&server, &service))?;
    let mut diff = Diff::real_server_added(key, server);
    let generation = clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now).await?;
    tx.commit().await?;
    Ok(Committed::new(row, generation))
}

/// Replaces a real server (its address and port included); a weight change keeps its
/// connections.
pub async fn replace(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    spec: RealServerSpec,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let path = (cluster, service, id);
    update(state, path, if_match, author, |_| Ok(spec)).await
}

/// Applies a JSON merge patch to a real server, e.g. `{"weight": 5}`.
pub async fn merge_patch(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    changes: &Value,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let path = (cluster, service, id);
    update(state, path, if_match, author, |current| {
        patch::merge(&current, changes)
    })
    .await
}

/// Sets a real server's configured weight; a drained one stays drained.
pub async fn set_weight(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    weight: i64,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let path = (cluster, service, id);
    update(state, path, if_match, author, |current| {
        Ok(RealServerSpec {
            weight: Some(weight),
            ..current
        })
    })
    .await
}

/// Drains a real server: weight 0 in the kernel, so no new connections while existing ones
/// finish; its configured weight is kept.
pub async fn drain(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let path = (cluster, service, id);
    set_state(state, path, if_match, author, RealServerState::Drained).await
}

/// Restores a drained real server to its configured weight.
pub async fn restore(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<RealServerRow>> {
    let path = (cluster, service, id);
    set_state(state, path, if_match, author, RealServerState::Active).await
}

/// Removes a real server from its service.
pub async fn delete(
    state: &AppState,
    cluster: &str,
    service: i64,
    id: i64,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<()>> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let row = lookup::real_server(&mut tx, &service, id).await?;
    if_match.check(&real_server_etag(&row))?;
    let key = *service.service()?.key();
    let removed = row.real_server(&key)?;
    real_servers::delete(&mut tx, row.id).await?;
    let mut diff = Diff::real_server_removed(key, removed);
    let generation =
        clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now_millis()).await?;
    tx.commit().await?;
    Ok(Committed::new((), generation))
}

/// A real server's cluster name, service id and id.
type Path<'a> = (&'a str, i64, i64);

async fn set_state(
    state: &AppState,
    path: Path<'_>,
    if_match: &IfMatch,
    author: &Author,
    new: RealServerState,
) -> EditResult<Committed<RealServerRow>> {
    update(state, path, if_match, author, |current| {
        Ok(RealServerSpec {
            state: Some(new.to_string()),
            ..current
        })
    })
    .await
}

async fn update(
    state: &AppState,
    (cluster, service, id): Path<'_>,
    if_match: &IfMatch,
    author: &Author,
    edit: impl FnOnce(RealServerSpec) -> EditResult<RealServerSpec>,
) -> EditResult<Committed<RealServerRow>> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let row = lookup::real_server(&mut tx, &service, id).await?;
    if_match.check(&real_server_etag(&row))?;
    let parent = service.service()?;
    let key = *parent.key();
    let server = edit(row.spec())?.parse(&key)?;
    not_the_sorry_server(&parent, &server)?;
    let old = row.real_server(&key)?;
    if server == old {
        return Ok(Committed::unchanged(row));
    }
    let now = now_millis();
    let updated = real_servers::update(&mut tx, row.id, &server, now).await;
    unique(updated, || already_there(&server, &service))?;
    let mut diff = Diff::real_server_changed(key, old, server);
    let generation = clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now).await?;
    let row = lookup::real_server(&mut tx, &service, id).await?;
    tx.commit().await?;
    Ok(Committed::new(row, generation))
}

/// The kernel holds one server per address and port: the sorry server cannot also be a real
/// server of its service.
fn not_the_sorry_server(service: &VirtualService, server: &RealServer) -> EditResult<()> {
    match service.sorry_server() {
        Some(sorry) if sorry.key() == server.key() => Err(EditError::invalid(
            "address",
            format!(
                "{} is the service's sorry server, which stands in for its real servers and \
                 cannot be one of them",
                std::net::SocketAddr::new(server.address(), server.port())
            ),
        )),
        _ => Ok(()),
    }
}

/// What a UNIQUE violation of `server` in `service` means.
fn already_there(server: &RealServer, service: &ServiceRow) -> String {
    let key = std::net::SocketAddr::new(server.address(), server.port());
    format!("real server {key} in service {}", service.service_key)
}

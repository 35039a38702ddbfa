//! Virtual services: create (with real servers), edit settings, delete.

use lvs_model::mark_rules::first_overlap;
use lvs_model::spec::ServiceSpec;
use lvs_model::{DesiredService, Diff, ValidationErrors, VirtualService};
use serde_json::Value;

use super::{lookup, patch};
use super::{unique, Author, Committed, IfMatch};
use super::{EditError, EditResult};
use crate::db::services::{self, ServiceRow};
use crate::db::{clusters, corrupt, desired_state, now_millis, real_servers, Tx};
use crate::resources::service_etag;
use crate::state::AppState;

/// Creates a service, with its `real_servers` if the spec lists any, in one change.
pub async fn create(
    state: &AppState,
    cluster: &str,
    spec: &ServiceSpec,
    author: &Author,
) -> EditResult<Committed<ServiceRow>> {
    let service = DesiredService::parse(spec)?;
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    check_marking_rules(&mut tx, cluster.id, None, service.service()).await?;
    let now = now_millis();
    let inserted = desired_state::insert_service(&mut tx, cluster.id, &service, now).await;
    let row = unique(inserted, || {
        format!("service {} in cluster {}", service.key(), cluster.name)
    })?;
    let mut diff = Diff::service_added(service);
    let generation = clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now).await?;
    tx.commit().await?;
    Ok(Committed::new(row, generation))
}

/// Replaces a service's settings (its key included); the kernel edits it in place,
/// keeping connections. Real servers are edited on their own, so `spec` lists none.
pub async fn replace(
    state: &AppState,
    cluster: &str,
    id: i64,
    spec: ServiceSpec,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<ServiceRow>> {
    update(state, cluster, id, if_match, author, |_| Ok(spec)).await
}

/// Applies a JSON merge patch to a service's settings.
pub async fn merge_patch(
    state: &AppState,
    cluster: &str,
    id: i64,
    changes: &Value,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<ServiceRow>> {
    update(state, cluster, id, if_match, author, |current| {
        patch::merge(&current, changes)
    })
    .await
}

/// Deletes a service with its real servers.
pub async fn delete(
    state: &AppState,
    cluster: &str,
    id: i64,
    if_match: &IfMatch,
    author: &Author,
) -> EditResult<Committed<()>> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let row = lookup::service(&mut tx, &cluster, id).await?;
    if_match.check(&service_etag(&row, &cluster.name))?;
    let removed = desired_state::load_service(&mut tx, &row).await?;
    services::delete(&mut tx, row.id).await?;
    let mut diff = Diff::service_removed(removed);
    let generation =
        clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now_millis()).await?;
    tx.commit().await?;
    Ok(Committed::new((), generation))
}

/// Edits a service's settings with `edit`, which gets the stored spec and returns the new
/// one.
pub async fn update(
    state: &AppState,
    cluster: &str,
    id: i64,
    if_match: &IfMatch,
    author: &Author,
    edit: impl FnOnce(ServiceSpec) -> EditResult<ServiceSpec>,
) -> EditResult<Committed<ServiceRow>> {
    let mut tx = state.db.write().await?;
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let row = lookup::service(&mut tx, &cluster, id).await?;
    if_match.check(&service_etag(&row, &cluster.name))?;
    let spec = edit(row.spec())?;
    if spec.real_servers.is_some() {
        return Err(EditError::invalid(
            "real_servers",
            "edit real servers under .../services/{service}/real-servers",
        ));
    }
    let service = spec.parse()?;
    let old = row.service()?;
    if service == old {
        return Ok(Committed::unchanged(row));
    }
    check_marking_rules(&mut tx, cluster.id, Some(row.id), &service).await?;
    let (before, after) = with_real_servers(&mut tx, &row, old, service).await?;
    let now = now_millis();
    let updated = services::update(&mut tx, row.id, after.service(), now).await;
    unique(updated, || {
        format!("service {} in cluster {}", after.key(), cluster.name)
    })?;
    let mut diff = Diff::service_changed(before, after);
    let generation = clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now).await?;
    let row = lookup::service(&mut tx, &cluster, id).await?;
    tx.commit().await?;
    Ok(Committed::new(row, generation))
}

/// Refuses marking rules that mark packets another fwmark service of the cluster marks
/// (`except` is the service's own row when it is edited).
async fn check_marking_rules(
    tx: &mut Tx,
    cluster_id: i64,
    except: Option<i64>,
    service: &VirtualService,
) -> EditResult<()> {
    let rules = service.mark_rules();
    if rules.is_empty() {
        return Ok(());
    }
    for (id, key, others) in services::marking_rules(tx, cluster_id).await? {
        if Some(id) == except {
            continue;
        }
        let others = others
            .iter()
            .map(|spec| spec.parse(service.key().family()))
            .collect::<Result<Vec<_>, _>>()
            // Another family's rules cannot mark the same packets.
            .unwrap_or_default();
        if let Some((r, class)) = first_overlap(rules, &others) {
            return Err(EditError::invalid(
                &format!("mark_rules[{r}]"),
                format!("{class} is marked by {key} too"),
            ));
        }
    }
    Ok(())
}

/// The service before and after the edit, each with its real servers. A new key can break
/// real servers that were valid for the old one (a port that must equal the service's, an
/// address family): that is refused rather than stored invalid.
async fn with_real_servers(
    tx: &mut Tx,
    row: &ServiceRow,
    old: VirtualService,
    new: VirtualService,
) -> EditResult<(DesiredService, DesiredService)> {
    let mut errors = ValidationErrors::default();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for server in real_servers::list(tx, row.id, None, None, 0, i64::MAX).await? {
        before.push(server.real_server(old.key())?);
        match server.spec().parse(new.key()) {
            Ok(parsed) => after.push(parsed),
            Err(problems) => {
                for problem in problems.errors() {
                    errors.add(
                        "real_servers",
                        format!(
                            "real server {} (id {}) would become invalid: {}: {}",
                            server.key(),
                            server.id,
                            problem.field,
                            problem.message
                        ),
                    );
                }
            }
        }
    }
    errors.into_result()?;
    let what = format!("service {}", row.service_key);
    let before = DesiredService::new(old, before).map_err(|e| corrupt(&what, &e.to_string()))?;
    // A new sorry server may be one of the real servers: the client's mistake.
    let after = DesiredService::new(new, after)?;
    Ok((before, after))
}

//! A service's whole pool replaced in one change: the web UI's bulk edit, planned first
//! (a dry run showing the diff), then applied only if the pool is still as planned.

use std::collections::HashMap;

use lvs_model::spec::RealServerSpec;
use lvs_model::{
    DesiredService, Diff, RealServerChange, RealServerKey, ServiceChange, ValidationErrors,
};
use sqlx::SqliteConnection;

use super::lookup;
use super::{Author, IfMatch};
use super::{EditError, EditResult};
use crate::db::services::ServiceRow;
use crate::db::{clusters, now_millis, real_servers};
use crate::resources::etag;
use crate::state::AppState;

/// What replacing a pool does, or did.
#[derive(Debug)]
pub struct PoolPlan {
    pub diff: Diff,
    /// The ETag of the pool the plan was computed from; apply with it to be refused if
    /// the pool changed meanwhile.
    pub pool_etag: String,
    /// Whether it was written.
    pub applied: bool,
}

/// Replaces the real servers of service `service` with `servers` (dry run: only computes
/// the diff). Each server is validated as when added alone; errors name `real_servers[i]`.
pub async fn replace(
    state: &AppState,
    cluster: &str,
    service: i64,
    servers: &[RealServerSpec],
    if_match: &IfMatch,
    dry_run: bool,
    author: &Author,
) -> EditResult<PoolPlan> {
    let mut tx = if dry_run {
        state.db.read().await?
    } else {
        state.db.write().await?
    };
    let cluster = lookup::cluster(&mut tx, cluster).await?;
    let service = lookup::service(&mut tx, &cluster, service).await?;
    let (current, ids) = stored(&mut tx, &service).await?;
    let settings = current.service().clone();
    let key = *settings.key();
    let pool_etag = etag(&current.to_spec());
    if_match.check(&pool_etag)?;

    let mut errors = ValidationErrors::default();
    let mut parsed = Vec::with_capacity(servers.len());
    for (i, spec) in servers.iter().enumerate() {
        match spec.parse(&key) {
            Ok(server) => parsed.push(server),
            Err(e) => errors.nest(&format!("real_servers[{i}]"), e),
        }
    }
    errors.into_result()?;
    let wanted = DesiredService::new(settings, parsed)?;
    let mut diff = Diff::service_changed(current, wanted);
    if dry_run || diff.is_empty() {
        return Ok(PoolPlan {
            diff,
            pool_etag,
            applied: false,
        });
    }
    let now = now_millis();
    let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for change in &diff.services {
        let ServiceChange::Changed(update) = change else {
            continue;
        };
        for server in &update.real_servers {
            match server {
                RealServerChange::Added(new) => added.push((service.id, new)),
                RealServerChange::Removed(old) => removed.extend(ids.get(&old.key())),
                RealServerChange::Changed(c) => {
                    if let Some(id) = ids.get(&c.old.key()) {
                        changed.push((*id, &c.new));
                    }
                }
            }
        }
    }
    // As for a whole desired state: changed rows keep their keys, deletions go first.
    real_servers::update_many(&mut tx, &changed, now).await?;
    real_servers::delete_many(&mut tx, &removed).await?;
    real_servers::insert_many(&mut tx, &added, now).await?;
    clusters::bump_generation(&mut tx, cluster.id, &mut diff, author, now).await?;
    tx.commit().await?;
    Ok(PoolPlan {
        diff,
        pool_etag,
        applied: true,
    })
}

/// The stored service with its pool, and the row id of each real server.
pub(super) async fn stored(
    conn: &mut SqliteConnection,
    service: &ServiceRow,
) -> EditResult<(DesiredService, HashMap<RealServerKey, i64>)> {
    let settings = service.service()?;
    let key = *settings.key();
    let rows = real_servers::list(conn, service.id, None, None, 0, i64::MAX).await?;
    let mut ids: HashMap<RealServerKey, i64> = HashMap::with_capacity(rows.len());
    let mut servers = Vec::with_capacity(rows.len());
    for row in &rows {
        let server = row.real_server(&key)?;
        ids.insert(server.key(), row.id);
        servers.push(server);
    }
    let current = DesiredService::new(settings, servers)
        .map_err(|e| EditError::Internal(anyhow::anyhow!("stored pool of {key}: {e}")))?;
    Ok((current, ids))
}

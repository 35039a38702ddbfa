//! One service as it was when a form was loaded, beside the service now and who changed
//! it in between: the base and "theirs" of a three-way merge. The base is rebuilt as
//! revert rebuilds a generation (the current state with the kept diffs of the generations
//! since undone), limited to this service, so it costs the changes since, not the cluster.

use std::collections::BTreeMap;

use lvs_model::{DesiredService, DesiredState, Diff, RealServerKey, ServiceChange};

use super::{lookup, pools, EditResult};
use crate::db::audit::Author;
use crate::db::changes;
use crate::db::corrupt;
use crate::db::revert_diffs::{self, REACH};
use crate::resources::service_etag;
use crate::state::AppState;

/// The service at generation `from` and now.
#[derive(Debug)]
pub struct Since {
    pub cluster: String,
    /// The generation the form was loaded at.
    pub from: u64,
    /// The cluster's generation now.
    pub generation: u64,
    pub base: Base,
    pub current: DesiredService,
    /// The service's ETag now, as the settings form carries it.
    pub service_etag: String,
    /// The newest change since `from` to each real server, by address and port.
    pub real_servers: BTreeMap<RealServerKey, ChangeBy>,
    /// The newest change since `from` to the service's settings.
    pub settings: Option<ChangeBy>,
}

/// The service as it was at the form's generation.
#[derive(Debug)]
pub enum Base {
    Rebuilt(DesiredService),
    /// It cannot be rebuilt, and why, in a sentence's words.
    Unknown(String),
}

/// A change's generation and author, for "changed by alice at ...".
#[derive(Debug, Clone)]
pub struct ChangeBy {
    pub generation: u64,
    pub committed_at: i64,
    /// `None` for changes made before authors were recorded.
    pub author: Option<Author>,
}

impl Since {
    /// The base, when it was rebuilt.
    pub fn base(&self) -> Option<&DesiredService> {
        match &self.base {
            Base::Rebuilt(service) => Some(service),
            Base::Unknown(_) => None,
        }
    }

    /// Whether the service (settings or pool) is as it was at the form's generation.
    pub fn unchanged(&self) -> bool {
        self.base() == Some(&self.current)
    }
}

/// Service `id` of `cluster` at generation `from` and now, in one read.
pub async fn service(state: &AppState, cluster: &str, id: i64, from: u64) -> EditResult<Since> {
    let mut tx = state.db.read().await?;
    let row = lookup::cluster(&mut tx, cluster).await?;
    let service_row = lookup::service(&mut tx, &row, id).await?;
    let (current, _) = pools::stored(&mut tx, &service_row).await?;
    let generation = row.generation();
    let mut since = Since {
        cluster: row.name.clone(),
        from,
        generation,
        base: Base::Rebuilt(current.clone()),
        service_etag: service_etag(&service_row, &row.name),
        current,
        real_servers: BTreeMap::new(),
        settings: None,
    };
    if from >= generation {
        return Ok(since);
    }
    let floor = revert_diffs::revertable_from(&mut tx, row.id).await?;
    let oldest = generation.saturating_sub(REACH).max(floor);
    if from < oldest {
        since.base = Base::Unknown(format!(
            "generation {from} is older than the oldest whose state is kept \
             ({oldest}, of {REACH} kept)"
        ));
        return Ok(since);
    }
    let key = *since.current.key();
    let mut state = DesiredState::new(generation, Default::default(), [since.current.clone()])
        .map_err(|e| corrupt(&format!("service {key}"), &e.to_string()))?;
    let mut touched = BTreeMap::new();
    let mut settings = None;
    for diff in revert_diffs::newest_first(&mut tx, row.id, from, generation).await? {
        let to = diff.to_generation;
        let Some(change) = diff.services.into_iter().find(|c| *c.key() == key) else {
            continue;
        };
        let ServiceChange::Changed(update) = &change else {
            since.base = Base::Unknown(format!(
                "service {key} was created or its key changed after generation {from}"
            ));
            return Ok(since);
        };
        if update.settings.is_some() {
            settings.get_or_insert(to);
        }
        for server in &update.real_servers {
            touched.entry(server.key()).or_insert(to);
        }
        let only = Diff {
            from_generation: diff.from_generation,
            to_generation: to,
            services: vec![change],
            ..Diff::default()
        };
        only.reversed()
            .apply_in_place(&mut state)
            .map_err(|e| corrupt(&format!("revert diff of generation {to}"), &e.to_string()))?;
    }
    let base = state
        .service(&key)
        .cloned()
        .ok_or_else(|| corrupt(&format!("revert diffs of service {key}"), "they remove it"))?;
    since.base = Base::Rebuilt(base);
    // Each generation's author once, newest first.
    let mut authors: BTreeMap<u64, ChangeBy> = BTreeMap::new();
    for generation in touched.values().chain(settings.iter()) {
        if authors.contains_key(generation) {
            continue;
        }
        let before = i64::try_from(*generation)
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        let row = changes::list(&mut tx, row.id, before, 1).await?;
        if let Some(change) = row.into_iter().find(|c| c.generation() == *generation) {
            authors.insert(
                *generation,
                ChangeBy {
                    generation: *generation,
                    committed_at: change.committed_at,
                    author: change.author,
                },
            );
        }
    }
    since.real_servers = touched
        .into_iter()
        .filter_map(|(key, g)| Some((key, authors.get(&g)?.clone())))
        .collect();
    since.settings = settings.and_then(|g| authors.get(&g).cloned());
    Ok(since)
}

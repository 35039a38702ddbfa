//! What differs between the desired state the kernel was last brought to and a new one:
//! the services to look at and whether the timeouts changed. A pass that knows this reads
//! and writes only those services, so an edit costs the same at any table size.

use lvs_model::{DesiredState, Diff, ServiceChange, ServiceKey};

/// The services (model keys, in key order) and timeouts that differ between two states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub from_generation: u64,
    pub services: Vec<ServiceKey>,
    pub timeouts: bool,
}

impl Changes {
    /// Compares two whole states in memory (one merge pass over both, with the model's
    /// `Diff`). Differences the kernel cannot see (labels) are included: the planner drops
    /// them.
    pub fn between(old: &DesiredState, new: &DesiredState) -> Changes {
        let diff = Diff::between(old, new);
        Changes {
            from_generation: old.generation,
            services: diff.services.iter().map(changed_key).collect(),
            timeouts: diff.timeouts.is_some(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && !self.timeouts
    }
}

fn changed_key(change: &ServiceChange) -> ServiceKey {
    match change {
        ServiceChange::Added(service) | ServiceChange::Removed(service) => *service.key(),
        ServiceChange::Changed(update) => update.key,
    }
}

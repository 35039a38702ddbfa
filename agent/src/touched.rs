//! [`Touched`]: what a new desired state touched since the one the kernel was last brought
//! to, the services to look at and whether the timeouts or host settings changed. An update pass that knows
//! this reads and writes only those services, so an edit costs the same at any table size.
//!
//! It comes from the diffs the server sends (the cost of the change), or, when the server
//! sent a whole document, from comparing it with the state it replaces (the cost of the
//! table, but no kernel read).

use std::collections::BTreeSet;

use lvs_model::{DesiredState, Diff, ServiceChange, ServiceKey};

/// The services (model keys, in key order) and timeouts that differ from the state at
/// `from_generation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub from_generation: u64,
    pub services: BTreeSet<ServiceKey>,
    /// Those of `services` whose settings stayed as they were (only real servers changed):
    /// an update takes their settings as set, as it does unchanged timeouts.
    pub members_only: BTreeSet<ServiceKey>,
    pub timeouts: bool,
    /// Whether the host settings (VIP interface, sysctls) changed.
    pub host: bool,
    /// Whether health flips touched some of `services`: their differences from the kernel
    /// are the checks' doing, not drift.
    pub health: bool,
}

impl Touched {
    /// Compares two whole states in memory (one merge pass over both, with the model's
    /// `Diff`). Differences the kernel cannot see (labels) are included: the planner drops
    /// them.
    pub fn between(old: &DesiredState, new: &DesiredState) -> Touched {
        let mut touched = Touched::none_since(old.generation);
        touched.add(&Diff::between(old, new));
        touched
    }

    /// Nothing changed yet since `generation`.
    pub fn none_since(generation: u64) -> Touched {
        Touched {
            from_generation: generation,
            ..Touched::default()
        }
    }

    /// Adds what `diff` changes.
    pub fn add(&mut self, diff: &Diff) {
        for change in &diff.services {
            let members_only =
                matches!(change, ServiceChange::Changed(update) if update.settings.is_none());
            self.note(change.key(), members_only);
        }
        self.timeouts |= diff.timeouts.is_some();
        self.host |= diff.host.is_some();
    }

    /// Adds what `later` changes, which starts where these end.
    pub fn extend(&mut self, later: &Touched) {
        for key in &later.services {
            self.note(key, later.members_only.contains(key));
        }
        self.timeouts |= later.timeouts;
        self.host |= later.host;
        self.health |= later.health;
    }

    /// Adds services whose real servers' health changed: only their members change.
    pub fn add_health(&mut self, services: impl IntoIterator<Item = ServiceKey>) {
        for key in services {
            self.note(&key, true);
            self.health = true;
        }
    }

    /// A service stays "members only" while every change to it is.
    fn note(&mut self, key: &ServiceKey, members_only: bool) {
        let first = self.services.insert(*key);
        if members_only && (first || self.members_only.contains(key)) {
            self.members_only.insert(*key);
        } else {
            self.members_only.remove(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && !self.timeouts && !self.host
    }
}

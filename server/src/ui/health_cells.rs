//! A service's health as the service page words it: a cell per real server and notes for
//! the page head, read from [`ServiceHealthView`] (which owns the rule of what counts).

use lvs_model::Health;

use crate::resources::health::{RealServerHealthView, ServiceHealthView};

/// A real server's health cell: a badge whose text says it all, and the reasons of the
/// directors where it is down.
#[derive(Debug, Clone)]
pub struct HealthCell {
    /// The badge's class; empty for muted text without a badge.
    pub class: &'static str,
    pub label: String,
    /// `lb2: connection refused`, one per director where it is down.
    pub reasons: Vec<String>,
}

/// What the page head says about the service's health.
#[derive(Debug, Default)]
pub struct HealthNotes {
    pub degraded: bool,
    pub min_healthy: u32,
    /// Directors where the sorry server stands in.
    pub sorry_server_on: Vec<String>,
    /// Directors whose check engine stopped producing results.
    pub stalled_on: Vec<String>,
}

impl HealthNotes {
    pub fn of(view: &ServiceHealthView) -> HealthNotes {
        let on = |pick: fn(&crate::resources::health::DirectorServiceHealth) -> bool| {
            view.directors
                .iter()
                .filter(|d| d.reported && pick(d))
                .map(|d| d.director.clone())
                .collect()
        };
        HealthNotes {
            degraded: view.degraded,
            min_healthy: view.min_healthy,
            sorry_server_on: on(|d| d.sorry_server_in_use),
            stalled_on: on(|d| d.checker_stalled),
        }
    }
}

/// The cell of a real server, given how many directors the cluster has.
pub fn cell(view: &RealServerHealthView, directors: usize) -> HealthCell {
    if !view.checked {
        return HealthCell {
            class: "",
            label: "unchecked".into(),
            reasons: Vec::new(),
        };
    }
    if view.directors.is_empty() {
        return HealthCell {
            class: "",
            label: "no report yet".into(),
            reasons: Vec::new(),
        };
    }
    let down: Vec<_> = view
        .directors
        .iter()
        .filter(|d| d.health == Health::Down)
        .collect();
    if down.is_empty() {
        return HealthCell {
            class: "ok",
            label: format!("up on {} of {directors}", view.up),
            reasons: Vec::new(),
        };
    }
    let names: Vec<&str> = down.iter().map(|d| d.director.as_str()).collect();
    HealthCell {
        class: "error",
        label: format!("down on {}", names.join(", ")),
        reasons: down
            .iter()
            .map(|d| match &d.reason {
                Some(reason) => format!("{}: {reason}", d.director),
                None => format!("{}: no reason given", d.director),
            })
            .collect(),
    }
}

//! [`Reconciler`]: one director's kernel, the drains in progress and the generation applied;
//! a pass reads the table, plans and applies. Synchronous: it owns a netlink socket, opened
//! in the namespace of the thread that connected it.

use std::time::{Duration, Instant};

use lvs_ipvs::Ipvs;
use lvs_model::agent::ApplyReport;
use lvs_model::DesiredState;

use crate::drain::Drains;
use crate::kernel;
use crate::reconcile::{self, Context};

/// The agent's version, as reported.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug)]
pub struct Reconciler {
    ipvs: Ipvs,
    drains: Drains,
    applied_generation: Option<u64>,
    drain_timeout: Duration,
    kernel_version: String,
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct PassResult {
    pub report: ApplyReport,
    /// Commands sent to the kernel (0 when the kernel already matched).
    pub commands: usize,
    /// Objects still draining after the pass.
    pub draining: usize,
}

impl PassResult {
    pub fn succeeded(&self) -> bool {
        self.report.succeeded()
    }
}

impl Reconciler {
    /// `applied_generation`: the generation applied before (from the state cache), if any.
    pub fn new(ipvs: Ipvs, drain_timeout: Duration, applied_generation: Option<u64>) -> Self {
        Reconciler {
            ipvs,
            drains: Drains::default(),
            applied_generation,
            drain_timeout,
            kernel_version: kernel::kernel_version(),
        }
    }

    pub fn applied_generation(&self) -> Option<u64> {
        self.applied_generation
    }

    /// Objects draining now.
    pub fn draining(&self) -> usize {
        self.drains.len()
    }

    /// Reads the kernel, plans and applies the difference to `desired`. `Err` only when
    /// the kernel could not be read or written at all; refused commands are outcomes.
    pub fn pass(&mut self, desired: &DesiredState) -> Result<PassResult, lvs_ipvs::Error> {
        self.pass_at(desired, Instant::now())
    }

    /// [`Reconciler::pass`] with an explicit clock, for tests of drain timeouts.
    pub fn pass_at(
        &mut self,
        desired: &DesiredState,
        now: Instant,
    ) -> Result<PassResult, lvs_ipvs::Error> {
        let (observed, _) = kernel::read(&mut self.ipvs)?;
        let context = Context {
            applied_generation: self.applied_generation,
            drain_timeout: self.drain_timeout,
            now,
        };
        let plan = reconcile::plan(&observed, desired, &context, &mut self.drains);
        let outcomes = kernel::apply(&mut self.ipvs, &plan)?;
        for outcome in &outcomes {
            match &outcome.error {
                None => {
                    tracing::info!(object = %outcome.object, action = %outcome.action, "applied");
                }
                Some(error) => tracing::warn!(
                    object = %outcome.object, action = %outcome.action, %error, "kernel refused"
                ),
            }
        }
        for drift in &plan.drift {
            tracing::warn!(object = %drift.object, found = %drift.found, "drift repaired");
        }
        let report = ApplyReport {
            applied_generation: desired.generation,
            outcomes,
            drift_repaired: plan.drift,
            unmanaged_services: plan.unmanaged,
            agent_version: AGENT_VERSION.to_owned(),
            kernel_version: self.kernel_version.clone(),
        };
        if report.succeeded() {
            self.applied_generation = Some(desired.generation);
        }
        Ok(PassResult {
            commands: plan.steps.len(),
            draining: self.drains.len(),
            report,
        })
    }

    /// The client, for reading statistics on the same socket.
    pub fn ipvs(&mut self) -> &mut Ipvs {
        &mut self.ipvs
    }
}

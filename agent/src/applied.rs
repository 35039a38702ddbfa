//! The agent's side of the applied-generation protocol (specified in [`lvs_model::agent`]):
//! which generation this director applied, and how the server hears of it.
//!
//! The reconcile thread gives every pass to [`Applied`], which decides whether its report
//! says anything new and who tells the server ([`Teller`]): the long-poll for a plain
//! report, the report loop for any other. The long-poll carries [`Applied::announce`]; the
//! report loop keeps a [`LastAttempt`] to know when a plain report must be sent anyway.

use std::time::Instant;

use lvs_model::agent::ApplyReport;

/// What the next long-poll says about the generation applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Announce {
    /// Nothing: no pass yet, the last one failed, or its report says it itself (and the
    /// poll must not let the status show the new generation beside the old errors).
    #[default]
    Nothing,
    /// `applied=G`: the last pass applied `G` completely with nothing else to say.
    Applied(u64),
}

impl Announce {
    /// The long-poll's `applied` query parameter.
    pub fn query(self) -> Option<u64> {
        match self {
            Announce::Nothing => None,
            Announce::Applied(generation) => Some(generation),
        }
    }
}

/// Who tells the server a pass's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Teller {
    /// A plain report: nothing new but its generation (the pass succeeded without repairing
    /// drift, after a report that succeeded too, with the same versions and unmanaged
    /// services and timeouts). The long-poll after the pass says it; the report loop drops
    /// the report unless [`LastAttempt::must_send`].
    LongPoll,
    /// The report has more to say: the report loop sends it.
    Report,
}

impl Teller {
    /// Who tells the server for one report merged from two: the long-poll only if it told
    /// both.
    pub fn merge(self, later: Teller) -> Teller {
        if self == Teller::LongPoll && later == Teller::LongPoll {
            Teller::LongPoll
        } else {
            Teller::Report
        }
    }
}

/// The reconcile thread's memory of what it told the server.
#[derive(Debug, Default)]
pub struct Applied {
    /// The last report handed to the report loop; `None` before the first.
    handed: Option<ApplyReport>,
    announce: Announce,
}

impl Applied {
    /// A pass that reached the kernel (refused commands included) ended at `at`: its
    /// report for the report loop, or `None` when the pass did nothing and the server
    /// already has the same report (a periodic pass over a matching kernel says nothing
    /// new, and every report is a write on the server).
    pub fn pass_ended(&mut self, report: ApplyReport, at: Instant) -> Option<PassReport> {
        let nothing_new = report.outcomes.is_empty()
            && report.drift_repaired.is_empty()
            && self.handed.as_ref() == Some(&report);
        if nothing_new {
            return None;
        }
        let plain = self
            .handed
            .as_ref()
            .is_some_and(|before| is_plain(before, &report));
        let teller = if plain {
            self.announce = Announce::Applied(report.applied_generation);
            Teller::LongPoll
        } else {
            self.announce = Announce::Nothing;
            Teller::Report
        };
        self.handed = Some(report.clone());
        Some(PassReport { report, teller, at })
    }

    /// A pass that could not read or write the kernel at all: the long-poll stops saying
    /// a generation was applied.
    pub fn pass_failed(&mut self) {
        self.announce = Announce::Nothing;
    }

    /// What the long-poll after the last pass says.
    pub fn announce(&self) -> Announce {
        self.announce
    }
}

/// Whether `report` tells the server nothing but its generation, after `before`: both
/// succeeded, it repaired no drift, and the versions and unmanaged services and timeouts are
/// the same.
fn is_plain(before: &ApplyReport, report: &ApplyReport) -> bool {
    before.succeeded()
        && report.succeeded()
        && report.drift_repaired.is_empty()
        && report.agent_version == before.agent_version
        && report.kernel_version == before.kernel_version
        && report.unmanaged_services == before.unmanaged_services
        && report.unmanaged_timeouts == before.unmanaged_timeouts
}

/// When the report loop's last attempt to send a report ended.
#[derive(Debug, Clone, Copy, Default)]
pub enum LastAttempt {
    #[default]
    None,
    EndedAt(Instant),
}

impl LastAttempt {
    /// Whether `report` must be sent. A plain report stays home when its pass ended after
    /// the last attempt: no report was in flight then. Otherwise the long-poll after the
    /// pass may overtake the report in flight, which would then set the server back to an
    /// older generation; sending this one after it sets it right.
    pub fn must_send(self, report: &PassReport) -> bool {
        match (report.teller, self) {
            (Teller::Report, _) => true,
            (Teller::LongPoll, LastAttempt::EndedAt(ended)) => report.at <= ended,
            (Teller::LongPoll, LastAttempt::None) => true,
        }
    }
}

/// One pass's report, as the reconcile thread hands it over.
#[derive(Debug, Clone)]
pub struct PassReport {
    pub report: ApplyReport,
    /// Whether the long-poll after the pass tells the server instead (a plain report).
    pub teller: Teller,
    /// When the pass ended.
    pub at: std::time::Instant,
}

//! The agent's side of the kernel: reading the table (or some services) and applying a plan
//! in one batch.

use lvs_ipvs::{ErrorKind, Ipvs, Service, ServiceEntry, ServiceKey, Stats, TableEntry};
use lvs_model::agent::ObjectOutcome;

use crate::observed::Observed;
use crate::planner::Plan;

/// Reads the whole table and the timeouts.
pub fn read(ipvs: &mut Ipvs) -> Result<(Observed, Vec<TableEntry>), lvs_ipvs::Error> {
    let table = ipvs.table()?;
    let timeouts = ipvs.timeouts()?;
    Ok((Observed::from_table(&table, timeouts), table))
}

/// Reads only these services with their destinations, leaving out those the kernel does
/// not have: two requests each, or one (the destinations) for a service whose settings are
/// given, taken as set.
pub fn read_services(
    ipvs: &mut Ipvs,
    keys: impl IntoIterator<Item = (ServiceKey, Option<Service>)>,
) -> Result<Vec<TableEntry>, lvs_ipvs::Error> {
    let mut table = Vec::new();
    for (key, settings) in keys {
        let found = match settings {
            Some(service) => ipvs.destinations(&key).map(|destinations| {
                let service = ServiceEntry {
                    service,
                    stats: Stats::default(),
                };
                (service, destinations)
            }),
            None => ipvs
                .service(&key)
                .and_then(|service| Ok((service, ipvs.destinations(&key)?))),
        };
        match found {
            Ok((service, destinations)) => table.push(TableEntry {
                service,
                destinations,
            }),
            Err(error) if is_missing(&error) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(table)
}

fn is_missing(error: &lvs_ipvs::Error) -> bool {
    error
        .kernel()
        .is_some_and(|e| e.kind == ErrorKind::NoSuchService)
}

/// Applies every step of `plan` in one batch and returns each step's outcome, with the
/// kernel's error where it refused. `Err` when the netlink connection itself failed.
pub fn apply(ipvs: &mut Ipvs, plan: &Plan) -> Result<Vec<ObjectOutcome>, lvs_ipvs::Error> {
    if plan.steps.is_empty() {
        return Ok(Vec::new());
    }
    let report = ipvs.apply(&plan.commands())?;
    Ok(plan
        .steps
        .iter()
        .zip(report.results())
        .map(|(step, result)| ObjectOutcome {
            error: result.as_ref().err().map(ToString::to_string),
            ..step.outcome.clone()
        })
        .collect())
}

/// The running kernel's release (`uname -r`).
pub fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

//! What the agents' own debug logs say about each change: when each agent received the
//! new state (so how long the server took to answer every long-poll) and when its kernel
//! acknowledged the update, and how long it spent parsing the document, writing its state
//! cache and updating the kernel. Wall-clock times in a guest whose one CPU every agent
//! shares, so they include waiting for it.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvs_testkit::fleet::{log_events, AgentHost};

use crate::figures::{median, percentile, show};

/// Every agent's log of one measurement, from generation `first` on.
pub struct AgentLogs {
    /// Per director: generation -> when the agent had parsed it.
    received: Vec<HashMap<u64, SystemTime>>,
    /// Per director: generation -> when the update that applied it had returned (the
    /// kernel had acknowledged every write, so the change was visible from then on).
    applied: Vec<HashMap<u64, SystemTime>>,
    parse: Vec<Duration>,
    store: Vec<Duration>,
    update: Vec<Duration>,
    /// When any agent was busy with something else than a change: sending statistics, or
    /// a full pass.
    background: Vec<(SystemTime, SystemTime)>,
}

impl AgentLogs {
    pub fn read(directors: &[AgentHost], first: u64) -> AgentLogs {
        let mut logs = AgentLogs {
            received: Vec::new(),
            applied: Vec::new(),
            parse: Vec::new(),
            store: Vec::new(),
            update: Vec::new(),
            background: Vec::new(),
        };
        for director in directors {
            let log = director.log();
            let mut received = HashMap::new();
            for event in log_events(log, "desired state received") {
                let fields = &event["fields"];
                if let (Some(g), Some(at)) = (
                    fields["generation"].as_u64().filter(|g| *g >= first),
                    event["timestamp"].as_str().and_then(parse_timestamp),
                ) {
                    received.insert(g, at);
                    push_micros(&mut logs.parse, &fields["parse_us"]);
                }
            }
            logs.received.push(received);
            logs.applied.push(first_update_of_each(log, first));
            collect(&mut logs.store, log, "state cache written", first);
            collect(&mut logs.update, log, "reconciled", first);
            logs.background.extend(background(log));
        }
        logs
    }

    /// How many changes had statistics or a full pass running in some agent between their
    /// API call and their last kernel update, and the median latency with and without.
    pub fn beside_background(&self, changes: &[(u64, SystemTime)]) -> String {
        let Some(latencies) = self.applied_everywhere(changes) else {
            return "changes missing in the logs".to_owned();
        };
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for ((_, returned), latency) in changes.iter().zip(latencies) {
            let (start, end) = (*returned, *returned + latency);
            let overlaps = self.background.iter().any(|(s, e)| *s < end && *e > start);
            if overlaps { &mut with } else { &mut without }.push(latency);
        }
        let p50 = |d: &[Duration]| {
            if d.is_empty() {
                "-".to_owned()
            } else {
                show(median(d))
            }
        };
        format!(
            "{} of {} changes; p50 {} with, {} without",
            with.len(),
            changes.len(),
            p50(&with),
            p50(&without)
        )
    }

    /// For each change (its generation and when its API call returned): how long until
    /// the first and until the last agent had the new state; p50 and p99 of each.
    pub fn fan_out(&self, changes: &[(u64, SystemTime)]) -> String {
        let (Some(first), Some(last)) = (
            since_returned(&self.received, changes, Which::FirstAgent),
            since_returned(&self.received, changes, Which::LastAgent),
        ) else {
            return "changes missing in the logs".to_owned();
        };
        format!(
            "first {} / {}, last {} / {}",
            show(percentile(&first, 50.0)),
            show(percentile(&first, 99.0)),
            show(percentile(&last, 50.0)),
            show(percentile(&last, 99.0))
        )
    }

    /// For each change: how long after its API call returned the last agent's kernel had
    /// acknowledged it. `None` if an agent's log lacks one of them.
    pub fn applied_everywhere(&self, changes: &[(u64, SystemTime)]) -> Option<Vec<Duration>> {
        since_returned(&self.applied, changes, Which::LastAgent)
    }

    /// Medians of the steps inside the agents.
    pub fn steps(&self) -> String {
        if self.parse.is_empty() || self.store.is_empty() || self.update.is_empty() {
            return "no debug events in the agents' logs".to_owned();
        }
        format!(
            "parse {}, cache write {}, update {}",
            show(median(&self.parse)),
            show(median(&self.store)),
            show(median(&self.update))
        )
    }
}

/// Which agent's time a change is timed by.
#[derive(Clone, Copy)]
enum Which {
    FirstAgent,
    LastAgent,
}

/// For each change, the time from its API call returning to the first or the last agent's
/// time in `times`; `None` if an agent has no time for one of the changes.
fn since_returned(
    times: &[HashMap<u64, SystemTime>],
    changes: &[(u64, SystemTime)],
    which: Which,
) -> Option<Vec<Duration>> {
    changes
        .iter()
        .map(|(generation, returned)| {
            let each: Vec<SystemTime> = times
                .iter()
                .map(|t| t.get(generation).copied())
                .collect::<Option<_>>()?;
            let at = match which {
                Which::FirstAgent => each.into_iter().min(),
                Which::LastAgent => each.into_iter().max(),
            }?;
            Some(at.duration_since(*returned).unwrap_or_default())
        })
        .collect()
}

/// Generation -> when the first pass that applied it was logged: an update, or a full
/// pass if one was due when the change arrived.
fn first_update_of_each(log: &Path, first: u64) -> HashMap<u64, SystemTime> {
    let mut applied = HashMap::new();
    for event in log_events(log, "reconciled") {
        let fields = &event["fields"];
        if let (Some(g), Some(at)) = (
            fields["generation"].as_u64().filter(|g| *g >= first),
            event["timestamp"].as_str().and_then(parse_timestamp),
        ) {
            applied.entry(g).or_insert(at);
        }
    }
    applied
}

/// The intervals of the statistics sends and full passes in one agent's log.
fn background(log: &Path) -> Vec<(SystemTime, SystemTime)> {
    let mut intervals = Vec::new();
    for message in ["statistics sent", "reconciled"] {
        for event in log_events(log, message) {
            let fields = &event["fields"];
            if message == "reconciled" && fields["incremental"].as_bool() != Some(false) {
                continue;
            }
            if let (Some(end), Some(us)) = (
                event["timestamp"].as_str().and_then(parse_timestamp),
                fields["elapsed_us"].as_u64(),
            ) {
                intervals.push((end - Duration::from_micros(us), end));
            }
        }
    }
    intervals
}

fn collect(into: &mut Vec<Duration>, log: &Path, message: &str, first: u64) {
    for event in log_events(log, message) {
        let fields = &event["fields"];
        let counted = fields["generation"].as_u64().is_some_and(|g| g >= first)
            && fields["incremental"].as_bool() != Some(false);
        if counted {
            push_micros(into, &fields["elapsed_us"]);
        }
    }
}

fn push_micros(into: &mut Vec<Duration>, value: &serde_json::Value) {
    if let Some(us) = value.as_u64() {
        into.push(Duration::from_micros(us));
    }
}

/// `2026-11-22T08:04:17.693123Z`, as the agent's JSON log writes it (UTC).
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    let nanos: u32 = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    let seconds = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_seconds_since_the_epoch() {
        let at = parse_timestamp("2026-11-22T08:04:17.693123Z").unwrap();
        let since = at.duration_since(UNIX_EPOCH).unwrap();
        // date -u -d 2026-11-22T08:04:17Z +%s
        assert_eq!(since.as_secs(), 1_795_334_657);
        assert_eq!(since.subsec_micros(), 693_123);
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_timestamp("not a time"), None);
    }
}

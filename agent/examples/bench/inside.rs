//! What the agents' own debug logs say about each change: when each agent received the
//! new state (so how long the server took to answer every long-poll), and how long it
//! spent parsing the document, writing its state cache and updating the kernel. Wall-clock
//! times in a guest whose one CPU every agent shares, so they include waiting for it.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lvs_testkit::fleet::{log_events, Director};

use crate::figures::{median, percentile, show};

/// Every agent's log of one measurement, from generation `first` on.
pub struct AgentLogs {
    /// Per director: generation -> when the agent had parsed it.
    received: Vec<HashMap<u64, SystemTime>>,
    parse: Vec<Duration>,
    store: Vec<Duration>,
    update: Vec<Duration>,
}

impl AgentLogs {
    pub fn read(directors: &[Director], first: u64) -> AgentLogs {
        let mut logs = AgentLogs {
            received: Vec::new(),
            parse: Vec::new(),
            store: Vec::new(),
            update: Vec::new(),
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
            collect(&mut logs.store, log, "state cache written", first);
            collect(&mut logs.update, log, "reconciled", first);
        }
        logs
    }

    /// For each change (its generation and when its API call returned): how long until
    /// the last agent had the new state; p50 and p99.
    pub fn fan_out(&self, changes: &[(u64, SystemTime)]) -> String {
        let waits: Vec<Duration> = changes
            .iter()
            .filter_map(|(generation, returned)| {
                let last = self
                    .received
                    .iter()
                    .map(|r| r.get(generation).copied())
                    .collect::<Option<Vec<_>>>()?
                    .into_iter()
                    .max()?;
                Some(last.duration_since(*returned).unwrap_or_default())
            })
            .collect();
        if waits.len() < changes.len() {
            return format!(
                "{} of {} changes missing in the logs",
                changes.len() - waits.len(),
                changes.len()
            );
        }
        format!(
            "{} / {}",
            show(percentile(&waits, 50.0)),
            show(percentile(&waits, 99.0))
        )
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

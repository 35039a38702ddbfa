//! Numbers and times as people read them, in tables and graphs alike: one formatter, so
//! a value reads the same wherever it is shown.

/// The way a change came in, in words: `"web UI"`, `"API"`.
pub fn source(source: crate::db::changes::Source) -> &'static str {
    use crate::db::changes::Source;
    match source {
        Source::Api => "API",
        Source::Ui => "web UI",
        Source::Import => "import of a director's rules",
        Source::Cli => "lvs-server command",
    }
}

/// A count: `1234567` -> `"1.2M"`.
pub fn count(value: f64) -> String {
    number(value, "")
}

/// Bytes per second: `"12.3 MB/s"`.
pub fn bytes_rate(value: f64) -> String {
    number(value, "B/s")
}

/// A value with an SI prefix, in a table, an axis label or a graph's text: `number(1234.0, "conn/s")`
/// is `"1.2k conn/s"`, `(1234.0, "/s")` is `"1.2k/s"`, and a unit of bytes takes the
/// prefix itself: `(3.4e6, "B/s")` is `"3.4 MB/s"`.
pub fn number(value: f64, unit: &str) -> String {
    let (number, prefix) = si(value);
    if unit.starts_with('B') {
        format!("{number} {prefix}{unit}")
    } else if unit.is_empty() || unit.starts_with('/') {
        format!("{number}{prefix}{unit}")
    } else {
        format!("{number}{prefix} {unit}")
    }
}

/// `1234.0` -> `("1.2", "k")`: one decimal below 100, none above, more only below 1 (axis
/// steps like 0.25), trailing zeros dropped.
fn si(value: f64) -> (String, &'static str) {
    const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    if !value.is_finite() {
        return ("n/a".to_owned(), "");
    }
    let mut scaled = value.abs();
    let mut prefix = 0;
    // 999.96 rounds to "1000": take the next prefix from where rounding would reach 1000.
    while scaled >= 999.5 && prefix + 1 < PREFIXES.len() {
        scaled /= 1000.0;
        prefix += 1;
    }
    let decimals = if scaled >= 99.95 {
        0
    } else if scaled >= 1.0 || scaled == 0.0 {
        1
    } else {
        // Three significant digits: 0.25 -> 2 decimals, 0.00125 -> 5.
        (2.0 - scaled.log10().floor()).clamp(1.0, 9.0) as usize
    };
    let mut number = format!("{scaled:.decimals$}");
    if number.contains('.') {
        number = number
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned();
    }
    if value < 0.0 && number != "0" {
        number.insert(0, '-');
    }
    (number, PREFIXES[prefix])
}

/// How long before `now` a Unix-millisecond time was: `"12 s ago"`, `"3 min ago"`.
pub fn ago(at: i64, now: i64) -> String {
    let seconds = (now - at).max(0) / 1000;
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// A Unix-millisecond time in UTC: `"2026-11-22 07:45:12 UTC"`.
pub fn utc(millis: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_graphs_read_numbers_alike() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1234.0), "1.2k");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(123_456_789.0), "123M");
        assert_eq!(bytes_rate(1_500_000.0), "1.5 MB/s");
        assert_eq!(bytes_rate(12.0), "12 B/s");
    }

    #[test]
    fn numbers_read_with_si_prefixes() {
        assert_eq!(number(1234.0, "conn/s"), "1.2k conn/s");
        assert_eq!(number(3.4e6, "B/s"), "3.4 MB/s");
        assert_eq!(number(123.0, "/s"), "123/s");
        assert_eq!(number(0.0, "B/s"), "0 B/s");
        assert_eq!(number(0.25, ""), "0.25");
        assert_eq!(number(12_345.0, ""), "12.3k");
        assert_eq!(number(150_000.0, ""), "150k");
        assert_eq!(number(999.96, ""), "1k");
        assert_eq!(number(-1500.0, ""), "-1.5k");
        assert_eq!(number(f64::NAN, "/s"), "n/a/s");
        assert_eq!(number(1.5e9, "B"), "1.5 GB");
        assert_eq!(number(512.0, "B"), "512 B");
    }

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(ago(1_000, 13_500), "12 s ago");
        assert_eq!(ago(0, 3_600_000), "1 h ago");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
    }
}

//! Numbers and times as people read them in tables.

/// `1234567` -> `"1.23M"`; small numbers stay exact.
pub fn count(value: f64) -> String {
    scaled(value, 1000.0, &["", "k", "M", "G", "T"])
}

/// Bytes per second: `"12.3 MB/s"`.
pub fn bytes_rate(value: f64) -> String {
    format!(
        "{}B/s",
        spaced(&scaled(value, 1000.0, &["", "k", "M", "G", "T"]))
    )
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

fn scaled(value: f64, base: f64, units: &[&str]) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "0".to_owned();
    }
    let mut value = value;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    let digits = if unit == 0 || value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$}{}", units[unit])
}

/// `"12.3M"` -> `"12.3 M"`, `"12"` -> `"12 "`.
fn spaced(scaled: &str) -> String {
    let split = scaled
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(scaled.len());
    format!("{} {}", &scaled[..split], &scaled[split..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_scale_with_three_significant_digits() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1234.0), "1.23k");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(123_456_789.0), "123M");
        assert_eq!(bytes_rate(1_500_000.0), "1.50 MB/s");
        assert_eq!(bytes_rate(12.0), "12 B/s");
        assert_eq!(bytes_rate(f64::NAN), "0 B/s");
    }

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(ago(1_000, 13_500), "12 s ago");
        assert_eq!(ago(0, 3_600_000), "1 h ago");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
    }
}

//! Round numbers for axes: the top of a value scale, the step between time labels, and how
//! times and spans read.

pub(super) const SECOND: i64 = 1000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

/// The top of a y axis starting at 0 and its step: the smallest step of 1, 2, 2.5 or 5
/// times a power of ten that reaches `max` in at most `intervals` steps.
pub(super) fn nice_scale(max: f64, intervals: u32) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = max / f64::from(intervals.max(1));
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let steps = (max / step * (1.0 - 1e-9)).ceil().max(1.0);
    (steps * step, step)
}

/// The round time between x labels that fits `span` in at most `max_intervals`.
pub(super) fn time_step(span: i64, max_intervals: i64) -> i64 {
    const STEPS: [i64; 18] = [
        SECOND,
        2 * SECOND,
        5 * SECOND,
        10 * SECOND,
        15 * SECOND,
        30 * SECOND,
        MINUTE,
        2 * MINUTE,
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
    ];
    let max_intervals = max_intervals.max(1);
    STEPS
        .into_iter()
        .find(|step| span / step <= max_intervals)
        .unwrap_or_else(|| (span / max_intervals / DAY + 1) * DAY)
}

/// `"now"`, `"-30 s"`, `"-15 min"`, `"-6 h"`, `"-2 d"`, in the unit of the label step.
pub(super) fn time_label(back: i64, step: i64) -> String {
    match back {
        0 => "now".to_owned(),
        _ if step < MINUTE => format!("-{} s", back / SECOND),
        _ if step < HOUR => format!("-{} min", back / MINUTE),
        _ if step < DAY => format!("-{} h", back / HOUR),
        _ => format!("-{} d", back / DAY),
    }
}

/// `"60 min"`, `"24 h"`, `"7 d"`, `"30 s"`.
pub(super) fn duration(ms: i64) -> String {
    if ms > 2 * DAY && ms % DAY == 0 {
        format!("{} d", ms / DAY)
    } else if ms >= 2 * HOUR && ms % HOUR == 0 {
        format!("{} h", ms / HOUR)
    } else if ms >= MINUTE {
        format!("{} min", (ms + MINUTE / 2) / MINUTE)
    } else {
        format!("{} s", (ms + SECOND / 2) / SECOND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(duration(HOUR), "60 min");
        assert_eq!(duration(6 * HOUR), "6 h");
        assert_eq!(duration(DAY), "24 h");
        assert_eq!(duration(2 * DAY), "48 h");
        assert_eq!(duration(7 * DAY), "7 d");
        assert_eq!(duration(30 * SECOND), "30 s");
    }

    #[test]
    fn a_week_is_labelled_in_days() {
        let step = time_step(7 * DAY, 4);
        assert_eq!(step, 2 * DAY);
        assert_eq!(time_label(4 * DAY, step), "-4 d");
        assert_eq!(time_label(6 * HOUR, time_step(DAY, 4)), "-6 h");
    }

    #[test]
    fn nice_scale_rounds_the_maximum_up() {
        let close = |(a, b): (f64, f64), (c, d): (f64, f64)| {
            (a - c).abs() < 1e-9 * c && (b - d).abs() < 1e-9 * d
        };
        let cases = [
            (0.0, (1.0, 1.0)),
            (f64::NAN, (1.0, 1.0)),
            (7.0, (8.0, 2.0)),
            (8.0, (8.0, 2.0)),
            (100.0, (100.0, 25.0)),
            (1234.0, (1500.0, 500.0)),
            (0.9, (1.0, 0.25)),
            (3.4e6, (4e6, 1e6)),
        ];
        for (max, expected) in cases {
            let scale = nice_scale(max, 4);
            assert!(close(scale, expected), "{max}: {scale:?}");
        }
    }
}

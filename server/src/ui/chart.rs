//! Charts drawn on the server as inline SVG: pure functions from numbers to markup, so pages
//! need no charting script and work without JavaScript. Every caller-given text is escaped.
//!
//! Colours and dashes are set as presentation attributes, so a chart reads the same where
//! `app.css` is missing; the stylesheet's `.spark` and `.chart` rules may override them.

use std::fmt::Write;

use super::format::number;

/// One line of a [`graph`]: its legend label and its `(Unix ms, value)` samples, oldest
/// first. A missing sample is a gap in the line, and so is a non-finite value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// The time a [`graph_window`] shows: the `span_ms` before `end_ms`, which is labelled "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub end_ms: i64,
    pub span_ms: i64,
}

impl Window {
    /// The hour before `now_ms`.
    pub fn last_hour(now_ms: i64) -> Window {
        Window {
            end_ms: now_ms,
            span_ms: HOUR,
        }
    }

    /// From the oldest sample to the newest (an hour up to 0 when there is none).
    fn spanning(series: &[Series]) -> Window {
        let times = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (min, max) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        if min > max {
            return Window::last_hour(0);
        }
        Window {
            end_ms: max,
            span_ms: max.saturating_sub(min).max(1),
        }
    }
}

const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A small line of `values` (oldest first) for a table cell or card, scaled to its own
/// maximum, labelled for screen readers with the last value. Negative values sit on the
/// baseline; non-finite ones are gaps; no data or only zeros draws a flat baseline.
pub fn sparkline(values: &[f64], width: u32, height: u32) -> String {
    sparkline_with_unit(values, width, height, "")
}

/// [`sparkline`] whose label gives the unit of its values: "last value 123/s".
pub fn sparkline_with_unit(values: &[f64], width: u32, height: u32, unit: &str) -> String {
    let (width, height) = (width.max(2), height.max(4));
    let (w, h) = (f64::from(width), f64::from(height));
    // A stroke's half-width of room, so neither the peak nor the baseline is clipped.
    let (top, bottom) = (1.0, h - 1.0);
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let y = |v: f64| {
        if max > 0.0 {
            bottom - v.max(0.0) / max * (bottom - top)
        } else {
            bottom
        }
    };
    let mut path = Path::default();
    let first_finite = values.iter().copied().find(|v| v.is_finite());
    match first_finite {
        Some(_) if values.len() > 1 => {
            let dx = w / (values.len() - 1) as f64;
            for (i, &v) in values.iter().enumerate() {
                if v.is_finite() {
                    path.to((i as f64 * dx, y(v)));
                } else {
                    path.lift();
                }
            }
        }
        // One value or none: a level line reads better than a dot.
        _ => {
            let level = first_finite.map_or(bottom, y);
            path.to((0.0, level));
            path.to((w, level));
        }
    }
    let label = match values.iter().rev().find(|v| v.is_finite()) {
        Some(&last) => format!("last value {}", number(last, unit)),
        None => "no data".to_owned(),
    };
    format!(
        r#"<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {w} {h}" role="img" aria-label="{label}"><path d="{d}" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/></svg>"#,
        w = coord(w),
        h = coord(h),
        label = escape(&label),
        d = path.finish(),
    )
}

/// A time graph of `series` from their oldest sample to their newest (labelled "now"). For
/// a live page prefer [`graph_window`] with [`Window::last_hour`], whose "now" is true even
/// when the samples stopped.
pub fn graph(series: &[Series], width: u32, height: u32, y_unit: &str) -> String {
    graph_window(series, Window::spanning(series), width, height, y_unit)
}

/// Series colours, told apart by dash pattern as well, for readers who cannot tell blue
/// from orange.
const STROKES: [(&str, &str); 4] = [
    ("#2458b3", ""),
    ("#c2560a", "6 3"),
    ("#6b3fa0", "2 3"),
    ("#1a7f5a", "9 3 2 3"),
];
const GRID: &str = "#e3e6ea";
const AXIS: &str = "#9aa3ad";
const TEXT: &str = "#5b6470";
const FONT_SIZE: f64 = 11.0;
/// A generous average glyph width at [`FONT_SIZE`], to leave room for labels.
const CHAR_WIDTH: f64 = 6.5;

/// A line graph of `series` over `window`: y from 0 to a round maximum with a few labels in
/// `y_unit` ("conn/s", "B/s": bytes get SI prefixes, "3.4 MB/s"), x labelled back from
/// "now" ("-30 min"), a legend, and a `<title>` that sums the graph up for screen readers.
pub fn graph_window(
    series: &[Series],
    window: Window,
    width: u32,
    height: u32,
    y_unit: &str,
) -> String {
    // Below this there is no room for the labels.
    let (width, height) = (width.max(160), height.max(100));
    let (w, h) = (f64::from(width), f64::from(height));
    let span = window.span_ms.max(1);
    let start = window.end_ms.saturating_sub(span);
    let visible: Vec<Vec<(i64, f64)>> = series
        .iter()
        .map(|s| {
            let mut points: Vec<_> = s
                .points
                .iter()
                .copied()
                .filter(|&(t, _)| (start..=window.end_ms).contains(&t))
                .collect();
            points.sort_by_key(|p| p.0);
            points
        })
        .collect();
    let values = || {
        visible
            .iter()
            .flatten()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
    };
    let (y_top, y_step) = nice_scale(values().fold(0.0, f64::max), 4);
    let y_labels: Vec<(f64, String)> = (0..)
        .map(|i| f64::from(i) * y_step)
        .take_while(|v| *v <= y_top * (1.0 + 1e-9))
        .map(|v| (v, number(v, y_unit)))
        .collect();
    let widest = y_labels.iter().map(|l| l.1.chars().count()).max();
    let frame = Frame {
        start,
        span,
        y_top,
        left: (widest.unwrap_or(1) as f64 * CHAR_WIDTH + 10.0).round(),
        right: w - 12.0,
        top: 24.0,
        bottom: h - 20.0,
    };

    let title = escape(&summary(series, &visible, span, y_unit));
    let mut svg = format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {w} {h}" role="img" aria-label="{title}"><title>{title}</title>"#,
        w = coord(w),
        h = coord(h),
    );
    let _ = write!(
        svg,
        r#"<g class="axes" font-size="{FONT_SIZE}" fill="{TEXT}">"#
    );
    y_axis(&mut svg, &frame, &y_labels);
    x_axis(&mut svg, &frame);
    legend(&mut svg, series, frame.left);
    if values().next().is_none() {
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{y}" text-anchor="middle">No data</text>"#,
            x = coord((frame.left + frame.right) / 2.0),
            y = coord((frame.top + frame.bottom) / 2.0),
        );
    }
    svg.push_str("</g>");
    for (i, points) in visible.iter().enumerate() {
        line(&mut svg, &frame, i, points);
    }
    svg.push_str("</svg>");
    svg
}

/// Where a graph's plot area lies and how times and values map into it.
struct Frame {
    start: i64,
    span: i64,
    y_top: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        self.left + (t - self.start) as f64 / self.span as f64 * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        let share = v.max(0.0).min(self.y_top) / self.y_top;
        self.bottom - share * (self.bottom - self.top)
    }
}

/// A grid line and a label at each of `labels`, the zero line darker.
fn y_axis(svg: &mut String, frame: &Frame, labels: &[(f64, String)]) {
    for (value, label) in labels {
        let (y, stroke) = (frame.y(*value), if *value == 0.0 { AXIS } else { GRID });
        let _ = write!(
            svg,
            r#"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="{stroke}"/><text x="{tx}" y="{ty}" text-anchor="end">{label}</text>"#,
            l = coord(frame.left),
            r = coord(frame.right),
            y = coord(y),
            tx = coord(frame.left - 6.0),
            ty = coord(y + FONT_SIZE / 3.0),
            label = escape(label),
        );
    }
}

/// Ticks counted back from the window's end ("now"), a round time apart.
fn x_axis(svg: &mut String, frame: &Frame) {
    let end = frame.start + frame.span;
    let max_intervals = ((frame.right - frame.left) / 90.0).clamp(2.0, 6.0) as i64;
    let step = time_step(frame.span, max_intervals);
    for back in (0..=frame.span / step).map(|i| i * step) {
        let x = frame.x(end - back);
        // "now" ends at the right edge, where a centred label would be cut off.
        let (anchor, text_x) = if back == 0 {
            ("end", x + 6.0)
        } else {
            ("middle", x)
        };
        let _ = write!(
            svg,
            r#"<line x1="{x}" y1="{b}" x2="{x}" y2="{b4}" stroke="{AXIS}"/><text x="{tx}" y="{ty}" text-anchor="{anchor}">{label}</text>"#,
            x = coord(x),
            b = coord(frame.bottom),
            b4 = coord(frame.bottom + 4.0),
            tx = coord(text_x),
            ty = coord(frame.bottom + 4.0 + FONT_SIZE),
            label = time_label(back, step),
        );
    }
}

/// Each series' stroke and label in a row above the plot.
fn legend(svg: &mut String, series: &[Series], left: f64) {
    let mut x = left;
    for (i, s) in series.iter().enumerate() {
        let (colour, dash) = STROKES[i % STROKES.len()];
        let _ = write!(
            svg,
            r#"<line x1="{x1}" y1="9" x2="{x2}" y2="9" stroke="{colour}" stroke-width="2"{dash}/><text x="{tx}" y="13">{label}</text>"#,
            x1 = coord(x),
            x2 = coord(x + 18.0),
            dash = dash_attr(dash),
            tx = coord(x + 22.0),
            label = escape(&s.label),
        );
        x += 22.0 + s.label.chars().count() as f64 * CHAR_WIDTH + 16.0;
    }
}

/// Series number `index` as one path, its pen lifted where a sample is missing.
fn line(svg: &mut String, frame: &Frame, index: usize, points: &[(i64, f64)]) {
    let (colour, dash) = STROKES[index % STROKES.len()];
    let gap = gap_after(points);
    let mut path = Path::default();
    let mut previous: Option<i64> = None;
    for &(t, v) in points {
        if previous.is_some_and(|p| t - p > gap) || !v.is_finite() {
            path.lift();
        }
        if v.is_finite() {
            path.to((frame.x(t), frame.y(v)));
        }
        previous = Some(t);
    }
    let _ = write!(
        svg,
        r#"<path class="series series-{index}" d="{d}" fill="none" stroke="{colour}" stroke-width="1.75" stroke-linejoin="round" stroke-linecap="round"{dash}/>"#,
        d = path.finish(),
        dash = dash_attr(dash),
    );
}

/// `" stroke-dasharray=\"6 3\""`, or nothing for a solid line.
fn dash_attr(dash: &str) -> String {
    if dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{dash}""#)
    }
}

/// An SVG path drawn point by point, its pen lifted over gaps.
#[derive(Default)]
struct Path {
    d: String,
    /// Points since the pen last went down.
    run: usize,
}

impl Path {
    fn to(&mut self, (x, y): (f64, f64)) {
        let command = if self.run == 0 { 'M' } else { 'L' };
        let _ = write!(self.d, "{command}{},{}", coord(x), coord(y));
        self.run += 1;
    }

    fn lift(&mut self) {
        // A lone sample between gaps would draw nothing; a zero-length segment with round
        // caps draws it as a dot.
        if self.run == 1 {
            self.d.push_str("h0");
        }
        self.run = 0;
    }

    fn finish(mut self) -> String {
        self.lift();
        self.d
    }
}

/// The time after a sample beyond which the next one is missing: half again the series'
/// usual interval (its median), so one lost sample already shows.
fn gap_after(points: &[(i64, f64)]) -> i64 {
    let mut steps: Vec<i64> = points
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .filter(|step| *step > 0)
        .collect();
    if steps.is_empty() {
        return i64::MAX;
    }
    steps.sort_unstable();
    let usual = steps[steps.len() / 2];
    usual.saturating_add(usual / 2)
}

/// The top of a y axis starting at 0 and its step: the smallest step of 1, 2, 2.5 or 5
/// times a power of ten that reaches `max` in at most `intervals` steps.
fn nice_scale(max: f64, intervals: u32) -> (f64, f64) {
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
fn time_step(span: i64, max_intervals: i64) -> i64 {
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
fn time_label(back: i64, step: i64) -> String {
    match back {
        0 => "now".to_owned(),
        _ if step < MINUTE => format!("-{} s", back / SECOND),
        _ if step < HOUR => format!("-{} min", back / MINUTE),
        _ if step < DAY => format!("-{} h", back / HOUR),
        _ => format!("-{} d", back / DAY),
    }
}

/// `"60 min"`, `"24 h"`, `"30 s"`.
fn duration(ms: i64) -> String {
    if ms >= 2 * HOUR && ms % HOUR == 0 {
        format!("{} h", ms / HOUR)
    } else if ms >= MINUTE {
        format!("{} min", (ms + MINUTE / 2) / MINUTE)
    } else {
        format!("{} s", (ms + SECOND / 2) / SECOND)
    }
}

/// What a screen reader says for a graph: the span, then each series' latest and peak.
fn summary(series: &[Series], visible: &[Vec<(i64, f64)>], span: i64, unit: &str) -> String {
    let mut text = format!("Last {}.", duration(span));
    for (s, points) in series.iter().zip(visible) {
        let values = || points.iter().map(|p| p.1).filter(|v| v.is_finite());
        let _ = match (values().next_back(), values().reduce(f64::max)) {
            (Some(latest), Some(peak)) => write!(
                text,
                " {}: latest {}, peak {}.",
                s.label,
                number(latest, unit),
                number(peak, unit)
            ),
            _ => write!(text, " {}: no data.", s.label),
        };
    }
    text
}

/// An SVG coordinate with one decimal, without a trailing ".0".
fn coord(value: f64) -> String {
    let text = format!("{value:.1}");
    match text.strip_suffix(".0") {
        Some(whole) if whole != "-0" => whole.to_owned(),
        Some(_) => "0".to_owned(),
        None => text,
    }
}

/// `text` safe in SVG text and in a double- or single-quoted attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags balance, attribute values are quoted, and every `&` starts an entity.
    fn assert_well_formed(svg: &str) {
        fn entities_ok(text: &str) -> bool {
            let entities = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
            text.match_indices('&')
                .all(|(i, _)| entities.iter().any(|e| text[i..].starts_with(e)))
        }
        assert!(svg.starts_with("<svg "), "{svg}");
        let mut open = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            assert!(entities_ok(&rest[..start]), "bad text in {svg}");
            let end = start + rest[start..].find('>').expect("unclosed tag");
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "`<` inside tag {tag}");
            assert_eq!(
                tag.matches('"').count() % 2,
                0,
                "unbalanced quotes in {tag}"
            );
            assert!(entities_ok(tag), "bad attribute in {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "in {svg}");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().expect("tag name"));
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert!(rest.is_empty(), "text after </svg>");
    }

    /// The `d` attribute of the `n`th path.
    fn path_d(svg: &str, n: usize) -> &str {
        let after = svg.split("<path ").nth(n + 1).expect("path");
        let start = after.find("d=\"").expect("d") + 3;
        &after[start..start + after[start..].find('"').expect("end of d")]
    }

    fn series(label: &str, points: Vec<(i64, f64)>) -> Series {
        Series {
            label: label.to_owned(),
            points,
        }
    }

    #[test]
    fn sparkline_scales_to_its_maximum() {
        let svg = sparkline(&[0.0, 5.0, 10.0], 100, 20);
        assert_well_formed(&svg);
        assert_eq!(path_d(&svg, 0), "M0,19L50,10L100,1");
        assert!(svg.contains(r#"class="spark""#));
        assert!(svg.contains(r#"role="img" aria-label="last value 10""#));
        let svg = sparkline_with_unit(&[1.0, 1234.0], 60, 16, "/s");
        assert!(svg.contains(r#"aria-label="last value 1.2k/s""#), "{svg}");
    }

    #[test]
    fn empty_or_zero_sparkline_is_a_baseline() {
        for values in [&[][..], &[0.0, 0.0, 0.0], &[f64::NAN], &[-3.0, -1.0]] {
            let svg = sparkline(values, 100, 20);
            assert_well_formed(&svg);
            let d = path_d(&svg, 0);
            assert!(d.starts_with("M0,19L"), "{values:?}: {d}");
            assert!(d.split('L').skip(1).all(|p| p.ends_with(",19")), "{d}");
        }
        assert!(sparkline(&[], 100, 20).contains(r#"aria-label="no data""#));
        assert!(sparkline(&[0.0], 100, 20).contains(r#"aria-label="last value 0""#));
    }

    #[test]
    fn sparkline_lifts_the_pen_over_missing_values() {
        let svg = sparkline(&[1.0, 2.0, f64::NAN, 2.0, f64::NAN, 1.0, 1.0], 60, 12);
        assert_well_formed(&svg);
        // The lone 2.0 between the gaps is a dot, not lost.
        assert_eq!(path_d(&svg, 0), "M0,6L10,1M30,1h0M50,6L60,6");
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

    const NOW: i64 = 1_800_000_000_000;

    /// One sample every 10 s over the last hour, each `f(i)`.
    fn hour(f: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
        (0..360)
            .map(|i| (NOW - HOUR + i * 10 * SECOND, f(i)))
            .collect()
    }

    #[test]
    fn graph_labels_a_nice_y_axis_and_time_back_from_now() {
        let svg = graph_window(
            &[series("Connections", hour(|i| i as f64 * 10.0))],
            Window::last_hour(NOW),
            600,
            200,
            "conn/s",
        );
        assert_well_formed(&svg);
        // Peak 3,590/s: four steps of 1k.
        for label in [
            "0 conn/s",
            "1k conn/s",
            "2k conn/s",
            "4k conn/s",
            "-60 min",
            "-30 min",
        ] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}: {svg}");
        }
        assert!(!svg.contains(">5k conn/s<"));
        assert!(svg.contains(">now</text>"));
        assert!(svg.contains(
            "<title>Last 60 min. Connections: latest 3.6k conn/s, peak 3.6k conn/s.</title>"
        ));
        assert_eq!(path_d(&svg, 0).matches('M').count(), 1);
    }

    #[test]
    fn graph_breaks_the_line_where_samples_are_missing() {
        let mut points = hour(|_| 5.0);
        points.retain(|&(t, _)| !(NOW - 30 * MINUTE..NOW - 29 * MINUTE).contains(&t));
        points[10].1 = f64::NAN;
        let svg = graph_window(
            &[series("in", points)],
            Window::last_hour(NOW),
            600,
            200,
            "B/s",
        );
        assert_well_formed(&svg);
        assert_eq!(path_d(&svg, 0).matches('M').count(), 3, "{svg}");
        assert!(svg.contains(">2 B/s</text>") && svg.contains(">6 B/s</text>"));
    }

    #[test]
    fn empty_graph_says_so() {
        for series in [vec![], vec![series("out", vec![])]] {
            let svg = graph(&series, 600, 200, "B/s");
            assert_well_formed(&svg);
            assert!(svg.contains(">No data</text>"));
            assert!(svg.contains(">0 B/s</text>") && svg.contains(">1 B/s</text>"));
            assert!(svg.contains(">now</text>"));
        }
    }

    #[test]
    fn graph_drops_samples_outside_its_window_and_escapes_labels() {
        let points = vec![(NOW - 2 * HOUR, 1e9), (NOW - MINUTE, 10.0), (NOW, 20.0)];
        let label = r#"<b>"in" & 'out'</b>"#;
        let svg = graph_window(
            &[series(label, points)],
            Window::last_hour(NOW),
            400,
            150,
            "/s",
        );
        assert_well_formed(&svg);
        assert!(
            svg.contains(">20/s</text>"),
            "scaled to the visible peak: {svg}"
        );
        assert!(svg.contains("&lt;b&gt;&quot;in&quot; &amp; &#39;out&#39;&lt;/b&gt;"));
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn graph_without_a_window_spans_its_samples() {
        let points = vec![(NOW - 10 * MINUTE, 1.0), (NOW, 2.0)];
        let svg = graph(&[series("a", points)], 600, 200, "");
        assert!(
            svg.contains(">-10 min</text>") && svg.contains(">now</text>"),
            "{svg}"
        );
    }

    #[test]
    fn output_is_deterministic() {
        let make = || {
            graph_window(
                &[
                    series("new", hour(|i| (i % 7) as f64)),
                    series("active", hour(|i| (i % 11) as f64 * 1.5)),
                ],
                Window::last_hour(NOW),
                640,
                220,
                "conn/s",
            )
        };
        let svg = make();
        assert_well_formed(&svg);
        assert_eq!(svg, make());
        assert!(svg.contains(r#"class="series series-1""#) && svg.contains("stroke-dasharray"));
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The cluster page draws 50 of these; an hour of minutes must stay small for the page
    /// to stay under its 200 KB goal.
    #[test]
    fn an_hour_sparkline_stays_under_a_kilobyte() {
        let values: Vec<f64> = (0..60)
            .map(|i| f64::from(i * 7919 % 1000) * 1.37e6)
            .collect();
        let svg = sparkline(&values, 120, 24);
        assert!(svg.len() < 1024, "{} bytes: {svg}", svg.len());
    }
}

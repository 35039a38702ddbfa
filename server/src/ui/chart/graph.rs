//! A time graph: axes, a legend, a line per series broken where samples are missing, and a
//! summary for screen readers.

use std::fmt::Write;

use askama::Template;

use super::layout::{
    self, Frame, LegendEntry, Line, Point, XTick, YLabel, CHAR_WIDTH, FONT_SIZE, TEXT,
};
use super::path::Coord;
use super::scale::{duration, nice_scale};
use super::{Series, Window};
use crate::ui::format::number;

/// A graph laid out, drawn by `_graph.svg`.
#[derive(Debug, Template)]
#[template(path = "_graph.svg")]
pub struct Graph {
    width: u32,
    height: u32,
    /// The span and each series' latest and peak, for screen readers.
    title: String,
    font_size: Coord,
    text_fill: &'static str,
    y_labels: Vec<YLabel>,
    x_ticks: Vec<XTick>,
    legend: Vec<LegendEntry>,
    /// Where "No data" is written when no series has a value to draw.
    no_data: Option<Point>,
    lines: Vec<Line>,
}

/// The template escapes every text it writes, so a page may embed its output as it is.
impl askama::filters::HtmlSafe for Graph {}

/// A time graph of `series` from their oldest sample to their newest (labelled "now"). For
/// a live page prefer [`graph_window`] with [`Window::last_hour`], whose "now" is true even
/// when the samples stopped.
pub fn graph(series: &[Series], width: u32, height: u32, y_unit: &str) -> Graph {
    graph_window(series, Window::spanning(series), width, height, y_unit)
}

/// A line graph of `series` over `window`: y from 0 to a round maximum with a few labels in
/// `y_unit` ("conn/s", "B/s": bytes get SI prefixes, "3.4 MB/s"), x labelled back from
/// "now" ("-30 min"), a legend, and a `<title>` that sums the graph up for screen readers.
pub fn graph_window(
    series: &[Series],
    window: Window,
    width: u32,
    height: u32,
    y_unit: &str,
) -> Graph {
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
    let y_values: Vec<(f64, String)> = (0..)
        .map(|i| f64::from(i) * y_step)
        .take_while(|v| *v <= y_top * (1.0 + 1e-9))
        .map(|v| (v, number(v, y_unit)))
        .collect();
    let widest = y_values.iter().map(|l| l.1.chars().count()).max();
    let frame = Frame {
        start,
        span,
        y_top,
        left: (widest.unwrap_or(1) as f64 * CHAR_WIDTH + 10.0).round(),
        right: w - 12.0,
        top: 24.0,
        bottom: h - 20.0,
    };
    Graph {
        width,
        height,
        title: summary(series, &visible, span, y_unit),
        font_size: Coord(FONT_SIZE),
        text_fill: TEXT,
        y_labels: layout::y_labels(&frame, y_values),
        x_ticks: layout::x_ticks(&frame),
        legend: layout::legend(series, frame.left),
        no_data: values().next().is_none().then(|| frame.centre()),
        lines: visible
            .iter()
            .enumerate()
            .map(|(i, points)| layout::line(&frame, i, points))
            .collect(),
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

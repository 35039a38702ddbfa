//! Where a graph's parts go: the plot area, the axes' labels, the legend and the lines.

use super::path::{gap_after, Coord, Path};
use super::scale::{time_label, time_step};
use super::Series;

/// Series colours, told apart by dash pattern as well, for readers who cannot tell blue
/// from orange.
const STROKES: [(&str, Option<&str>); 4] = [
    ("#2458b3", None),
    ("#c2560a", Some("6 3")),
    ("#6b3fa0", Some("2 3")),
    ("#1a7f5a", Some("9 3 2 3")),
];
const GRID: &str = "#e3e6ea";
const AXIS: &str = "#9aa3ad";
pub(super) const TEXT: &str = "#5b6470";
pub(super) const FONT_SIZE: f64 = 11.0;
/// A generous average glyph width at [`FONT_SIZE`], to leave room for labels.
pub(super) const CHAR_WIDTH: f64 = 6.5;

/// Where a graph's plot area lies and how times and values map into it.
pub(super) struct Frame {
    pub(super) start: i64,
    pub(super) span: i64,
    pub(super) y_top: f64,
    pub(super) left: f64,
    pub(super) right: f64,
    pub(super) top: f64,
    pub(super) bottom: f64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        self.left + (t - self.start) as f64 / self.span as f64 * (self.right - self.left)
    }

    fn y(&self, v: f64) -> f64 {
        let share = v.max(0.0).min(self.y_top) / self.y_top;
        self.bottom - share * (self.bottom - self.top)
    }

    /// The middle of the plot.
    pub(super) fn centre(&self) -> Point {
        Point {
            x: Coord((self.left + self.right) / 2.0),
            y: Coord((self.top + self.bottom) / 2.0),
        }
    }
}

/// A place in the graph, for a note such as "No data".
#[derive(Debug)]
pub(super) struct Point {
    pub(super) x: Coord,
    pub(super) y: Coord,
}

/// A value on the y axis: its grid line across the plot and its label to the left.
#[derive(Debug)]
pub(super) struct YLabel {
    pub(super) left: Coord,
    pub(super) right: Coord,
    pub(super) y: Coord,
    pub(super) stroke: &'static str,
    pub(super) text_x: Coord,
    pub(super) text_y: Coord,
    pub(super) text: String,
}

/// A time on the x axis: its tick below the plot and its label.
#[derive(Debug)]
pub(super) struct XTick {
    pub(super) x: Coord,
    pub(super) top: Coord,
    pub(super) bottom: Coord,
    pub(super) stroke: &'static str,
    pub(super) text_x: Coord,
    pub(super) text_y: Coord,
    pub(super) anchor: &'static str,
    pub(super) text: String,
}

/// A series' stroke and label in the legend above the plot.
#[derive(Debug)]
pub(super) struct LegendEntry {
    pub(super) x1: Coord,
    pub(super) x2: Coord,
    pub(super) colour: &'static str,
    pub(super) dash: Option<&'static str>,
    pub(super) text_x: Coord,
    pub(super) label: String,
}

/// A series as one path.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) index: usize,
    pub(super) d: String,
    pub(super) colour: &'static str,
    pub(super) dash: Option<&'static str>,
}

/// A grid line and a label at each of `values`, the zero line darker.
pub(super) fn y_labels(frame: &Frame, values: Vec<(f64, String)>) -> Vec<YLabel> {
    values
        .into_iter()
        .map(|(value, text)| {
            let y = frame.y(value);
            YLabel {
                left: Coord(frame.left),
                right: Coord(frame.right),
                y: Coord(y),
                stroke: if value == 0.0 { AXIS } else { GRID },
                text_x: Coord(frame.left - 6.0),
                text_y: Coord(y + FONT_SIZE / 3.0),
                text,
            }
        })
        .collect()
}

/// Ticks counted back from the window's end ("now"), a round time apart.
pub(super) fn x_ticks(frame: &Frame) -> Vec<XTick> {
    let end = frame.start + frame.span;
    let max_intervals = ((frame.right - frame.left) / 90.0).clamp(2.0, 6.0) as i64;
    let step = time_step(frame.span, max_intervals);
    (0..=frame.span / step)
        .map(|i| {
            let back = i * step;
            let x = frame.x(end - back);
            // "now" ends at the right edge, where a centred label would be cut off.
            let (anchor, text_x) = if back == 0 {
                ("end", x + 6.0)
            } else {
                ("middle", x)
            };
            XTick {
                x: Coord(x),
                top: Coord(frame.bottom),
                bottom: Coord(frame.bottom + 4.0),
                stroke: AXIS,
                text_x: Coord(text_x),
                text_y: Coord(frame.bottom + 4.0 + FONT_SIZE),
                anchor,
                text: time_label(back, step),
            }
        })
        .collect()
}

/// Each series' stroke and label in a row, from `left`.
pub(super) fn legend(series: &[Series], left: f64) -> Vec<LegendEntry> {
    let mut x = left;
    let mut entries = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let (colour, dash) = STROKES[i % STROKES.len()];
        entries.push(LegendEntry {
            x1: Coord(x),
            x2: Coord(x + 18.0),
            colour,
            dash,
            text_x: Coord(x + 22.0),
            label: s.label.clone(),
        });
        x += 22.0 + s.label.chars().count() as f64 * CHAR_WIDTH + 16.0;
    }
    entries
}

/// Series number `index`, its pen lifted where a sample is missing.
pub(super) fn line(frame: &Frame, index: usize, points: &[(i64, f64)]) -> Line {
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
    Line {
        index,
        d: path.finish(),
        colour,
        dash,
    }
}

//! Charts drawn on the server as inline SVG, so pages need no charting script and work
//! without JavaScript. Here the numbers are laid out; the markup is in
//! `web/templates/_sparkline.svg` and `_graph.svg`, where askama escapes every text.
//!
//! Colours and dashes are set as presentation attributes, so a chart reads the same where
//! `app.css` is missing; the stylesheet's `.spark` and `.chart` rules may override them.

mod graph;
mod layout;
mod path;
mod scale;
mod sparkline;
#[cfg(test)]
mod tests;

pub use graph::{graph, graph_window, Graph};
pub use sparkline::{sparkline, sparkline_with_unit, Sparkline};

use scale::HOUR;

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

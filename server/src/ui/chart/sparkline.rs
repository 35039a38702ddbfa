//! A small line for a table cell or a card.

use askama::Template;

use super::path::Path;
use crate::ui::format::number;

/// A line of values scaled to its own maximum, drawn by `_sparkline.svg`.
#[derive(Debug, Template)]
#[template(path = "_sparkline.svg")]
pub struct Sparkline {
    width: u32,
    height: u32,
    /// What a screen reader says: the last value, or that there is none.
    label: String,
    d: String,
}

/// The template escapes every text it writes, so a page may embed its output as it is.
impl askama::filters::HtmlSafe for Sparkline {}

/// A small line of `values` (oldest first) for a table cell or card, scaled to its own
/// maximum, labelled for screen readers with the last value. Negative values sit on the
/// baseline; non-finite ones are gaps; no data or only zeros draws a flat baseline.
pub fn sparkline(values: &[f64], width: u32, height: u32) -> Sparkline {
    sparkline_with_unit(values, width, height, "")
}

/// [`sparkline`] whose label gives the unit of its values: "last value 123/s".
pub fn sparkline_with_unit(values: &[f64], width: u32, height: u32, unit: &str) -> Sparkline {
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
    Sparkline {
        width,
        height,
        label,
        d: path.finish(),
    }
}

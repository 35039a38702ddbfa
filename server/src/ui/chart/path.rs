//! Coordinates and path data, the numbers a chart's markup is drawn with.

use std::fmt::{self, Write};

/// An SVG coordinate, written with one decimal and without a trailing ".0".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Coord(pub(super) f64);

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.1}", self.0);
        match text.strip_suffix(".0") {
            Some(whole) if whole != "-0" => f.write_str(whole),
            Some(_) => f.write_str("0"),
            None => f.write_str(&text),
        }
    }
}

/// The `d` of an SVG path drawn point by point, its pen lifted over gaps.
#[derive(Default)]
pub(super) struct Path {
    d: String,
    /// Points since the pen last went down.
    run: usize,
}

impl Path {
    pub(super) fn to(&mut self, (x, y): (f64, f64)) {
        let command = if self.run == 0 { 'M' } else { 'L' };
        let _ = write!(self.d, "{command}{},{}", Coord(x), Coord(y));
        self.run += 1;
    }

    pub(super) fn lift(&mut self) {
        // A lone sample between gaps would draw nothing; a zero-length segment with round
        // caps draws it as a dot.
        if self.run == 1 {
            self.d.push_str("h0");
        }
        self.run = 0;
    }

    pub(super) fn finish(mut self) -> String {
        self.lift();
        self.d
    }
}

/// The time after a sample beyond which the next one is missing: half again the series'
/// usual interval (its median), so one lost sample already shows.
pub(super) fn gap_after(points: &[(i64, f64)]) -> i64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_have_one_decimal_and_no_negative_zero() {
        let cases = [
            (3.0, "3"),
            (2.25, "2.2"),
            (19.96, "20"),
            (-0.04, "0"),
            (-1.5, "-1.5"),
        ];
        for (value, text) in cases {
            assert_eq!(Coord(value).to_string(), text, "{value}");
        }
    }
}

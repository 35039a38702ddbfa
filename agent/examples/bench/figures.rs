//! The benchmark's figures: samples summarised as percentiles, and the table of results
//! with their goals, printed as each figure is known and again at the end.

use std::time::Duration;

/// The `p`th percentile (nearest rank) of `samples`.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50.0)
}

/// `12.3 ms`, `1.23 s`, `456 us`.
pub fn show(d: Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.001 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} us", seconds * 1e6)
    }
}

#[derive(Debug)]
struct Row {
    what: String,
    figure: String,
    /// The goal and whether it was met; `None` for figures shown for information.
    goal: Option<(String, bool)>,
}

/// Every figure of the run.
#[derive(Debug, Default)]
pub struct Figures {
    rows: Vec<Row>,
}

impl Figures {
    /// A figure without a goal.
    pub fn info(&mut self, what: &str, figure: String) {
        self.add(Row {
            what: what.to_owned(),
            figure,
            goal: None,
        });
    }

    /// A figure held to a goal.
    pub fn goal(&mut self, what: &str, figure: String, goal: &str, met: bool) {
        self.add(Row {
            what: what.to_owned(),
            figure,
            goal: Some((goal.to_owned(), met)),
        });
    }

    pub fn missed(&self) -> usize {
        self.rows
            .iter()
            .filter(|row| matches!(row.goal, Some((_, false))))
            .count()
    }

    /// The whole table.
    pub fn print(&self) {
        println!();
        println!("== lvs-agent benchmark: all figures");
        for row in &self.rows {
            println!("{}", line(row));
        }
    }

    fn add(&mut self, row: Row) {
        println!("{}", line(&row));
        self.rows.push(row);
    }
}

fn line(row: &Row) -> String {
    let goal = match &row.goal {
        None => String::new(),
        Some((goal, met)) => format!("  goal: {goal}  {}", if *met { "MET" } else { "MISSED" }),
    };
    format!("{:<58} {:<34}{goal}", row.what, row.figure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&samples[..1], 99.0), Duration::from_millis(100));
    }
}

//! The time a page's graphs show (`?range=6h`), and the history resolution drawing it: the
//! finest one that covers the range.

use axum::http::StatusCode;

use super::chart::Window;
use super::error::{UiError, UiResult};
use crate::agents::stats::Resolution;

const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GraphRange {
    #[default]
    Hour,
    SixHours,
    Day,
    Week,
}

impl GraphRange {
    pub const ALL: [GraphRange; 4] = [
        GraphRange::Hour,
        GraphRange::SixHours,
        GraphRange::Day,
        GraphRange::Week,
    ];

    /// The graph range of a query string: `range=1h` (the default), `6h`, `24h` or `7d`.
    pub fn from_query(raw: Option<&str>) -> UiResult<GraphRange> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
        let Some((_, value)) = pairs.iter().find(|(name, _)| name == "range") else {
            return Ok(GraphRange::default());
        };
        GraphRange::ALL
            .into_iter()
            .find(|r| r.value() == value.trim())
            .ok_or_else(|| {
                UiError::Status(
                    StatusCode::BAD_REQUEST,
                    format!("Range: must be 1h, 6h, 24h or 7d, not \"{value}\"."),
                )
            })
    }

    /// As written in the query string.
    pub fn value(self) -> &'static str {
        match self {
            GraphRange::Hour => "1h",
            GraphRange::SixHours => "6h",
            GraphRange::Day => "24h",
            GraphRange::Week => "7d",
        }
    }

    /// As a link's text.
    pub fn label(self) -> &'static str {
        match self {
            GraphRange::Hour => "1 h",
            GraphRange::SixHours => "6 h",
            GraphRange::Day => "24 h",
            GraphRange::Week => "7 d",
        }
    }

    /// What a graph's caption says it shows.
    pub fn caption(self) -> &'static str {
        match self {
            GraphRange::Hour => "last hour",
            GraphRange::SixHours => "last 6 hours",
            GraphRange::Day => "last 24 hours",
            GraphRange::Week => "last 7 days",
        }
    }

    pub fn span_millis(self) -> i64 {
        match self {
            GraphRange::Hour => HOUR,
            GraphRange::SixHours => 6 * HOUR,
            GraphRange::Day => 24 * HOUR,
            GraphRange::Week => 7 * 24 * HOUR,
        }
    }

    /// The finest history covering the range: 10 s for an hour, minutes up to a day.
    pub fn resolution(self) -> Resolution {
        match self {
            GraphRange::Hour => Resolution::Fine,
            GraphRange::SixHours | GraphRange::Day => Resolution::Coarse,
            GraphRange::Week => Resolution::Week,
        }
    }

    /// The range up to `now_ms`.
    pub fn window(self, now_ms: i64) -> Window {
        Window {
            end_ms: now_ms,
            span_ms: self.span_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_read_from_the_query_or_refused_naming_the_field() {
        let read = |raw: Option<&str>| GraphRange::from_query(raw).map_err(|e| e.to_string());
        assert_eq!(read(None), Ok(GraphRange::Hour));
        assert_eq!(read(Some("tab=x")), Ok(GraphRange::Hour));
        assert_eq!(read(Some("range=7d")), Ok(GraphRange::Week));
        assert_eq!(read(Some("a=1&range=24h")), Ok(GraphRange::Day));
        assert_eq!(
            read(Some("range=2h")),
            Err("Range: must be 1h, 6h, 24h or 7d, not \"2h\".".to_owned())
        );
        for range in GraphRange::ALL {
            let query = format!("range={}", range.value());
            assert_eq!(read(Some(&query)), Ok(range));
        }
    }

    #[test]
    fn each_range_uses_the_finest_history_that_covers_it() {
        let store =
            crate::agents::stats::StatsStore::new(crate::agents::STATS_INTERVAL).expect("a store");
        let covered = |r: Resolution| store.step_millis(r) * r.points() as i64;
        for range in GraphRange::ALL {
            let chosen = range.resolution();
            assert!(covered(chosen) >= range.span_millis(), "{range:?}");
            for finer in Resolution::ALL.into_iter().take_while(|r| *r != chosen) {
                assert!(covered(finer) < range.span_millis(), "{range:?} {finer:?}");
            }
        }
    }
}

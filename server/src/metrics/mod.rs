//! `GET /metrics` in the Prometheus text format: the API's requests ([`requests`]), each
//! director's sync state and generations ([`directors`]), and the IPVS counters of the
//! agents' latest statistics under node_exporter's names and labels ([`ipvs`]; the backend
//! series in `backends.rs`), broken down no finer than `--metrics-detail`.
//!
//! This module only renders: the caller gathers a [`Scrape`] (short reads of the database
//! and of the agents' in-memory state) and hands it to [`Metrics::render`] on the metrics'
//! own low-priority thread ([`Metrics::off_api`]), which hands the text over in pieces as
//! it writes them. A scrape never holds a lock the API needs while it formats.

mod backends;
pub mod directors;
pub mod ipvs;
pub mod requests;
pub mod weights;

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;

use lvs_model::agent::StatsReport;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder};
use prometheus_client::registry::Registry;

pub use crate::config::MetricsDetail;
use crate::low_priority::LowPriority;
pub use directors::DirectorSample;
use requests::Requests;
pub use weights::{Weights, WeightsCache};

/// The `Content-Type` of a scrape: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The server's metrics: the request families it updates as it answers, and how finely
/// scrapes break down IPVS statistics.
#[derive(Debug)]
pub struct Metrics {
    detail: MetricsDetail,
    registry: Registry,
    pub requests: Requests,
    pub weights: WeightsCache,
    /// Where scrapes are rendered: a thread of their own, so a slow scraper holds up
    /// neither the API nor the statistics' ingestion, only the next scrape.
    bulk: LowPriority,
}

/// One director's latest statistics report, with what its labels and weights need.
#[derive(Debug, Clone)]
pub struct Reported {
    pub cluster: Arc<str>,
    pub director: String,
    pub report: Arc<StatsReport>,
    /// The desired weight of each real server of the director's cluster.
    pub weights: Arc<Weights>,
}

/// What one scrape shows besides the request families, gathered by the caller.
#[derive(Debug, Default)]
pub struct Scrape {
    pub directors: Vec<DirectorSample>,
    pub reported: Vec<Reported>,
}

impl Metrics {
    pub fn new(detail: MetricsDetail) -> anyhow::Result<Metrics> {
        let mut registry = Registry::default();
        let requests = Requests::register(&mut registry);
        Ok(Metrics {
            detail,
            registry,
            requests,
            weights: WeightsCache::default(),
            bulk: LowPriority::new("metrics", 1)?,
        })
    }

    /// Runs `work` (rendering, indexing weights) on the metrics' thread, at the lowest
    /// priority.
    pub async fn off_api<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        self.bulk.run(work).await
    }

    pub fn detail(&self) -> MetricsDetail {
        self.detail
    }

    /// Renders the scrape, handing its text to `sink` in pieces of about [`PIECE`] bytes,
    /// in order, so the first go out while the rest is written; stops early when `sink`
    /// breaks (the scraper has gone). Its cost is proportional to the series it writes:
    /// run it off the API's threads.
    pub fn render(
        &self,
        scrape: Scrape,
        sink: &mut dyn FnMut(String) -> Flow,
    ) -> Result<(), fmt::Error> {
        let mut pieces = Pieces::new(sink);
        prometheus_text::encode(&mut pieces.text, &self.registry)?;
        // The registry wants its collectors to own what they show.
        let scrape = Arc::new(scrape);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ScrapeCollector(scrape.clone())));
        prometheus_text::encode(&mut pieces.text, &registry)?;
        // The last piece; whether its reader is still there no longer matters.
        if backends::write(&mut pieces, &scrape.reported, self.detail).is_continue() {
            let _ = pieces.hand_over();
        }
        Ok(())
    }
}

/// Whether the reader of the pieces is still there.
pub type Flow = ControlFlow<()>;

/// About how much text is handed over at a time.
pub const PIECE: usize = 1 << 20;

/// The text being written and where each full piece goes.
pub(crate) struct Pieces<'s> {
    text: String,
    sink: &'s mut dyn FnMut(String) -> Flow,
}

impl<'s> Pieces<'s> {
    fn new(sink: &'s mut dyn FnMut(String) -> Flow) -> Self {
        Pieces {
            text: String::with_capacity(PIECE + PIECE / 8),
            sink,
        }
    }

    /// Hands the text over once it holds a piece.
    fn hand_over_when_full(&mut self) -> Flow {
        if self.text.len() >= PIECE {
            return self.hand_over();
        }
        Flow::Continue(())
    }

    fn hand_over(&mut self) -> Flow {
        let full = std::mem::replace(&mut self.text, String::with_capacity(PIECE + PIECE / 8));
        (self.sink)(full)
    }
}

/// Writes a [`Scrape`]'s families but the backends'.
#[derive(Debug)]
struct ScrapeCollector(Arc<Scrape>);

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        directors::encode(&mut encoder, &self.0.directors)?;
        ipvs::encode(&mut encoder, &self.0.reported)
    }
}

#[cfg(test)]
mod tests {
    use lvs_model::agent::{Counters, Rates, RealServerStats, ServiceStats, StatsReport};

    use super::*;

    /// A director reporting `services` services of 10 real servers.
    fn scrape(services: usize) -> Scrape {
        let server = |i: usize| RealServerStats {
            key: format!("10.1.{}.{}:8080", i / 256 % 256, i % 256),
            active_connections: 1,
            inactive_connections: 2,
            persistent_connections: 0,
            counters: Counters::default(),
            rates: Rates::default(),
        };
        let services = (0..services)
            .map(|s| ServiceStats {
                key: format!("tcp:10.0.{}.{}:80", s / 256, s % 256),
                counters: Counters::default(),
                rates: Rates::default(),
                real_servers: (0..10).map(|r| server(s * 10 + r)).collect(),
            })
            .collect();
        Scrape {
            directors: Vec::new(),
            reported: vec![Reported {
                cluster: Arc::from("web"),
                director: "lb1".to_owned(),
                report: Arc::new(StatsReport { services }),
                weights: Arc::default(),
            }],
        }
    }

    fn pieces(metrics: &Metrics, scrape: Scrape, keep: usize) -> Vec<String> {
        let mut pieces = Vec::new();
        let mut sink = |piece: String| {
            pieces.push(piece);
            if pieces.len() < keep {
                Flow::Continue(())
            } else {
                Flow::Break(())
            }
        };
        metrics.render(scrape, &mut sink).unwrap();
        pieces
    }

    #[test]
    fn a_big_scrape_is_handed_over_in_pieces_and_stops_when_its_reader_goes() {
        let metrics = Metrics::new(MetricsDetail::RealServer).unwrap();
        // 3 families x 30,000 lines of about 170 bytes: several pieces.
        let whole = pieces(&metrics, scrape(3000), usize::MAX);
        assert!(whole.len() > 3, "{} pieces", whole.len());
        assert!(whole.iter().all(|p| p.len() < 2 * PIECE));
        let text = whole.concat();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("node_ipvs_backend_"))
                .count(),
            90_000
        );
        assert!(
            text.ends_with(" 0\n"),
            "the weights come last, 0 for unknown servers"
        );
        // A reader that leaves after two pieces is handed no more.
        assert_eq!(pieces(&metrics, scrape(3000), 2).len(), 2);
    }
}

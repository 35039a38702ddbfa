//! `GET /metrics` in the Prometheus text format: the API's requests ([`requests`]), each
//! director's sync state and generations ([`directors`]), and the IPVS counters of the
//! agents' latest statistics under node_exporter's names and labels ([`ipvs`]), broken down
//! no finer than `--metrics-detail`.
//!
//! This module only renders: the caller gathers a [`Scrape`] (short reads of the database
//! and of the agents' in-memory state) and hands it to [`Metrics::render`] on a thread that
//! is not the API's, so a scrape never holds a lock the API needs while it formats.

mod backends;
pub mod directors;
pub mod ipvs;
pub mod requests;
pub mod weights;

use std::fmt;
use std::sync::Arc;

use lvs_model::agent::StatsReport;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder};
use prometheus_client::registry::Registry;

pub use crate::config::MetricsDetail;
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
    pub fn new(detail: MetricsDetail) -> Metrics {
        let mut registry = Registry::default();
        let requests = Requests::register(&mut registry);
        Metrics {
            detail,
            registry,
            requests,
            weights: WeightsCache::default(),
        }
    }

    pub fn detail(&self) -> MetricsDetail {
        self.detail
    }

    /// The scrape's text. Its cost is proportional to the series it writes; run it off the
    /// API's threads.
    pub fn render(&self, scrape: Scrape) -> Result<String, fmt::Error> {
        let mut text = String::with_capacity(self.estimated_size(&scrape));
        prometheus_text::encode(&mut text, &self.registry)?;
        // The registry wants its collectors to own what they show.
        let scrape = Arc::new(scrape);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ScrapeCollector(scrape.clone())));
        prometheus_text::encode(&mut text, &registry)?;
        backends::write(&mut text, &scrape.reported, self.detail);
        Ok(text)
    }

    /// About the scrape's length, so the text is not copied as it grows.
    fn estimated_size(&self, scrape: &Scrape) -> usize {
        let backends: usize = match self.detail {
            MetricsDetail::RealServer => scrape
                .reported
                .iter()
                .flat_map(|r| &r.report.services)
                .map(|s| s.real_servers.len())
                .sum(),
            MetricsDetail::Service => scrape
                .reported
                .iter()
                .map(|r| r.report.services.len())
                .sum(),
            MetricsDetail::Cluster => scrape.reported.len(),
        };
        64 * 1024 + backends * 3 * 200
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

//! Each director's sync state, generations and when its agent was last seen, labelled
//! `cluster` and `director`.

use std::fmt;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// The values of the `state` label of `lvs_director_sync_state`, as the API spells them.
pub const SYNC_STATES: [&str; 5] = ["in_sync", "unmanaged", "behind", "error", "never_seen"];

/// One director as a scrape shows it.
#[derive(Debug, Clone)]
pub struct DirectorSample {
    pub cluster: String,
    pub director: String,
    /// One of [`SYNC_STATES`].
    pub sync: &'static str,
    pub online: bool,
    pub applied_generation: Option<u64>,
    /// Its cluster's current generation.
    pub desired_generation: u64,
    /// Unix milliseconds.
    pub last_seen: Option<i64>,
}

impl DirectorSample {
    fn labels(&self) -> [(&str, &str); 2] {
        [("cluster", &self.cluster), ("director", &self.director)]
    }
}

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    directors: &[DirectorSample],
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "lvs_director_sync_state",
        "1 for the director's sync state (in_sync, unmanaged, behind, error, never_seen), 0 for the others",
        None,
        MetricType::Gauge,
    )?;
    for director in directors {
        for state in SYNC_STATES {
            let [cluster, name] = director.labels();
            let labels = [cluster, name, ("state", state)];
            ConstGauge::new(i64::from(director.sync == state))
                .encode(family.encode_family(&labels)?)?;
        }
    }
    gauge(
        encoder,
        "lvs_director_online",
        "1 while the director's agent was seen within the online threshold",
        directors,
        |d| Some(i64::from(d.online)),
    )?;
    gauge(
        encoder,
        "lvs_director_applied_generation",
        "The generation the director's agent last applied completely",
        directors,
        |d| d.applied_generation.map(saturating_i64),
    )?;
    gauge(
        encoder,
        "lvs_director_desired_generation",
        "The current generation of the director's cluster, which it should hold",
        directors,
        |d| Some(saturating_i64(d.desired_generation)),
    )?;
    gauge(
        encoder,
        "lvs_director_last_seen_timestamp_seconds",
        "When the director's agent last contacted the server, Unix seconds",
        directors,
        |d| d.last_seen.map(|ms| ms / 1000),
    )
}

/// A gauge per director that has a value.
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    directors: &[DirectorSample],
    value: impl Fn(&DirectorSample) -> Option<i64>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for director in directors {
        if let Some(value) = value(director) {
            ConstGauge::new(value).encode(family.encode_family(&director.labels())?)?;
        }
    }
    Ok(())
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

//! The API's request counts and latencies by route. Labels come only from closed sets (the
//! router's patterns, a few methods, status codes), so no request can add a series of its
//! own: a path no route matches counts as route `unmatched`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets in seconds: reads take milliseconds, agents' long-polls up to 120 s.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0,
    120.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CountLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LatencyLabels {
    method: &'static str,
    route: String,
    /// `2xx`, `4xx`...: the code itself would multiply the histograms' buckets.
    status_class: &'static str,
}

/// The request families, registered once.
#[derive(Debug)]
pub struct Requests {
    count: Family<CountLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
}

impl Requests {
    pub(super) fn register(registry: &mut Registry) -> Requests {
        let count = Family::<CountLabels, Counter>::default();
        let latency: Family<LatencyLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(BUCKETS));
        registry.register(
            "lvs_http_requests",
            "Requests answered, by method, route pattern and status code",
            count.clone(),
        );
        registry.register(
            "lvs_http_request_duration_seconds",
            "Time to answer a request, by method, route pattern and status class",
            latency.clone(),
        );
        Requests { count, latency }
    }

    /// Counts one answered request: `route` is the router's pattern (`None`: no route
    /// matched).
    pub fn observe(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = known_method(method);
        let route = route.unwrap_or(UNMATCHED).to_owned();
        self.latency
            .get_or_create(&LatencyLabels {
                method,
                route: route.clone(),
                status_class: status_class(status),
            })
            .observe(took.as_secs_f64());
        self.count
            .get_or_create(&CountLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

/// The methods the server serves; any other counts as `other`.
fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

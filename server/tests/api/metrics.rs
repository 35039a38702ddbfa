//! `GET /metrics`: who may scrape it, each `--metrics-detail`'s series and labels, the
//! directors' series, the request families, the Grafana dashboard's metrics, and
//! `promtool check metrics` on a real scrape.

use std::collections::{BTreeMap, BTreeSet};

use lvs_server::config::MetricsDetail;
use lvs_server::ServeOptions;
use serde_json::{json, Value};

use crate::helpers::*;

/// The dashboard whose expressions must name only metrics a scrape has.
const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../contrib/grafana/lvs-fleet.json"
);

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape in the text format (label values here never hold `"` or `,`).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (key, value) = l.split_once('=').expect("a label");
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a value"),
            }
        })
        .collect()
}

async fn scrape(app: &TestApp) -> String {
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert_eq!(
        resp.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    resp.text
}

/// The samples named `name` whose labels include every one of `labels`.
fn find<'s>(samples: &'s [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'s Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

#[track_caller]
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, labels);
    assert_eq!(found.len(), 1, "one {name} with {labels:?}: {found:?}");
    found[0].value
}

/// Statistics of service tcp:10.0.0.1:80 with real servers 10.1.0.1:80 (3 active) and
/// 10.1.0.2:80 (4 active), and of fwmark service 42 (not in the desired state).
fn stats() -> Value {
    let counters = json!({"connections": 1000, "packets_in": 5000, "packets_out": 4000,
                          "bytes_in": 600_000, "bytes_out": 900_000});
    let server = |key: &str, active: u64| {
        json!({"key": key, "active_connections": active, "inactive_connections": 1,
               "persistent_connections": 0, "counters": counters, "rates": counters})
    };
    json!({"services": [
        {"key": "tcp:10.0.0.1:80", "counters": counters, "rates": counters,
         "real_servers": [server("10.1.0.1:80", 3), server("10.1.0.2:80", 4)]},
        {"key": "fwmark:42:ipv4", "counters": counters, "rates": counters,
         "real_servers": [server("10.1.0.9:0", 5)]},
    ]})
}

/// A server with this detail, cluster `web` (one service, two real servers) and director
/// `lb1` whose agent reported [`stats`] and applying the current generation.
async fn reported(detail: MetricsDetail) -> TestApp {
    let app = TestApp::spawn_with_options(ServeOptions {
        metrics_detail: detail,
        ..ServeOptions::default()
    })
    .await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.agent_post(AGENT_STATS, &token, &stats())
        .await
        .expect(204);
    let generation = app.generation("web").await;
    app.agent_report(&token, &apply_report(generation, &[]))
        .await;
    app
}

#[tokio::test]
async fn metrics_need_a_viewer_token() {
    let app = TestApp::spawn().await;
    let anonymous = app.anonymous().get(app.url("/metrics")).send().await;
    read(anonymous.expect("an answer"))
        .await
        .problem(401, "unauthorized");
    let issued = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "prometheus", "role": "viewer", "service_account": "prometheus"}),
        )
        .await;
    let token = issued.expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let resp = app
        .anonymous()
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("an answer");
    let resp = read(resp).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    assert!(resp.text.contains("# TYPE lvs_http_requests_total counter"));
}

#[tokio::test]
async fn metrics_at_real_server_detail_are_node_exporters_backend_series() {
    let app = reported(MetricsDetail::RealServer).await;
    let scraped = samples(&scrape(&app).await);
    let ours = [("cluster", "web"), ("director", "lb1")];
    let backend = |remote: &'static str| {
        let mut labels = ours.to_vec();
        labels.extend([
            ("local_address", "10.0.0.1"),
            ("local_port", "80"),
            ("remote_address", remote),
            ("remote_port", "80"),
            ("proto", "TCP"),
            ("local_mark", ""),
        ]);
        labels
    };
    let active = "node_ipvs_backend_connections_active";
    assert_eq!(value(&scraped, active, &backend("10.1.0.1")), 3.0);
    assert_eq!(value(&scraped, active, &backend("10.1.0.2")), 4.0);
    let inactive = "node_ipvs_backend_connections_inactive";
    assert_eq!(value(&scraped, inactive, &backend("10.1.0.2")), 1.0);
    assert_eq!(
        value(&scraped, "node_ipvs_backend_weight", &backend("10.1.0.1")),
        1.0
    );
    // node_exporter's fwmark backend: no local address, port 0, the mark in hex.
    let mark = [
        ("local_address", ""),
        ("local_port", "0"),
        ("remote_address", "10.1.0.9"),
        ("remote_port", "0"),
        ("proto", "FWM"),
        ("local_mark", "0000002A"),
    ];
    assert_eq!(value(&scraped, active, &mark), 5.0);
    // Not in the desired state: being drained, weight 0.
    assert_eq!(value(&scraped, "node_ipvs_backend_weight", &mark), 0.0);
    // Every label of node_exporter and ours, nothing else.
    for sample in find(&scraped, active, &[]) {
        let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cluster",
                "director",
                "local_address",
                "local_mark",
                "local_port",
                "proto",
                "remote_address",
                "remote_port"
            ]
        );
    }
    assert_eq!(
        value(&scraped, "node_ipvs_connections_total", &ours),
        2000.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_incoming_packets_total", &ours),
        10_000.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_outgoing_packets_total", &ours),
        8000.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_incoming_bytes_total", &ours),
        1_200_000.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_outgoing_bytes_total", &ours),
        1_800_000.0
    );

    // A drained real server's weight is 0 from the generation that drained it.
    let service = id(&app.all_services("web").await[0]);
    let servers = app.get(&real_servers("web", service)).await;
    let first = id(&servers.expect(200)["items"][0]);
    app.post_empty(
        &format!("{}/drain", real_server_path("web", service, first)),
        None,
    )
    .await
    .expect(200);
    let scraped = samples(&scrape(&app).await);
    assert_eq!(
        value(&scraped, "node_ipvs_backend_weight", &backend("10.1.0.1")),
        0.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_backend_weight", &backend("10.1.0.2")),
        1.0
    );
}

#[tokio::test]
async fn metrics_at_service_detail_sum_each_services_real_servers() {
    let app = reported(MetricsDetail::Service).await;
    let scraped = samples(&scrape(&app).await);
    let active = find(&scraped, "node_ipvs_backend_connections_active", &[]);
    assert_eq!(active.len(), 2, "one series per service: {active:?}");
    let service = [
        ("local_address", "10.0.0.1"),
        ("proto", "TCP"),
        ("director", "lb1"),
    ];
    assert_eq!(
        value(&scraped, "node_ipvs_backend_connections_active", &service),
        7.0
    );
    assert_eq!(
        value(&scraped, "node_ipvs_backend_connections_inactive", &service),
        2.0
    );
    assert_eq!(value(&scraped, "node_ipvs_backend_weight", &service), 2.0);
    for sample in active {
        let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "cluster",
                "director",
                "local_address",
                "local_mark",
                "local_port",
                "proto"
            ]
        );
    }
}

#[tokio::test]
async fn metrics_at_cluster_detail_sum_each_directors_backends() {
    let app = reported(MetricsDetail::Cluster).await;
    let scraped = samples(&scrape(&app).await);
    for name in [
        "node_ipvs_backend_connections_active",
        "node_ipvs_backend_connections_inactive",
        "node_ipvs_backend_weight",
        "node_ipvs_connections_total",
    ] {
        let found = find(&scraped, name, &[]);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        let keys: Vec<&str> = found[0].labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["cluster", "director"], "{name}");
    }
    assert_eq!(
        value(&scraped, "node_ipvs_backend_connections_active", &[]),
        12.0
    );
    assert_eq!(value(&scraped, "node_ipvs_backend_weight", &[]), 2.0);
}

#[tokio::test]
async fn metrics_show_each_directors_sync_state_and_generations() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let generation = app.generation("web").await;
    let lb1 = [("cluster", "web"), ("director", "lb1")];
    let state = |state: &'static str| [lb1[0], lb1[1], ("state", state)];

    let scraped = samples(&scrape(&app).await);
    assert_eq!(
        value(&scraped, "lvs_director_sync_state", &state("never_seen")),
        1.0
    );
    assert_eq!(
        value(&scraped, "lvs_director_sync_state", &state("in_sync")),
        0.0
    );
    assert_eq!(find(&scraped, "lvs_director_sync_state", &lb1).len(), 5);
    assert_eq!(
        value(&scraped, "lvs_director_desired_generation", &lb1),
        generation as f64
    );
    assert!(find(&scraped, "lvs_director_applied_generation", &lb1).is_empty());
    assert!(find(&scraped, "lvs_director_last_seen_timestamp_seconds", &lb1).is_empty());

    app.agent_report(&token, &apply_report(generation, &[]))
        .await;
    let scraped = samples(&scrape(&app).await);
    assert_eq!(
        value(&scraped, "lvs_director_sync_state", &state("in_sync")),
        1.0
    );
    assert_eq!(
        value(&scraped, "lvs_director_sync_state", &state("never_seen")),
        0.0
    );
    assert_eq!(
        value(&scraped, "lvs_director_applied_generation", &lb1),
        generation as f64
    );
    assert_eq!(value(&scraped, "lvs_director_online", &lb1), 1.0);
    let seen = value(&scraped, "lvs_director_last_seen_timestamp_seconds", &lb1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!((now - seen).abs() < 60.0, "last seen {seen}, now {now}");

    // A new generation leaves the director behind until it applies it.
    app.create_service("web", &tcp_service(443)).await;
    let scraped = samples(&scrape(&app).await);
    assert_eq!(
        value(&scraped, "lvs_director_sync_state", &state("behind")),
        1.0
    );
    assert_eq!(
        value(&scraped, "lvs_director_desired_generation", &lb1),
        (generation + 1) as f64
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::spawn().await;
    let clusters = [
        ("method", "GET"),
        ("route", "/api/v1/clusters"),
        ("status", "200"),
    ];
    let latency = [
        ("method", "GET"),
        ("route", "/api/v1/clusters"),
        ("status_class", "2xx"),
    ];
    let count = |scraped: &[Sample]| {
        find(scraped, "lvs_http_requests_total", &clusters)
            .first()
            .map_or(0.0, |s| s.value)
    };
    let histogram = |scraped: &[Sample]| {
        find(scraped, "lvs_http_request_duration_seconds_count", &latency)
            .first()
            .map_or(0.0, |s| s.value)
    };
    let before = samples(&scrape(&app).await);
    for _ in 0..3 {
        app.get("/api/v1/clusters").await.expect(200);
    }
    let after = samples(&scrape(&app).await);
    assert_eq!(count(&after) - count(&before), 3.0);
    assert_eq!(histogram(&after) - histogram(&before), 3.0);
    let buckets = find(&after, "lvs_http_request_duration_seconds_bucket", &latency);
    let infinite = buckets
        .iter()
        .find(|s| s.labels.get("le").map(String::as_str) == Some("+Inf"))
        .expect("a +Inf bucket");
    assert_eq!(infinite.value, histogram(&after));
    // The scrapes count too, under their route.
    let scrapes = [("route", "/metrics"), ("status", "200")];
    assert!(value(&after, "lvs_http_requests_total", &scrapes) >= 1.0);
}

#[tokio::test]
async fn metrics_give_unmatched_paths_no_labels_of_their_own() {
    let app = TestApp::spawn().await;
    for n in 0..5 {
        app.get(&format!("/api/v1/no-such-thing-{n}"))
            .await
            .expect(404);
        app.get(&format!("/no/such/page-{n}")).await;
    }
    let text = scrape(&app).await;
    assert!(!text.contains("no-such"), "a path became a label:\n{text}");
    let scraped = samples(&text);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&scraped, "lvs_http_requests_total", &unmatched), 10.0);
    // An unknown method is `other`, not a label of its own.
    let brew = reqwest::Method::from_bytes(b"BREW").expect("a method");
    app.send(app.request(brew, "/api/v1/clusters")).await;
    let scraped = samples(&scrape(&app).await);
    let methods: BTreeSet<&str> = find(&scraped, "lvs_http_requests_total", &[])
        .iter()
        .filter_map(|s| s.labels.get("method").map(String::as_str))
        .collect();
    assert!(methods.contains("other"), "{methods:?}");
    assert!(!methods.contains("BREW"), "{methods:?}");
}

/// The names the dashboard's PromQL expressions use: every word that starts like ours.
fn dashboard_metrics() -> BTreeSet<String> {
    let text = std::fs::read_to_string(DASHBOARD).expect("the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut expressions = Vec::new();
    collect_expressions(&dashboard, &mut expressions);
    assert!(
        expressions.len() >= 8,
        "the dashboard has its panels: {expressions:?}"
    );
    expressions
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')))
        .filter(|word| word.starts_with("node_ipvs_") || word.starts_with("lvs_"))
        .map(str::to_owned)
        .collect()
}

fn collect_expressions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("expr" | "query", Value::String(expression)) => out.push(expression.clone()),
                    _ => collect_expressions(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_expressions(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn metrics_include_every_metric_the_grafana_dashboard_uses() {
    let app = reported(MetricsDetail::RealServer).await;
    // Something for the request families to show.
    app.get("/api/v1/clusters").await.expect(200);
    let scraped: BTreeSet<String> = samples(&scrape(&app).await)
        .into_iter()
        .map(|s| s.name)
        .collect();
    let used = dashboard_metrics();
    let missing: Vec<&String> = used.difference(&scraped).collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics no scrape has: {missing:?}"
    );
}

#[tokio::test]
async fn metrics_pass_promtool_check_metrics() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let app = reported(MetricsDetail::RealServer).await;
    app.get("/api/v1/clusters").await.expect(200);
    app.get("/api/v1/nothing-here").await.expect(404);
    let text = scrape(&app).await;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool runs: install Debian's prometheus package \
             (`apt-get install prometheus`; `cargo xtask test` does)",
        );
    promtool
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("the scrape written to promtool");
    let output = promtool.wait_with_output().expect("promtool ends");
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

//! Statistics: agents' reports, a director's latest, and a service's history.

use std::time::Duration;

use lvs_server::agents::AgentOptions;
use serde_json::{json, Value};

use crate::helpers::*;

fn stats_path(cluster: &str, director: &str) -> String {
    format!("{}/stats", director_path(cluster, director))
}

fn history_path(cluster: &str, service: i64, resolution: &str) -> String {
    format!(
        "{}/stats/history?resolution={resolution}",
        service_path(cluster, service)
    )
}

/// A report for service tcp:10.0.0.1:80 with two real servers, rates scaled by `k`.
fn report(k: u64) -> Value {
    let counters = json!({"connections": 1000 * k, "packets_in": 5000 * k, "packets_out": 4000 * k,
                          "bytes_in": 600_000 * k, "bytes_out": 900_000 * k});
    let rates = json!({"connections": 10 * k, "packets_in": 50 * k, "packets_out": 40 * k,
                       "bytes_in": 6000 * k, "bytes_out": 9000 * k});
    let server = |host: u8, active: u64| {
        json!({"key": format!("10.1.0.{host}:80"), "active_connections": active * k,
               "inactive_connections": 1, "persistent_connections": 0,
               "counters": counters, "rates": rates})
    };
    json!({"services": [{"key": "tcp:10.0.0.1:80", "counters": counters, "rates": rates,
                         "real_servers": [server(1, 3), server(2, 4)]}]})
}

fn fast() -> AgentOptions {
    AgentOptions {
        online_within: Duration::from_secs(30),
        stats_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    }
}

#[tokio::test]
async fn the_latest_report_per_director_is_served() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;

    let none = app.get(&stats_path("web", "lb1")).await;
    assert!(none.problem(404, "not_found")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("not reported"));

    app.agent_post(AGENT_STATS, &token, &report(1))
        .await
        .expect(204);
    app.agent_post(AGENT_STATS, &token, &report(2))
        .await
        .expect(204);
    let latest = app.get(&stats_path("web", "lb1")).await.expect(200).clone();
    assert_eq!(latest["director"], "lb1");
    assert_eq!(latest["cluster"], "web");
    assert!(latest["received_at"].is_string());
    assert_eq!(latest["services"], report(2)["services"]);

    // A report that does not parse is refused, and the latest stays.
    let bad = app
        .agent_post(AGENT_STATS, &token, &json!({"services": [{"key": 1}]}))
        .await;
    assert!(!bad.invalid_fields().is_empty());
    app.send(
        app.request(reqwest::Method::POST, AGENT_STATS)
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await
    .problem(415, "unsupported_media_type");
    let still = app.get(&stats_path("web", "lb1")).await.expect(200).clone();
    assert_eq!(still["services"], report(2)["services"]);

    app.get(&stats_path("web", "nope"))
        .await
        .problem(404, "not_found");
    // Deleting the director forgets its statistics.
    app.delete(&director_path("web", "lb1"), None)
        .await
        .expect(204);
    app.create_director("web", "lb1").await;
    app.get(&stats_path("web", "lb1"))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn history_sums_the_directors_of_the_cluster_per_interval() {
    let app = TestApp::spawn_with_agents(fast()).await;
    let service = cluster_with_service(&app, "web").await;
    app.create_cluster("other").await;
    let mut tokens = Vec::new();
    for name in ["lb1", "lb2"] {
        tokens.push(app.create_agent("web", name).await);
    }
    // Another cluster's director with the same service key is not summed in.
    let other = app.create_agent("other", "lb9").await;

    let empty = app
        .get(&history_path("web", service, "10s"))
        .await
        .expect(200)
        .clone();
    assert_eq!(empty["points"], json!([]));
    assert_eq!(empty["key"], "tcp:10.0.0.1:80");
    assert_eq!(empty["resolution"], "10s");

    app.agent_post(AGENT_STATS, &tokens[0], &report(1))
        .await
        .expect(204);
    app.agent_post(AGENT_STATS, &tokens[1], &report(2))
        .await
        .expect(204);
    app.agent_post(AGENT_STATS, &other, &report(100))
        .await
        .expect(204);
    // The aggregator runs every 100 ms here.
    tokio::time::sleep(Duration::from_millis(350)).await;

    let history = app
        .get(&history_path("web", service, "10s"))
        .await
        .expect(200)
        .clone();
    assert_eq!(history["interval_seconds"], 0.1);
    let points = history["points"].as_array().expect("points");
    assert!(points.len() >= 2, "{history}");
    let last = points.last().expect("a point");
    assert_eq!(last["connections_per_second"], 30.0);
    assert_eq!(last["packets_in_per_second"], 150.0);
    assert_eq!(last["packets_out_per_second"], 120.0);
    assert_eq!(last["bytes_in_per_second"], 18000.0);
    assert_eq!(last["bytes_out_per_second"], 27000.0);
    assert_eq!(last["active_connections"], 21.0);
    let times: Vec<time::OffsetDateTime> = points
        .iter()
        .map(|p| {
            let text = p["timestamp"].as_str().expect("timestamp");
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .expect("an RFC 3339 timestamp")
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first, one point per interval: {history}"
    );

    let coarse = app
        .get(&history_path("web", service, "1m"))
        .await
        .expect(200)
        .clone();
    assert_eq!(coarse["resolution"], "1m");
    assert!((coarse["interval_seconds"].as_f64().unwrap_or(0.0) - 0.6).abs() < 1e-9);
    let coarse_points = coarse["points"].as_array().expect("points");
    assert!(!coarse_points.is_empty());
    assert_eq!(
        coarse_points.last().expect("a point")["connections_per_second"],
        30.0
    );

    // Default resolution, and errors.
    let default = app
        .get(&format!("{}/stats/history", service_path("web", service)))
        .await;
    assert_eq!(default.expect(200)["resolution"], "10s");
    app.get(&history_path("web", service, "5s"))
        .await
        .problem(400, "invalid_query");
    app.get(&history_path("web", 999, "10s"))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn directors_that_stopped_reporting_drop_out_of_the_sum() {
    let app = TestApp::spawn_with_agents(AgentOptions {
        online_within: Duration::from_millis(250),
        stats_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    })
    .await;
    let service = cluster_with_service(&app, "web").await;
    app.create_director("web", "lb1").await;
    app.create_director("web", "lb2").await;
    let lb1 = app.create_token("web", "lb1").await;
    let lb2 = app.create_token("web", "lb2").await;
    app.agent_post(AGENT_STATS, &lb1, &report(1))
        .await
        .expect(204);
    // lb2 keeps reporting, lb1 stops.
    for _ in 0..8 {
        app.agent_post(AGENT_STATS, &lb2, &report(2))
            .await
            .expect(204);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let history = app
        .get(&history_path("web", service, "10s"))
        .await
        .expect(200)
        .clone();
    let points = history["points"].as_array().expect("points");
    let rates: Vec<f64> = points
        .iter()
        .map(|p| p["connections_per_second"].as_f64().expect("a rate"))
        .collect();
    assert!(
        rates.contains(&30.0),
        "both directors summed at first: {history}"
    );
    assert_eq!(rates.last(), Some(&20.0), "then lb2 only: {history}");
}

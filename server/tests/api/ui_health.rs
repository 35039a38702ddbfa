//! Health in the UI: the service page shows what the directors' agents report (each real
//! server up or down where, the service degraded, its sorry server in use, a stalled
//! checker), in words and not in colour alone.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

pub const AGENT_HEALTH: &str = "/api/v1/agent/health";

/// A check engine whose last result is long past: stalled.
pub fn old_pulse() -> Value {
    json!({"targets": 2, "results": 10, "last_result_ms": 1_700_000_000_000_u64,
           "longest_interval_ms": 2000})
}

/// A check engine that just produced a result.
pub fn fresh_pulse() -> Value {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    json!({"targets": 2, "results": 10, "last_result_ms": u64::try_from(now_ms).expect("ms fit"),
           "longest_interval_ms": 2000})
}

/// One real server's health entry of an agent's report, for the service on port 80.
pub fn rs_health(real_server: &str, health: &str, since_ms: u64, reason: Option<&str>) -> Value {
    let mut entry = json!({"service": "tcp:10.0.0.1:80", "real_server": real_server,
                           "health": health, "since_ms": since_ms});
    if let Some(reason) = reason {
        entry["reason"] = json!(reason);
    }
    entry
}

/// A full health report of `entries`, with the service's sorry server in use or not.
pub fn full_report(entries: &[Value], sorry: bool, pulse: &Value) -> Value {
    json!({"full": true, "real_servers": entries,
           "services": [{"service": "tcp:10.0.0.1:80", "sorry_server_in_use": sorry}],
           "checker": pulse})
}

/// The text of the pool table's row of the real server `id`.
fn row(html: &str, id: i64) -> String {
    element_text(html, "tr", "id", &format!("rs-{id}"))
}

#[tokio::test]
async fn ui_the_service_page_shows_each_real_server_health_per_director() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let lb1 = app.create_agent("web", "lb1").await;
    let lb2 = app.create_agent("web", "lb2").await;
    let service = id(&app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                    "health_check": {"kind": "tcp"}, "min_healthy": 3,
                    "sorry_server": {"address": "10.9.0.1", "forwarding": "masq"}}),
        )
        .await);
    let server = |address: &str, check: Option<Value>| {
        let mut spec = json!({"address": address, "forwarding": "masq"});
        if let Some(check) = check {
            spec["health_check"] = check;
        }
        spec
    };
    let up = id(&app
        .create_real_server("web", service, &server("10.1.0.1", None))
        .await);
    let down = id(&app
        .create_real_server("web", service, &server("10.1.0.2", None))
        .await);
    let exempt = id(&app
        .create_real_server(
            "web",
            service,
            &server("10.1.0.3", Some(json!({"kind": "none"}))),
        )
        .await);
    let mut browser = Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");

    let page = browser.page(&base).await;
    assert!(
        row(&page.text, up).contains("no report yet"),
        "{}",
        row(&page.text, up)
    );
    assert!(row(&page.text, exempt).contains("unchecked"));
    assert!(
        !page.text.contains("id=\"health-notes\""),
        "nothing to note yet"
    );

    let lb1_report = full_report(
        &[
            rs_health("10.1.0.1:80", "up", 0, None),
            rs_health(
                "10.1.0.2:80",
                "down",
                1_700_000_000_500,
                Some("connection refused"),
            ),
        ],
        true,
        &old_pulse(),
    );
    app.agent_post(AGENT_HEALTH, &lb1, &lb1_report)
        .await
        .expect(204);
    let lb2_report = full_report(
        &[
            rs_health("10.1.0.1:80", "up", 0, None),
            rs_health("10.1.0.2:80", "up", 0, None),
        ],
        false,
        &fresh_pulse(),
    );
    app.agent_post(AGENT_HEALTH, &lb2, &lb2_report)
        .await
        .expect(204);

    let page = browser.page(&base).await;
    assert!(
        row(&page.text, up).contains("up on 2 of 2"),
        "{}",
        row(&page.text, up)
    );
    let down_row = row(&page.text, down);
    assert!(down_row.contains("down on lb1"), "{down_row}");
    assert!(
        down_row.contains("lb1: connection refused"),
        "the reason is text: {down_row}"
    );
    assert!(row(&page.text, exempt).contains("unchecked"));
    let notes = element_text(&page.text, "p", "id", "health-notes");
    assert!(
        notes.starts_with("degraded fewer than 3 healthy"),
        "{notes}"
    );
    assert!(notes.contains("sorry server in use on lb1"), "{notes}");
    let shown = text(&page.text);
    assert!(
        shown.contains("The health checker is stalled on lb1:"),
        "lb1's last result is old: {shown}"
    );
    assert!(!shown.contains("stalled on lb1, lb2"), "lb2's is fresh");
}

#[tokio::test]
async fn ui_health_events_newest_first_and_a_stalled_checker_on_the_directors_page() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.patch_ok(
        &service_path("web", service),
        &json!({"health_check": {"kind": "tcp"}}),
    )
    .await;
    let lb1 = app.create_agent("web", "lb1").await;
    let lb2 = app.create_agent("web", "lb2").await;
    let mut browser = Browser::new(&app);

    let page = browser.page("/clusters/web").await;
    assert!(links(&page.text).contains(&"/clusters/web/health-events".to_owned()));
    let page = browser.page("/clusters/web/health-events").await;
    assert!(text(&page.text).contains("No health events yet."));

    let down = full_report(
        &[rs_health(
            "10.1.0.2:80",
            "down",
            1_700_000_000_500,
            Some("connection refused"),
        )],
        false,
        &old_pulse(),
    );
    app.agent_post(AGENT_HEALTH, &lb1, &down).await.expect(204);
    let back = json!({"full": false, "checker": old_pulse(),
                      "real_servers": [rs_health("10.1.0.2:80", "up", 1_700_000_009_000, None)]});
    app.agent_post(AGENT_HEALTH, &lb1, &back).await.expect(204);
    let fresh = full_report(&[], false, &fresh_pulse());
    app.agent_post(AGENT_HEALTH, &lb2, &fresh).await.expect(204);

    let page = browser.page("/clusters/web/health-events").await;
    let shown = text(&page.text);
    let up_at = shown
        .find("lb1 tcp:10.0.0.1:80 10.1.0.2:80 up")
        .unwrap_or_else(|| panic!("the up event: {shown}"));
    let down_at = shown
        .find("lb1 tcp:10.0.0.1:80 10.1.0.2:80 down connection refused")
        .unwrap_or_else(|| panic!("the down event with its reason: {shown}"));
    assert!(up_at < down_at, "newest first: {shown}");

    let page = browser.page("/clusters/web/directors").await;
    let lb1_card = element_text(&page.text, "article", "id", "director-lb1");
    assert!(lb1_card.contains("checker stalled"), "{lb1_card}");
    let lb2_card = element_text(&page.text, "article", "id", "director-lb2");
    assert!(!lb2_card.contains("checker stalled"), "{lb2_card}");
}

#[tokio::test]
async fn ui_the_services_table_counts_real_servers_down_and_filters_the_unhealthy() {
    let app = TestApp::spawn().await;
    let checked = cluster_with_service(&app, "web").await;
    let other = id(&app.create_service("web", &tcp_service(81)).await);
    let lb1 = app.create_agent("web", "lb1").await;
    let report = full_report(
        &[
            rs_health("10.1.0.1:80", "up", 0, None),
            rs_health("10.1.0.2:80", "down", 1_700_000_000_500, Some("timeout")),
        ],
        false,
        &fresh_pulse(),
    );
    app.agent_post(AGENT_HEALTH, &lb1, &report)
        .await
        .expect(204);
    let mut browser = Browser::new(&app);

    let page = browser.page("/clusters/web").await;
    let shown = text(&page.text);
    assert!(shown.contains("1 down"), "{shown}");
    assert!(links(&page.text).contains(&format!("/clusters/web/services/{other}")));

    let page = browser.page("/clusters/web?unhealthy=1").await;
    let found = links(&page.text);
    assert!(found.contains(&format!("/clusters/web/services/{checked}")));
    assert!(
        !found.contains(&format!("/clusters/web/services/{other}")),
        "a healthy service is left out"
    );
    let unhealthy = tag_where(&page.text, "input", "id", "f-unhealthy");
    assert!(attr(&unhealthy, "checked").is_some(), "{unhealthy}");
    let live = browser.get("/clusters/web/live?unhealthy=1").await;
    assert!(!links(&live.text).contains(&format!("/clusters/web/services/{other}")));
}

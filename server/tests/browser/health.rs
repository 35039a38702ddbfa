//! What an operator sees when a director's agent reports a real server down: its service
//! counted unhealthy (and kept by the "Unhealthy only" filter), the real server's health
//! with the director and reason, the service degraded, the event in the cluster's
//! history; then the same pages once it is back up. Every page photographed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::app::{screenshot_dir, App};
use crate::driver::{literal, text, Browser};

const CHECKED: &str = "tcp:192.0.2.10:80";
const UNCHECKED: &str = "tcp:192.0.2.10:443";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_server_down_on_a_director_shows_on_the_pages() {
    crate::within_limit(run()).await;
}

async fn run() {
    let app = App::start().await;
    let token = set_up(&app).await;
    let b = Browser::start(app.base.clone()).await;
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;
    let shots = screenshot_dir();

    let since = now_ms() - 5_000;
    let report = json!({"full": true, "checker": pulse(),
        "real_servers": [
            {"service": CHECKED, "real_server": "10.1.0.1:80", "health": "up", "since_ms": 0},
            {"service": CHECKED, "real_server": "10.1.0.2:80", "health": "down",
             "since_ms": since, "reason": "status 503"}],
        "services": [{"service": CHECKED, "sorry_server_in_use": false}]});
    app.post("/api/v1/agent/health", &report, Some(&token), 204)
        .await;

    // The services table counts it; "Unhealthy only" keeps its service alone, live.
    b.goto("/clusters/prod-web").await;
    b.expect_page("prod-web", 200).await;
    assert_eq!(
        service_rows(&b).await,
        [
            format!("{CHECKED} 1 down"),
            format!("{UNCHECKED} none down")
        ]
    );
    let filters = b.find("main form[role='search']").await;
    b.within(
        &filters,
        ".//label[normalize-space()='Unhealthy only']/input",
    )
    .await
    .click()
    .await
    .expect("tick Unhealthy only");
    let only_checked = [format!("{CHECKED} 1 down")];
    wait_for_rows(&b, &only_checked).await;
    // The table swapped in, as a page load would be.
    b.audit("prod-web, unhealthy only").await;
    b.screenshots(&shots, "health-unhealthy-live").await;
    // The same through the form itself (no script), as a link to the filtered table.
    let filters = b.find("main form[role='search']").await;
    b.press(&filters, "Filter").await;
    b.expect_page("prod-web", 200).await;
    let path = b.path().await;
    assert!(path.contains("unhealthy=1"), "{path}");
    assert_eq!(service_rows(&b).await, only_checked);
    b.screenshots(&shots, "health-unhealthy").await;

    // The service: degraded, and the real server down on lb1 with its reason, in words.
    let table = b.find("section#services table").await;
    b.follow(&table, CHECKED).await;
    b.expect_page(CHECKED, 200).await;
    let service_page = b.path().await;
    let notes = text(&b.find("#health-notes").await).await;
    assert!(
        notes.contains("degraded fewer than 2 healthy real servers on some director"),
        "{notes}"
    );
    assert_eq!(health_cell(&b, "10.1.0.1:80").await, "up on 1 of 1");
    assert_eq!(
        health_cell(&b, "10.1.0.2:80").await,
        "down on lb1 lb1: status 503"
    );
    b.screenshots(&shots, "health-service-down").await;

    // The cluster's health events: the one change, with its director and reason.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Health events").await;
    b.expect_page("Health events of prod-web", 200).await;
    assert_eq!(
        event_rows(&b).await,
        [format!("lb1 {CHECKED} 10.1.0.2:80 down status 503")]
    );
    b.screenshots(&shots, "health-events-down").await;

    // Back up: a partial report. The service serves again; the history has both, newest
    // first.
    let back = json!({"full": false, "checker": pulse(),
        "real_servers": [{"service": CHECKED, "real_server": "10.1.0.2:80", "health": "up",
                          "since_ms": now_ms()}]});
    app.post("/api/v1/agent/health", &back, Some(&token), 204)
        .await;
    b.goto("/clusters/prod-web/health-events").await;
    b.expect_page("Health events of prod-web", 200).await;
    assert_eq!(
        event_rows(&b).await,
        [
            format!("lb1 {CHECKED} 10.1.0.2:80 up"),
            format!("lb1 {CHECKED} 10.1.0.2:80 down status 503")
        ]
    );
    b.screenshots(&shots, "health-events-back").await;
    b.goto("/clusters/prod-web?unhealthy=1").await;
    b.expect_page("prod-web", 200).await;
    assert!(b.main_text().await.contains("No service matches."));
    let main = b.find("main").await;
    let link = format!(".//a[normalize-space()={}]", literal(CHECKED));
    assert!(
        main.find(Locator::XPath(&link)).await.is_err(),
        "no unhealthy service is listed"
    );
    b.goto(&service_page).await;
    b.expect_page(CHECKED, 200).await;
    assert_eq!(health_cell(&b, "10.1.0.2:80").await, "up on 1 of 1");
    let notes = b.client.find(Locator::Id("health-notes")).await;
    assert!(notes.is_err(), "nothing to note once it is back");

    b.quit().await;
}

/// Cluster prod-web through the API: an HTTP-checked service that wants 2 healthy real
/// servers and has 2, one without a check, and director lb1; returns lb1's agent token.
async fn set_up(app: &App) -> String {
    app.post("/api/v1/clusters", &json!({"name": "prod-web"}), None, 201)
        .await;
    let services = "/api/v1/clusters/prod-web/services";
    let checked = json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "health_check": {"kind": "http", "path": "/up"}, "min_healthy": 2,
        "real_servers": [{"address": "10.1.0.1", "forwarding": "masq"},
                         {"address": "10.1.0.2", "forwarding": "masq"}]});
    app.post(services, &checked, None, 201).await;
    let unchecked = json!({"protocol": "tcp", "address": "192.0.2.10", "port": 443,
        "real_servers": [{"address": "10.1.0.3", "forwarding": "masq"}]});
    app.post(services, &unchecked, None, 201).await;
    let directors = "/api/v1/clusters/prod-web/directors";
    app.post(directors, &json!({"name": "lb1"}), None, 201)
        .await;
    let created = app
        .post(&format!("{directors}/lb1/token"), &Value::Null, None, 201)
        .await;
    created["token"].as_str().expect("a token").to_owned()
}

fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    u64::try_from(now.expect("after 1970").as_millis()).expect("ms fit")
}

/// A check engine that just produced a result (not stalled).
fn pulse() -> Value {
    json!({"targets": 2, "results": 10, "last_result_ms": now_ms(), "longest_interval_ms": 2000})
}

/// The cell of column `column` (by its header's text) in the row whose header is `key`.
async fn cell(b: &Browser, table: &Element, key: &str, column: &str) -> String {
    let mut index = None;
    for (i, header) in table
        .find_all(Locator::Css("thead th"))
        .await
        .expect("headers")
        .iter()
        .enumerate()
    {
        if text(header).await == column {
            index = Some(i + 1);
        }
    }
    let index = index.unwrap_or_else(|| panic!("no column {column:?}"));
    let xpath = format!(
        ".//tbody/tr[th[normalize-space()={}]]/*[{index}]",
        literal(key)
    );
    text(&b.within(table, &xpath).await).await
}

/// The pool table's Health cell of the real server `key`.
async fn health_cell(b: &Browser, key: &str) -> String {
    cell(b, &b.find("table#pool").await, key, "Health").await
}

/// Each row of the services table as "service health".
async fn service_rows(b: &Browser) -> Vec<String> {
    match read_service_rows(b).await {
        Some(rows) => rows,
        None => panic!("no services table:\n{}", b.main_text().await),
    }
}

/// Waits until the services table, swapped in by the page's script, shows `expected`.
async fn wait_for_rows(b: &Browser, expected: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    loop {
        // A read may miss the table while it is swapped; the failure names the last one.
        if let Some(rows) = read_service_rows(b).await {
            if rows == expected {
                return;
            }
            seen = Some(rows);
        }
        assert!(
            Instant::now() < deadline,
            "the services table shows {seen:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The services table's rows, or `None` if there is none or it was replaced (by the
/// page's script) while being read.
async fn read_service_rows(b: &Browser) -> Option<Vec<String>> {
    let table = b
        .client
        .find(Locator::Css("section#services table"))
        .await
        .ok()?;
    let mut health = None;
    for (i, header) in table
        .find_all(Locator::Css("thead th"))
        .await
        .ok()?
        .iter()
        .enumerate()
    {
        if header.text().await.ok()?.trim() == "Health" {
            health = Some(i);
        }
    }
    let mut rows = Vec::new();
    for row in table.find_all(Locator::Css("tbody tr")).await.ok()? {
        let cells = row.find_all(Locator::Css("th, td")).await.ok()?;
        let key = cells.first()?.text().await.ok()?;
        let shown = cells.get(health?)?.text().await.ok()?;
        rows.push(format!("{} {}", key.trim(), shown.trim()));
    }
    Some(rows)
}

/// Each row of the health events table, without its time ("12 s ago", which moves).
async fn event_rows(b: &Browser) -> Vec<String> {
    let mut rows = Vec::new();
    for row in b.find_all("table#health-events tbody tr").await {
        let shown = text(&row).await;
        let (_, rest) = shown
            .split_once(" ago ")
            .unwrap_or_else(|| panic!("a row starts with its time: {shown}"));
        rows.push(rest.to_owned());
    }
    rows
}

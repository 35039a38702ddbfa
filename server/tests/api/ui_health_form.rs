//! The service page's health-check form: it saves the check, `min_healthy` and the sorry
//! server, reads stored ones back unchanged, marks the model's errors on their inputs and
//! refuses a stale page.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

async fn api(app: &TestApp, path: &str) -> Value {
    app.get(path).await.expect(200).clone()
}

/// Asserts the input `id` of the form posting to `action` is marked invalid and its error
/// shown; returns the error's text.
#[track_caller]
fn invalid(html: &str, action: &str, name: &str) -> String {
    let form = form_html(html, action);
    let input = tag_where(form, "input", "id", &format!("hc-f-{name}"));
    assert_eq!(
        attr(&input, "aria-invalid").as_deref(),
        Some("true"),
        "{input}"
    );
    let error = format!("hc-e-{name}");
    assert_eq!(attr(&input, "aria-describedby"), Some(error.clone()));
    element_text(form, "p", "id", &error)
}

#[tokio::test]
async fn ui_save_a_health_check_with_its_sorry_server() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/health-check");
    let typed = [
        ("health_check.kind", "http"),
        ("health_check.path", "/up"),
        ("health_check.expect_status", "200-299, 304"),
        ("health_check.interval_ms", "5000"),
        ("min_healthy", "2"),
        ("sorry_server.address", "10.9.0.1"),
        ("sorry_server.forwarding", "masq"),
    ];
    let location = browser.submit_from(&base, &action, &typed).await;
    assert_eq!(location, base);
    let stored = api(&app, &service_path("web", service)).await;
    let check = &stored["health_check"];
    assert_eq!(check["kind"], "http");
    assert_eq!(check["path"], "/up");
    assert_eq!(check["expect_status"], json!(["200-299", 304]));
    assert_eq!(check["interval_ms"], 5000);
    assert_eq!(check["timeout_ms"], 1000, "the model's default");
    assert_eq!(stored["min_healthy"], 2);
    assert_eq!(stored["sorry_server"]["address"], "10.9.0.1");
    let page = browser.page(&base).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 2: health check of tcp:10.0.0.1:80 saved.")
    );
    assert_eq!(
        field(&page.text, &action, "health_check.expect_status"),
        "200-299, 304"
    );

    // "no check" and an empty address take both away.
    let typed = [("health_check.kind", ""), ("sorry_server.address", "")];
    browser.submit_from(&base, &action, &typed).await;
    let stored = api(&app, &service_path("web", service)).await;
    assert!(stored.get("health_check").is_none(), "{stored}");
    assert!(stored.get("sorry_server").is_none(), "{stored}");
    assert_eq!(stored["min_healthy"], 2);
}

#[tokio::test]
async fn ui_connection_reuse_is_a_labelled_checkbox_that_saves_and_shows() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/health-check");
    let reuse = "health_check.reuse_connection";
    let typed = [("health_check.kind", "http"), (reuse, "on")];
    browser.submit_from(&base, &action, &typed).await;
    let stored = api(&app, &service_path("web", service)).await;
    assert_eq!(stored["health_check"]["reuse_connection"], true);

    let page = browser.page(&base).await;
    let form = form_html(&page.text, &action);
    let id = format!("hc-f-{reuse}");
    let input = tag_where(form, "input", "id", &id);
    assert_eq!(attr(&input, "type").as_deref(), Some("checkbox"));
    assert!(attr(&input, "checked").is_some(), "{input}");
    let label = element_text(form, "label", "for", &id);
    assert!(label.contains("Reuse the connection"), "{label}");

    // Unticked, the check opens a connection each time again.
    let mut pairs = form_fields(&page.text, &action);
    pairs.retain(|(name, _)| name != reuse);
    redirected(&browser.post_pairs(&action, &pairs).await);
    let stored = api(&app, &service_path("web", service)).await;
    assert_eq!(stored["health_check"]["kind"], "http");
    assert!(
        stored["health_check"].get("reuse_connection").is_none(),
        "{stored}"
    );

    // Not for a tcp check: the box is marked.
    let typed = [("health_check.kind", "tcp"), (reuse, "on")];
    let page = browser.page(&base).await;
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert!(invalid(&refused.text, &action, reuse).contains("http and https"));
}

#[tokio::test]
async fn ui_a_bad_health_check_is_marked_on_its_fields() {
    let (app, mut browser, _, base) = service_in_browser().await;
    let action = format!("{base}/health-check");
    let generation = app.generation("web").await;
    let page = browser.page(&base).await;
    let typed = [
        ("health_check.kind", "tcp"),
        ("health_check.timeout_ms", "3000"),
        ("health_check.rise", "0"),
        ("health_check.command", "/bin/probe"),
        ("sorry_server.address", "nope"),
        ("sorry_server.forwarding", "masq"),
    ];
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert!(
        invalid(&refused.text, &action, "health_check.timeout_ms").contains("below interval_ms")
    );
    assert!(!invalid(&refused.text, &action, "health_check.rise").is_empty());
    assert!(invalid(&refused.text, &action, "health_check.command").contains("exec"));
    assert_eq!(
        field(&refused.text, &action, "health_check.timeout_ms"),
        "3000"
    );
    assert_eq!(app.generation("web").await, generation);

    // A number that is not one is named, and so are the model's other complaints.
    let typed = [
        ("health_check.kind", "tcp"),
        ("health_check.port", "8o"),
        ("health_check.fall", "0"),
    ];
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert!(invalid(&refused.text, &action, "health_check.port").contains("whole number"));
    assert!(!invalid(&refused.text, &action, "health_check.fall").is_empty());
    assert_eq!(app.generation("web").await, generation);
}

#[tokio::test]
async fn ui_a_stale_health_check_form_is_refused() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/health-check");
    let page = browser.page(&base).await;
    app.patch_ok(
        &service_path("web", service),
        &json!({"description": "theirs"}),
    )
    .await;
    let generation = app.generation("web").await;
    let refused = browser
        .submit_refused(&page.text, &action, &[("health_check.kind", "tcp")])
        .await;
    let alert = element_text(form_html(&refused.text, &action), "div", "role", "alert");
    assert!(alert.starts_with("Someone else changed this"), "{alert}");
    assert_eq!(field(&refused.text, &action, "health_check.kind"), "tcp");
    assert_eq!(app.generation("web").await, generation);
    let stored = api(&app, &service_path("web", service)).await;
    assert!(stored.get("health_check").is_none());
}

#[tokio::test]
async fn ui_saving_the_health_check_unchanged_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = |check: Value| json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "health_check": check});
    let specs = [
        service(
            json!({"kind": "http", "path": "/up", "host": "shop.example",
                       "expect_status": [200, "300-399"], "expect_body": "ok",
                       "reuse_connection": true}),
        ),
        service(
            json!({"kind": "https", "ca_file": "/etc/ca.pem", "sni": "shop.example",
                       "method": "HEAD", "expect_body_regex": "^ok"}),
        ),
        service(json!({"kind": "https", "insecure": true})),
        service(
            json!({"kind": "tcp", "port": 9100, "on_failure": "remove", "initial": "down",
                       "rise": 1, "fall": 5, "interval_ms": 10000, "timeout_ms": 3000}),
        ),
        service(json!({"kind": "exec", "command": "/usr/lib/checks/probe",
                       "args": ["--quick", "two words"]})),
        service(json!({"kind": "exec", "command": "/usr/lib/checks/probe"})),
        service(json!({"kind": "none"})),
        json!({"protocol": "udp", "address": "10.0.0.1", "port": 53,
               "health_check": {"kind": "udp-dns", "dns_name": "health.example",
                                "dns_type": "AAAA"},
               "min_healthy": 2,
               "sorry_server": {"address": "10.9.0.1", "forwarding": "route", "weight": 5}}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 443, "min_healthy": 0}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 8080,
               "sorry_server": {"address": "10.9.0.1", "port": 8081, "forwarding": "masq"}}),
    ];
    let mut browser = Browser::new(&app);
    for (n, spec) in specs.into_iter().enumerate() {
        let mut spec = spec;
        // One key each: the address's last byte tells them apart.
        spec["address"] = json!(format!("10.0.0.{}", n + 1));
        let service = id(&app.create_service("web", &spec).await);
        let before = api(&app, &service_path("web", service)).await;
        let generation = app.generation("web").await;
        let base = format!("/clusters/web/services/{service}");
        let action = format!("{base}/health-check");
        let page = browser.page(&base).await;
        let saved = browser.submit(&page.text, &action, &[]).await;
        assert_eq!(redirected(&saved), base, "{spec}: {}", text(&saved.text));
        let after = api(&app, &service_path("web", service)).await;
        assert_eq!(after, before, "the form reads back what it showed: {spec}");
        assert_eq!(app.generation("web").await, generation, "{spec}");
    }
}

//! A fwmark service's marking rules in the UI: a textarea of the settings form and of the
//! new-service form, one rule per line, saved through the edit layer; bad lines refused
//! with their line named and the text kept; a fwmark service without rules shown as one
//! whose packets are marked elsewhere; nothing of it for an address service.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

/// Cluster `web` with fwmark service 7 (IPv4, no rules); a browser; the service's page.
async fn fwmark_service() -> (TestApp, Browser, i64, String) {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let created = app
        .create_service("web", &json!({"fwmark": 7, "family": "ipv4"}))
        .await;
    let service = id(&created);
    let browser = Browser::new(&app);
    (
        app,
        browser,
        service,
        format!("/clusters/web/services/{service}"),
    )
}

async fn mark_rules(app: &TestApp, service: i64) -> Value {
    let stored = app.get(&service_path("web", service)).await;
    stored
        .expect(200)
        .get("mark_rules")
        .cloned()
        .unwrap_or(json!([]))
}

/// The rules' textarea: labelled, described by its hint (and its error, when it has one).
#[track_caller]
fn textarea(html: &str) -> String {
    let tag = tag_where(html, "textarea", "id", "f-mark_rules");
    assert_eq!(
        element_text(html, "label", "for", "f-mark_rules"),
        "Marking rules"
    );
    let described = attr(&tag, "aria-describedby").expect("described by its hint");
    assert!(described.split(' ').any(|id| id == "h-mark_rules"), "{tag}");
    let hint = element_text(html, "small", "id", "h-mark_rules");
    assert!(hint.contains("tcp 192.0.2.10 80,443,8000-8100"), "{hint}");
    assert!(
        hint.contains(
            "Empty: the marks are set by someone else (e.g. your own iptables/nftables rules)."
        ),
        "{hint}"
    );
    tag
}

#[tokio::test]
async fn ui_marking_rules_are_edited_on_the_service_page() {
    let (app, mut browser, service, base) = fwmark_service().await;

    // Without rules: marked elsewhere, on the page and in the cluster's list.
    let page = browser.page(&base).await;
    textarea(&page.text);
    assert_eq!(field(&page.text, &base, "mark_rules"), "");
    let shown = text(&page.text);
    assert!(
        shown.contains(
            "marks set elsewhere Packets are marked elsewhere: this service takes packets that \
             carry mark 7 from rules outside LVS Fleet."
        ),
        "{shown}"
    );
    let list = text(&browser.page("/clusters/web").await.text);
    assert!(list.contains("fwmark:7:ipv4 marks set elsewhere"), "{list}");

    let generation = app.generation("web").await;
    let typed = "tcp 192.0.2.10 443, 80\n\nudp 192.0.2.10 5060-5061\n";
    let saved = browser
        .submit(&page.text, &base, &[("mark_rules", typed)])
        .await;
    assert_eq!(redirected(&saved), base);
    assert_eq!(
        mark_rules(&app, service).await,
        json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": [80, 443]},
               {"protocol": "udp", "address": "192.0.2.10", "ports": ["5060-5061"]}])
    );
    assert_eq!(app.generation("web").await, generation + 1);

    // Shown as stored, sorted; the page and the list name them.
    let page = browser.follow(&saved).await;
    assert_eq!(
        field(&page.text, &base, "mark_rules"),
        "tcp 192.0.2.10 80,443\nudp 192.0.2.10 5060-5061"
    );
    let shown = text(&page.text);
    assert!(
        shown.contains(
            "Packets marked by LVS Fleet: the directors give mark 7 to tcp 192.0.2.10:80,443; \
             udp 192.0.2.10:5060-5061."
        ),
        "{shown}"
    );
    assert!(!shown.contains("marks set elsewhere"), "{shown}");
    let list = text(&browser.page("/clusters/web").await.text);
    assert!(
        list.contains("fwmark:7:ipv4 marks tcp 192.0.2.10:80,443 and 1 more rule"),
        "{list}"
    );
    assert!(!list.contains("marks set elsewhere"), "{list}");

    // The Changes page says what moved, readably.
    let changes = format!("/clusters/web/changes/{}", generation + 1);
    let detail = text(&browser.page(&changes).await.text);
    assert!(
        detail.contains(
            "~ changed: service fwmark:7:ipv4: mark rules none → tcp 192.0.2.10:80,443 and \
             udp 192.0.2.10:5060-5061"
        ),
        "{detail}"
    );

    // Emptied: the marks are someone else's again.
    let saved = browser
        .submit(&page.text, &base, &[("mark_rules", "")])
        .await;
    redirected(&saved);
    assert_eq!(mark_rules(&app, service).await, json!([]));
    let page = browser.follow(&saved).await;
    assert!(text(&page.text).contains("Packets are marked elsewhere"));
}

#[tokio::test]
async fn ui_bad_marking_rules_are_named_by_line_and_kept() {
    let (app, mut browser, service, base) = fwmark_service().await;
    app.patch_ok(
        &service_path("web", service),
        &json!({"mark_rules": [{"protocol": "tcp", "address": "192.0.2.10", "ports": [80]}]}),
    )
    .await;
    let generation = app.generation("web").await;
    let page = browser.page(&base).await;
    let cases = [
        (
            "tcp 192.0.2.10 80\ntcp 192.0.2.10",
            "line 2: \"tcp 192.0.2.10\" is not a protocol, a VIP and ports, as in \
             \"tcp 192.0.2.10 80,443\"",
        ),
        (
            "tcp 2001:db8::1 80",
            "line 1, VIP: 2001:db8::1 is not an ipv4 address, as the service's family is",
        ),
        (
            "\nudp 192.0.2.10 53\ntcp 192.0.2.10 80,70000",
            "line 2, ports: must be between 1 and 65535, not 70000",
        ),
    ];
    for (typed, message) in cases {
        let refused = browser
            .submit_refused(&page.text, &base, &[("mark_rules", typed)])
            .await;
        let html = &refused.text;
        let tag = textarea(html);
        assert_eq!(attr(&tag, "aria-invalid").as_deref(), Some("true"), "{tag}");
        assert!(attr(&tag, "aria-describedby").is_some_and(|d| d.contains("e-mark_rules")));
        assert_eq!(
            element_text(form_html(html, &base), "p", "id", "e-mark_rules"),
            message
        );
        assert_eq!(
            field(html, &base, "mark_rules"),
            typed.trim(),
            "the typed text is kept"
        );
        assert!(
            !html.contains("role=\"alert\""),
            "no problem beyond the field"
        );
    }

    // With a number that is not one, both are named at once.
    let typed = [
        ("mark_rules", "tcp 192.0.2.10 80\nicmp 192.0.2.10 1"),
        ("persistence_timeout", "long"),
    ];
    let refused = browser.submit_refused(&page.text, &base, &typed).await;
    let form = form_html(&refused.text, &base);
    let error = element_text(form, "p", "id", "e-mark_rules");
    assert!(error.starts_with("line 2, protocol: "), "{error}");
    assert_eq!(
        element_text(form, "p", "id", "e-persistence_timeout"),
        "must be a whole number, not \"long\""
    );

    assert_eq!(app.generation("web").await, generation, "nothing was saved");
    assert_eq!(
        mark_rules(&app, service).await,
        json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": [80]}])
    );
}

#[tokio::test]
async fn ui_an_address_service_shows_nothing_of_marking_rules() {
    let (_app, mut browser, _service, base) = service_in_browser().await;
    let page = browser.page(&base).await;
    let html = &page.text;
    assert!(!html.contains("mark_rules"), "no rules field");
    assert!(!text(html).contains("Marking rules"));
    assert!(!text(html).contains("marked"));
    let list = browser.page("/clusters/web").await;
    assert!(!text(&list.text).contains("marks"), "{}", text(&list.text));
}

#[tokio::test]
async fn ui_new_fwmark_service_with_marking_rules() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);
    let action = "/clusters/web/services";
    let form = browser.page("/clusters/web/services/new").await;
    textarea(&form.text);
    assert_eq!(field(&form.text, action, "mark_rules"), "");

    // Rules for an address service are refused at the rules, not dropped.
    let typed = [
        ("address", "192.0.2.10"),
        ("port", "80"),
        ("mark_rules", "tcp 192.0.2.10 80"),
    ];
    let refused = browser.submit_refused(&form.text, action, &typed).await;
    let error = element_text(&refused.text, "p", "id", "e-mark_rules");
    assert!(
        error.starts_with("only a fwmark service has marking rules"),
        "{error}"
    );
    assert_eq!(
        field(&refused.text, action, "mark_rules"),
        "tcp 192.0.2.10 80"
    );

    // A bad line on the new form, too.
    let typed = [
        ("protocol", "fwmark"),
        ("fwmark", "7"),
        ("family", "ipv6"),
        ("mark_rules", "tcp 2001:db8::1 443\ntcp 192.0.2.10 80"),
    ];
    let refused = browser.submit_refused(&form.text, action, &typed).await;
    assert_eq!(
        element_text(&refused.text, "p", "id", "e-mark_rules"),
        "line 2, VIP: 192.0.2.10 is not an ipv6 address, as the service's family is"
    );

    let typed = [
        ("protocol", "fwmark"),
        ("fwmark", "7"),
        ("family", "ipv6"),
        ("mark_rules", "tcp 2001:db8::1 443,80\n"),
    ];
    let created = browser.submit(&form.text, action, &typed).await;
    redirected(&created);
    let services = app.all_services("web").await;
    assert_eq!(services.len(), 1);
    assert_eq!(
        services[0]["mark_rules"],
        json!([{"protocol": "tcp", "address": "2001:db8::1", "ports": [80, 443]}])
    );
    let page = browser.follow(&created).await;
    assert!(text(&page.text).contains("the directors give mark 7 to tcp [2001:db8::1]:80,443."));
}

#[tokio::test]
async fn ui_marking_rules_are_read_only_for_viewers() {
    let (app, _browser, service, base) = fwmark_service().await;
    app.patch_ok(
        &service_path("web", service),
        &json!({"mark_rules": [{"protocol": "tcp", "address": "192.0.2.10", "ports": [80]}]}),
    )
    .await;
    let viewer = app.session_of("reader", "viewer").await;
    let mut browser = Browser::with_session(&app, Some(&viewer));
    let page = browser.page(&base).await;
    let html = &page.text;
    assert!(!has_form(html, &base), "no form to save");
    let fieldset = html
        .find(
            "<fieldset class=\"stacked read-only\" disabled>\n  <legend class=\"sr-only\">Settings",
        )
        .expect("the settings, read only");
    let rules = html
        .find("id=\"f-mark_rules\"")
        .expect("the rules are shown");
    assert!(rules > fieldset, "inside the disabled fieldset");
    textarea(html);
    assert_eq!(
        element_text(html, "textarea", "id", "f-mark_rules"),
        "tcp 192.0.2.10 80"
    );
}

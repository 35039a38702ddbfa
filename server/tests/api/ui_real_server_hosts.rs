//! The real-server hosts page (add a host and see its token once, rotate and revoke it,
//! remove a host) and the host badges of a service's route and tunnel real servers.

use serde_json::json;

use crate::helpers::*;
use crate::real_server_hosts::{create_host, create_host_token, host_path};
use crate::ui_browser::*;

const PAGE: &str = "/real-server-hosts";

/// The `lvsr_` token shown on a token page.
#[track_caller]
fn shown_token(html: &str) -> String {
    let token = attr(&tag_where(html, "input", "id", "token"), "value").expect("a token");
    assert!(token.starts_with("lvsr_") && token.len() == 69, "{token}");
    token
}

#[tokio::test]
async fn ui_add_a_host_see_its_token_once_then_revoke_and_remove_it() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let page = browser.page(PAGE).await;
    assert!(text(&page.text).contains("No real-server hosts yet."));
    let typed = [
        ("name", "web-1"),
        ("addresses", "10.0.1.11, 2001:db8::11"),
        ("description", "rack 2"),
    ];
    let added = browser.submit(&page.text, PAGE, &typed).await;
    assert_html(&added, 200);
    assert_eq!(
        added
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let token = shown_token(&added.text);
    let shown = text(&added.text);
    assert!(
        shown.contains("Real-server host web-1 was added."),
        "{shown}"
    );
    assert!(
        shown.contains("lvs-agent --role real-server --server"),
        "{shown}"
    );
    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    assert_eq!(host["addresses"], json!(["10.0.1.11", "2001:db8::11"]));
    app.agent_get("/api/v1/agent/real-server", &token)
        .await
        .expect(200);

    let page = browser.page(PAGE).await;
    assert!(!page.text.contains(&token), "never shown again");
    let card = text(&element_text(&page.text, "article", "id", "host-web-1"));
    for expected in ["preparing", "10.0.1.11, 2001:db8::11", "Token set", "s ago"] {
        assert!(card.contains(expected), "{expected:?} in {card}");
    }

    // Every bad field at its input; an address of another host names it.
    let refused = browser
        .submit_refused(
            &page.text,
            PAGE,
            &[("name", "Web 2"), ("addresses", "10.0.1.300")],
        )
        .await;
    let form = form_html(&refused.text, PAGE);
    for id in ["f-name", "f-addresses"] {
        let input = tag_where(form, "input", "id", id);
        assert_eq!(
            attr(&input, "aria-invalid").as_deref(),
            Some("true"),
            "{input}"
        );
    }
    assert!(element_text(form, "p", "id", "e-addresses").contains("10.0.1.300"));
    let refused = browser
        .submit_refused(
            &page.text,
            PAGE,
            &[("name", "web-2"), ("addresses", "10.0.1.11")],
        )
        .await;
    let alert = element_text(form_html(&refused.text, PAGE), "div", "role", "alert");
    assert!(
        alert.contains("belongs to real-server host web-1"),
        "{alert}"
    );
    assert!(!refused.text.contains("lvsr_"));

    // Rotating, through its confirmation page: showing it changes nothing.
    let rotate = "/real-server-hosts/web-1/token";
    let confirm = browser.page(rotate).await;
    let asked = text(&confirm.text);
    for expected in [
        "Rotate the agent token of real-server host web-1?",
        "the running agent is refused until it is given the new token",
        "The new token is shown once",
    ] {
        assert!(asked.contains(expected), "{expected:?} in {asked}");
    }
    app.agent_get("/api/v1/agent/real-server", &token)
        .await
        .expect(200);
    let rotated = browser.submit(&confirm.text, rotate, &[]).await;
    let new_token = shown_token(&rotated.text);
    assert_ne!(new_token, token);
    app.agent_get("/api/v1/agent/real-server", &token)
        .await
        .problem(401, "unauthorized");

    // Revoking through its confirmation page.
    let revoke = "/real-server-hosts/web-1/token/revoke";
    let confirm = browser.page(revoke).await;
    let revoked = browser.submit(&confirm.text, revoke, &[]).await;
    assert_eq!(redirected(&revoked), PAGE);
    app.agent_get("/api/v1/agent/real-server", &new_token)
        .await
        .problem(401, "unauthorized");
    let page = browser.follow(&revoked).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("The agent token of web-1 was revoked.")
    );
    assert!(!page.text.contains(revoke), "no token left to revoke");

    // Removing it through its confirmation page.
    let delete = "/real-server-hosts/web-1/delete";
    let confirm = browser.page(delete).await;
    let removed = browser.submit(&confirm.text, delete, &[]).await;
    assert_eq!(redirected(&removed), PAGE);
    app.get(&host_path("web-1")).await.problem(404, "not_found");
    let page = browser.follow(&removed).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Real-server host web-1 removed.")
    );
}

#[tokio::test]
async fn ui_a_viewer_reads_the_hosts_but_is_offered_no_change() {
    let app = TestApp::spawn().await;
    create_host(&app, "web-1", &["10.0.1.11"]).await;
    create_host_token(&app, "web-1").await;
    let viewer = app.session_of("reader", "viewer").await;
    let mut browser = Browser::with_session(&app, Some(&viewer));
    let page = browser.page(PAGE).await;
    assert!(text(&page.text).contains("web-1"));
    assert!(!page
        .text
        .contains("method=\"post\" action=\"/real-server-hosts"));
    assert!(!page.text.contains("/token/revoke"));
    assert_eq!(
        browser.get("/real-server-hosts/web-1/delete").await.status,
        403
    );
}

#[tokio::test]
async fn ui_route_and_tunnel_real_servers_show_their_hosts_state() {
    let app = TestApp::spawn().await;
    create_host(&app, "web-1", &["10.0.1.11"]).await;
    let token = create_host_token(&app, "web-1").await;
    app.create_cluster("web").await;
    let service = app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80, "real_servers": [
                {"address": "10.0.1.11", "port": 80, "forwarding": "route"},
                {"address": "10.0.1.12", "port": 80, "forwarding": "tunnel"},
                {"address": "10.0.1.13", "port": 80, "forwarding": "masq"}]}),
        )
        .await;
    let path = format!("/clusters/web/services/{}", id(&service));
    let mut browser = Browser::new(&app);
    let badges = |html: &str| -> Vec<String> {
        ["10.0.1.11:80", "10.0.1.12:80", "10.0.1.13:80"]
            .iter()
            .map(|key| {
                let row = html
                    .split("<tr id=\"rs-")
                    .find(|row| row.contains(&format!(">{key}</th>")))
                    .expect("the real server's row");
                let cell = row
                    .split("<td role=\"cell\" data-label=\"Forwarding\">")
                    .nth(1)
                    .expect("the real server's forwarding cell");
                text(cell.split("</td>").next().unwrap_or_default())
            })
            .collect()
    };
    let page = browser.page(&path).await;
    assert_eq!(
        badges(&page.text),
        ["route host never seen", "tunnel unmanaged host", "masq"]
    );

    let needs = app
        .agent_get("/api/v1/agent/real-server", &token)
        .await
        .expect(200)
        .clone();
    let page = browser.page(&path).await;
    assert_eq!(badges(&page.text)[0], "route host preparing");
    let report = json!({"version": needs["version"], "agent_version": "0.1.0",
                        "kernel_version": "6.1.0-test"});
    app.agent_post("/api/v1/agent/real-server/report", &token, &report)
        .await
        .expect(204);
    let page = browser.page(&path).await;
    assert_eq!(badges(&page.text)[0], "route host prepared");
    assert!(page.text.contains("href=\"/real-server-hosts#host-web-1\""));
}

//! The fleet page's cluster list sorted by name, traffic or active connections and paged,
//! and the history pages' "page X of N" with a jump to any page, all without JavaScript.

use std::time::Duration;

use lvs_server::agents::AgentOptions;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

/// A report for tcp:10.0.0.1:80 (`cluster_with_service`): `bytes` per second in and out,
/// `active` connections on its first real server.
fn report(bytes: u64, active: u64) -> Value {
    let rates = json!({"connections": 1, "packets_in": 1, "packets_out": 1,
                       "bytes_in": bytes, "bytes_out": bytes});
    let server = |host: u8, active: u64| {
        json!({"key": format!("10.1.0.{host}:80"), "active_connections": active,
               "inactive_connections": 0, "persistent_connections": 0,
               "counters": rates, "rates": rates})
    };
    json!({"services": [{"key": "tcp:10.0.0.1:80", "counters": rates, "rates": rates,
                         "real_servers": [server(1, active), server(2, 0)]}]})
}

/// The clusters' names in the order the fleet page's cards show them: each card's first
/// link to a cluster.
fn card_order(html: &str) -> Vec<String> {
    html.split("<article class=\"card\"")
        .skip(1)
        .filter_map(|card| {
            let link = tags(card, "a").next()?;
            attr(link, "href")?
                .strip_prefix("/clusters/")
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn ui_fleet_sorts_clusters_by_name_traffic_or_connections() {
    let app = TestApp::spawn_with_agents(AgentOptions {
        online_within: Duration::from_secs(30),
        stats_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    })
    .await;
    // busy has the most bytes, crowded the most connections, quiet neither.
    for (cluster, bytes, active) in [
        ("busy", 900_000, 5),
        ("crowded", 1_000, 700),
        ("quiet", 0, 0),
    ] {
        cluster_with_service(&app, cluster).await;
        let token = app.create_agent(cluster, "lb1").await;
        app.agent_post(AGENT_STATS, &token, &report(bytes, active))
            .await
            .expect(204);
    }
    let mut browser = Browser::new(&app);
    // Statistics are summed every interval; until then every cluster has none, and the
    // order is by name.
    let mut by_connections = Vec::new();
    for _ in 0..50 {
        by_connections = card_order(&browser.page("/?sort=connections").await.text);
        if by_connections.first().map(String::as_str) == Some("crowded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(by_connections, ["crowded", "busy", "quiet"]);
    let by_traffic = card_order(&browser.page("/?sort=traffic").await.text);
    assert_eq!(by_traffic, ["busy", "crowded", "quiet"]);
    let page = browser.page("/?sort=connections").await;
    assert_eq!(
        card_order(&browser.page("/?sort=name").await.text),
        ["busy", "crowded", "quiet"]
    );
    // The sort links, the current one marked; the refresh keeps the sort.
    let sorts = tag_where(&page.text, "a", "aria-current", "true");
    assert_eq!(attr(&sorts, "href").as_deref(), Some("/?sort=connections"));
    for href in ["/", "/?sort=name", "/?sort=traffic"] {
        assert!(links(&page.text).contains(&href.to_owned()), "{href}");
    }
    let section = tag_where(&page.text, "section", "id", "fleet");
    assert_eq!(
        attr(&section, "hx-get").as_deref(),
        Some("/live?sort=connections")
    );
    let live = browser.get("/live?sort=connections").await;
    assert_eq!(card_order(&live.text), ["crowded", "busy", "quiet"]);

    let refused = browser.get("/?sort=size").await;
    assert_html(&refused, 400);
    assert!(text(&refused.text).contains("sort: \"size\" is not an order of the cluster list"));
}

#[tokio::test]
async fn ui_fleet_pages_clusters_and_jumps_to_a_page() {
    let app = TestApp::spawn().await;
    for i in 0..26 {
        app.create_cluster(&format!("c{i:02}")).await;
    }
    let mut browser = Browser::new(&app);
    let first = browser.page("/?sort=name").await;
    let shown = text(&first.text);
    assert!(shown.contains("Page 1 of 2"), "{shown}");
    assert_eq!(card_order(&first.text).len(), 24);
    assert_eq!(
        link_labelled(&first.text, "Next").as_deref(),
        Some("/?sort=name&page=2")
    );
    // The jump form keeps the sort.
    let fields = form_fields(&first.text, "/");
    assert!(
        fields.contains(&("sort".to_owned(), "name".to_owned())),
        "{fields:?}"
    );
    assert!(fields.iter().any(|(name, _)| name == "page"), "{fields:?}");
    assert!(first.text.contains("<label for=\"jump-page\">"));

    let second = browser.page("/?sort=name&page=2").await;
    assert_eq!(card_order(&second.text), ["c24", "c25"]);
    assert!(text(&second.text).contains("Page 2 of 2"));
    assert_eq!(
        link_labelled(&second.text, "Previous").as_deref(),
        Some("/?sort=name&page=1")
    );
    let section = tag_where(&second.text, "section", "id", "fleet");
    assert_eq!(
        attr(&section, "hx-get").as_deref(),
        Some("/live?sort=name&page=2")
    );

    for bad in ["3", "0", "two"] {
        let refused = browser.get(&format!("/?page={bad}")).await;
        assert_html(&refused, 400);
        let shown = text(&refused.text);
        assert!(
            shown.contains(&format!(
                "page: \"{bad}\" is not a page of this list, which has pages 1 to 2"
            )),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn ui_history_pages_say_where_they_are_and_jump() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    // Generation 1 made the service; 59 more each add a real server: 60 changes.
    for host in 3..62 {
        app.create_real_server("web", service, &masq_server(host, 80))
            .await;
    }
    assert_eq!(app.generation("web").await, 60);
    let mut browser = Browser::new(&app);
    let newest = browser.page("/clusters/web/changes").await;
    assert!(text(&newest.text).contains("Page 1 of 2"));
    assert!(has_form(&newest.text, "/clusters/web/changes"));
    let older = link_labelled(&newest.text, "Older").expect("an older page");
    let by_link = browser.page(&older).await;
    let by_jump = browser.page("/clusters/web/changes?page=2").await;
    for page in [&by_link, &by_jump] {
        let shown = text(&page.text);
        assert!(shown.contains("Page 2 of 2"), "{shown}");
        let generations: Vec<String> = links(&page.text)
            .into_iter()
            .filter_map(|l| l.strip_prefix("/clusters/web/changes/").map(str::to_owned))
            .filter(|rest| !rest.contains('/'))
            .collect();
        assert_eq!(
            generations.first().map(String::as_str),
            Some("10"),
            "{generations:?}"
        );
        assert_eq!(generations.len(), 10, "{generations:?}");
    }
    assert!(text(&browser.page("/clusters/web/changes?page=1").await.text).contains("Page 1 of 2"));
    let refused = browser.get("/clusters/web/changes?page=3").await;
    assert_html(&refused, 400);
    assert!(text(&refused.text).contains("page: \"3\" is not a page of this list"));

    // Health events: none yet is page 1 of 1, with no jump to offer.
    let events = browser.page("/clusters/web/health-events").await;
    assert!(text(&events.text).contains("Page 1 of 1"));
    assert!(!events.text.contains("id=\"jump-page\""));
}

//! The fleet-wide search from the header's box: a real server's address finds it in both
//! clusters that use it, and a result leads to its row on the service's page.

use serde_json::json;

use crate::app::{screenshot_dir, App};
use crate::driver::{dom_text, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_box_finds_a_real_server_across_clusters() {
    crate::within_limit(run()).await;
}

async fn run() {
    let app = App::start().await;
    for (cluster, vip, port) in [("web", "20.0.0.100", 80), ("dns", "20.0.0.53", 53)] {
        app.post("/api/v1/clusters", &json!({"name": cluster}), None, 201)
            .await;
        let service = json!({"protocol": "tcp", "address": vip, "port": port,
            "real_servers": [
                {"address": "10.1.0.11", "port": port, "forwarding": "masq"},
                {"address": "10.1.0.12", "port": port, "forwarding": "masq"}]});
        app.post(
            &format!("/api/v1/clusters/{cluster}/services"),
            &service,
            None,
            201,
        )
        .await;
    }
    let b = Browser::start(app.base.clone()).await;
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;
    let shots = screenshot_dir();

    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    let header = b.find("header form[role=search]").await;
    b.fill(&header, "Search the fleet", "10.1.0.11").await;
    b.press(&header, "Search").await;
    b.expect_page("Search the fleet", 200).await;
    assert_eq!(b.path().await, "/search?q=10.1.0.11");
    let mut rows = Vec::new();
    for row in b.find_all("main table tbody tr").await {
        rows.push(dom_text(&row).await);
    }
    assert_eq!(
        rows,
        [
            "10.1.0.11:53 tcp:20.0.0.53:53 dns masq 1 active",
            "10.1.0.11:80 tcp:20.0.0.100:80 web masq 1 active",
        ],
        "both clusters' real servers at the address"
    );
    b.screenshots(&shots, "search").await;

    let table = b.find("main table").await;
    b.follow(&table, "10.1.0.11:53").await;
    b.expect_page("tcp:20.0.0.53:53", 200).await;
    let path = b.path().await;
    assert!(path.starts_with("/clusters/dns/services/"), "{path}");
    let url = b.url().await;
    let row_id = url.split('#').nth(1).unwrap_or_default().to_owned();
    assert!(row_id.starts_with("rs-"), "{url}");
    let row = b.find(&format!("tr#{row_id}")).await;
    assert!(dom_text(&row).await.contains("10.1.0.11:53"));

    // A query the search cannot read explains itself, beside what can be searched.
    b.goto("/search?q=tcp%3A20.0.0.100").await;
    b.expect_page("Search the fleet", 200).await;
    let alert = dom_text(&b.find("main [role=alert]").await).await;
    assert!(alert.contains("write address:port"), "{alert}");
    b.screenshots(&shots, "search-help").await;
    b.quit().await;
}

//! The change detail page shows what a removal took away: a removed real server's and a
//! removed service's stored settings, not only their keys.

use crate::helpers::*;
use crate::ui_browser::*;

#[tokio::test]
async fn ui_change_page_shows_the_removed_objects_settings() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let servers = app
        .get(&real_servers("web", service))
        .await
        .expect(200)
        .clone();
    let second = servers["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|rs| rs["address"] == "10.1.0.2")
        .and_then(|rs| rs["id"].as_i64())
        .expect("real server 10.1.0.2");
    app.patch_ok(
        &real_server_path("web", service, second),
        &serde_json::json!({"weight": 7, "description": "rack 4"}),
    )
    .await;
    app.delete(&real_server_path("web", service, second), None)
        .await
        .expect(204);
    let removed_server = app.generation("web").await;
    app.delete(&service_path("web", service), None)
        .await
        .expect(204);
    let removed_service = app.generation("web").await;

    let mut browser = Browser::new(&app);
    let page = browser
        .page(&format!("/clusters/web/changes/{removed_server}"))
        .await;
    let shown = text(&page.text);
    assert!(
        shown.contains(
            "removed: real server 10.1.0.2:80 of tcp:10.0.0.1:80: description rack 4; \
             forwarding masq; state active; weight 7"
        ),
        "{shown}"
    );
    let page = browser
        .page(&format!("/clusters/web/changes/{removed_service}"))
        .await;
    let shown = text(&page.text);
    for line in [
        "removed: service tcp:10.0.0.1:80: ",
        "1 real servers",
        "removed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: forwarding masq; state active; weight 1",
    ] {
        assert!(shown.contains(line), "{line:?} in {shown}");
    }
}

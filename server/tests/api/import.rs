//! `POST /api/v1/clusters/{cluster}/import`: adopting a director's existing services.

use serde_json::{json, Value};

use crate::helpers::*;

fn import_path(cluster: &str, director: &str) -> String {
    format!("/api/v1/clusters/{cluster}/import?from_director={director}")
}

fn unmanaged_report(services: Value) -> Value {
    let mut report = apply_report(0, &[]);
    report["unmanaged_services"] = services;
    report
}

#[tokio::test]
async fn import_adopts_a_directors_services_at_generation_0_only() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.create_director("web", "lb1").await;
    app.create_director("web", "lb2").await;
    let token = app.create_token("web", "lb1").await;

    app.post_empty(&import_path("web", "lb1"), None)
        .await
        .problem(409, "not_reported");

    let mut service = tcp_service(80);
    service["scheduler"] = json!("wrr");
    service["real_servers"] = json!([masq_server(1, 80), masq_server(2, 80)]);
    let services = json!([service, {"fwmark": 42, "family": "ipv4"}]);
    app.agent_post(AGENT_REPORT, &token, &unmanaged_report(services))
        .await
        .expect(204);
    let status = app.get(&director_path("web", "lb1")).await.expect(200)["status"].clone();
    assert_eq!(status["unmanaged_services"], 2);
    assert_eq!(status["sync"], "in_sync");

    app.post_empty(&import_path("web", "nope"), None)
        .await
        .problem(404, "not_found");
    app.post_empty(&import_path("nope", "lb1"), None)
        .await
        .problem(404, "not_found");
    app.post_empty("/api/v1/clusters/web/import", None)
        .await
        .problem(400, "invalid_query");

    let imported = app.post_empty(&import_path("web", "lb1"), None).await;
    let diff = imported.expect(200).clone();
    assert_eq!(imported.etag(), "\"gen-1\"");
    assert_eq!(diff["to_generation"], 1, "{diff}");
    assert_eq!(app.generation("web").await, 1);
    let (document, _) = app.desired_state("web").await;
    let keys: Vec<String> = app
        .all_services("web")
        .await
        .iter()
        .map(|s| s["key"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(keys.len(), 2, "{document}");
    assert!(keys.contains(&"tcp:10.0.0.1:80".to_owned()), "{keys:?}");
    let tcp = document["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["port"] == 80)
        .expect("the tcp service")
        .clone();
    assert_eq!(tcp["scheduler"], "wrr");
    assert_eq!(tcp["real_servers"].as_array().map(Vec::len), Some(2));

    // The director is now behind until it reports generation 1.
    let status = app.get(&director_path("web", "lb1")).await.expect(200)["status"].clone();
    assert_eq!(status["sync"], "behind");

    let again = app.post_empty(&import_path("web", "lb1"), None).await;
    assert!(again.problem(409, "already_managed")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("generation 1"));
}

#[tokio::test]
async fn import_validates_the_reported_services() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.create_director("web", "lb1").await;
    let token = app.create_token("web", "lb1").await;
    let mut bad = tcp_service(80);
    bad["scheduler"] = json!("nope");
    let services = json!([tcp_service(81), bad]);
    app.agent_post(AGENT_REPORT, &token, &unmanaged_report(services))
        .await
        .expect(204);
    let resp = app.post_empty(&import_path("web", "lb1"), None).await;
    assert_eq!(resp.invalid_fields(), ["services[1].scheduler"]);
    assert_eq!(app.generation("web").await, 0);
}

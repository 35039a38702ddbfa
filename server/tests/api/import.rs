//! `POST /api/v1/clusters/{cluster}/import`: adopting a director's existing services.

use serde_json::{json, Value};

use crate::helpers::*;

fn import_path(cluster: &str, director: &str) -> String {
    format!("/api/v1/clusters/{cluster}/import?from_director={director}")
}

/// Imports the services `director` last reported, which must succeed; the answer.
async fn import(app: &TestApp, cluster: &str, director: &str) -> Value {
    app.post_empty(&import_path(cluster, director), None)
        .await
        .expect(200)
        .clone()
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
    app.agent_report(&token, &unmanaged_report(services)).await;
    let status = app.get(&director_path("web", "lb1")).await.expect(200)["status"].clone();
    assert_eq!(status["unmanaged_services"], 2);
    assert_eq!(status["sync"], "unmanaged");

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
    let token = app.create_agent("web", "lb1").await;
    let mut bad = tcp_service(80);
    bad["scheduler"] = json!("nope");
    let services = json!([tcp_service(81), bad]);
    app.agent_report(&token, &unmanaged_report(services)).await;
    let resp = app.post_empty(&import_path("web", "lb1"), None).await;
    assert_eq!(resp.invalid_fields(), ["services[1].scheduler"]);
    assert_eq!(app.generation("web").await, 0);
}

fn report_with_timeouts(services: Value, timeouts: Value) -> Value {
    let mut report = unmanaged_report(services);
    report["unmanaged_timeouts"] = timeouts;
    report
}

async fn cluster_timeouts(app: &TestApp, cluster: &str) -> Value {
    app.get(&cluster_path(cluster)).await.expect(200)["timeouts"].clone()
}

#[tokio::test]
async fn import_takes_the_timeouts_the_director_reported() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    // `ipvsadm --set 1800 60 120` on lb1.
    let timeouts = json!({"tcp": 1800, "tcpfin": 60, "udp": 120});
    let report = report_with_timeouts(json!([tcp_service(80)]), timeouts.clone());
    app.agent_report(&token, &report).await;

    let answer = import(&app, "web", "lb1").await;
    assert_eq!(answer["summary"]["timeouts_changed"], true, "{answer:#}");
    assert_eq!(answer["timeouts"]["new"], timeouts, "{answer:#}");
    assert_eq!(answer["not_imported"], json!([]), "{answer:#}");
    assert_eq!(cluster_timeouts(&app, "web").await, timeouts);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["timeouts"], timeouts);
    assert_eq!(document["services"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn imported_timeouts_equal_to_the_kernel_defaults_stay_the_kernels() {
    let app = TestApp::spawn().await;
    // The cluster was created setting UDP; the agent sets it and does not report it.
    app.post(
        "/api/v1/clusters",
        &json!({"name": "web", "timeouts": {"udp": 30}}),
    )
    .await
    .expect(201);
    let token = app.create_agent("web", "lb1").await;
    // tcp tuned by hand, tcpfin at the kernel's default.
    let report = report_with_timeouts(json!([]), json!({"tcp": 1800, "tcpfin": 120}));
    app.agent_report(&token, &report).await;
    let answer = import(&app, "web", "lb1").await;
    assert_eq!(answer["not_imported"], json!([]), "{answer:#}");
    assert_eq!(
        cluster_timeouts(&app, "web").await,
        json!({"tcp": 1800, "tcpfin": null, "udp": 30})
    );

    // An untouched director: nothing to change.
    app.create_cluster("fresh").await;
    let token = app.create_agent("fresh", "lb1").await;
    let defaults = json!({"tcp": 900, "tcpfin": 120, "udp": 300});
    let report = report_with_timeouts(json!([tcp_service(80)]), defaults);
    app.agent_report(&token, &report).await;
    let answer = import(&app, "fresh", "lb1").await;
    assert_eq!(answer["summary"]["timeouts_changed"], false, "{answer:#}");
    assert_eq!(
        cluster_timeouts(&app, "fresh").await,
        json!({"tcp": null, "tcpfin": null, "udp": null})
    );
}

#[tokio::test]
async fn import_says_when_the_director_did_not_report_its_timeouts() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    // An agent that predates reporting timeouts sends none.
    app.agent_report(&token, &unmanaged_report(json!([tcp_service(80)])))
        .await;
    let answer = import(&app, "web", "lb1").await;
    assert_eq!(answer["summary"]["timeouts_changed"], false, "{answer:#}");
    assert_eq!(answer["summary"]["services_added"], 1, "{answer:#}");
    let left_out = answer["not_imported"].as_array().expect("not_imported");
    assert_eq!(left_out.len(), 1, "{answer:#}");
    assert_eq!(left_out[0]["what"], "timeouts");
    let reason = left_out[0]["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("lb1") && reason.contains("did not report"),
        "{reason}"
    );
}

#[tokio::test]
async fn reported_timeouts_are_validated_at_import() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let report = report_with_timeouts(json!([]), json!({"tcp": 4_000_000}));
    app.agent_report(&token, &report).await;
    let resp = app.post_empty(&import_path("web", "lb1"), None).await;
    assert_eq!(resp.invalid_fields(), ["timeouts.tcp"]);
    assert_eq!(app.generation("web").await, 0);
}

#[tokio::test]
async fn a_director_holding_services_at_generation_0_is_unmanaged_not_in_sync() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.create_director("web", "lb1").await;
    app.create_director("web", "lb2").await;
    let lb1 = app.create_token("web", "lb1").await;
    let lb2 = app.create_token("web", "lb2").await;
    app.agent_report(&lb1, &unmanaged_report(json!([tcp_service(80)])))
        .await;
    // An empty kernel at generation 0 is truly in sync.
    app.agent_report(&lb2, &unmanaged_report(json!([]))).await;
    let status = |name: &'static str| {
        let app = &app;
        async move { app.get(&director_path("web", name)).await.expect(200)["status"].clone() }
    };
    assert_eq!(status("lb1").await["sync"], "unmanaged");
    assert_eq!(status("lb2").await["sync"], "in_sync");
    let list = app
        .get("/api/v1/clusters/web/directors")
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["status"]["sync"], "unmanaged", "{list:#}");

    // The fleet page and the directors page say so, as a warning.
    let fleet = app.get("/").await.text;
    assert!(fleet.contains("online, unmanaged"), "{fleet}");
    assert!(fleet.contains("not managed yet"), "{fleet}");
    let page = app.get("/clusters/web/directors").await.text;
    assert!(
        page.contains(r#"<span class="badge warn">online, unmanaged</span>"#),
        "{page}"
    );
    assert!(
        page.contains("holds 1 services that its agent leaves alone"),
        "{page}"
    );

    import(&app, "web", "lb1").await;
    assert_eq!(status("lb1").await["sync"], "behind");
    let page = app.get("/clusters/web/directors").await.text;
    assert!(!page.contains("leaves alone"), "{page}");
}

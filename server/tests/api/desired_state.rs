//! `/api/v1/clusters/{cluster}/desired-state`, and the generation.

use lvs_model::spec::DesiredStateSpec;
use serde_json::{json, Value};

use crate::helpers::*;

fn document() -> Value {
    json!({
        "timeouts": {"tcp": 900},
        "services": [
            {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "name": "web",
             "real_servers": [
                {"address": "10.1.0.1", "forwarding": "route", "weight": 5},
                {"address": "10.1.0.2", "forwarding": "route", "weight": 5}
             ]},
            {"fwmark": 9, "family": "ipv4", "scheduler": "rr",
             "real_servers": [{"address": "10.1.0.3", "forwarding": "masq"}]},
            {"protocol": "udp", "address": "10.0.0.1", "port": 53, "real_servers": []}
        ]
    })
}

/// What GET should show for `document` at `generation`.
pub fn canonical(cluster: &str, document: &Value, generation: u64) -> Value {
    let spec: DesiredStateSpec = serde_json::from_value(document.clone()).expect("a document");
    let mut canonical = DesiredStateSpec::from(&spec.parse().expect("a valid document"));
    canonical.cluster = Some(cluster.to_owned());
    canonical.generation = Some(generation);
    serde_json::to_value(canonical).expect("JSON")
}

/// A server whose cluster `web` holds [`document`] (at generation 1).
async fn web_holding_document() -> TestApp {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.put(&desired_state("web"), &document(), None)
        .await
        .expect(200);
    app
}

#[tokio::test]
async fn a_new_cluster_has_an_empty_desired_state_at_generation_0() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let resp = app.get(&desired_state("web")).await;
    assert_eq!(resp.etag.as_deref(), Some("\"gen-0\""));
    assert_eq!(
        resp.expect(200),
        &json!({"cluster": "web", "generation": 0,
                "timeouts": {"tcp": null, "tcpfin": null, "udp": null},
                "host": {"vips": null, "sysctls": {
                    "conn_reuse_mode": null, "expire_nodest_conn": null,
                    "expire_quiescent_template": null, "sloppy_tcp": null, "sloppy_sctp": null,
                    "conntrack": null, "schedule_icmp": null, "ignore_tunneled": null,
                    "snat_reroute": null},
                    "sync": null},
                "services": []})
    );
    app.get(&desired_state("nope"))
        .await
        .problem(404, "not_found");
    app.put(
        &desired_state("nope"),
        &json!({"timeouts": {}, "services": []}),
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn put_replaces_everything_and_answers_with_the_diff() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    // Something that the document removes.
    app.create_service("web", &tcp_service(8080)).await;

    let resp = app.put(&desired_state("web"), &document(), None).await;
    let diff = resp.expect(200).clone();
    assert_eq!(resp.etag.as_deref(), Some("\"gen-2\""));
    assert_eq!(diff["from_generation"], 1);
    assert_eq!(diff["to_generation"], 2);
    assert_eq!(
        diff["summary"],
        json!({"services_added": 3, "services_removed": 1, "services_changed": 0,
               "real_servers_added": 3, "real_servers_removed": 0,
               "real_servers_changed": 0, "timeouts_changed": true, "host_changed": false})
    );
    assert_eq!(
        diff["timeouts"],
        json!({"old": {"tcp": null, "tcpfin": null, "udp": null},
               "new": {"tcp": 900, "tcpfin": null, "udp": null}})
    );
    let changes: Vec<_> = diff["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|c| {
            (
                c["change"].as_str().expect("change"),
                c["key"].as_str().expect("key"),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("added", "tcp:10.0.0.1:80"),
            ("removed", "tcp:10.0.0.1:8080"),
            ("added", "udp:10.0.0.1:53"),
            ("added", "fwmark:9:ipv4")
        ]
    );

    let (got, etag) = app.desired_state("web").await;
    assert_eq!(etag, "\"gen-2\"");
    assert_eq!(got, canonical("web", &document(), 2));
    assert_eq!(app.generation("web").await, 2);

    // The same document again: an empty diff, no new generation.
    let again = app.put(&desired_state("web"), &document(), None).await;
    let diff = again.expect(200).clone();
    assert_eq!(again.etag.as_deref(), Some("\"gen-2\""));
    assert_eq!(diff["from_generation"], 2);
    assert_eq!(diff["to_generation"], 2);
    assert_eq!(diff["services"], json!([]));
    assert!(diff.get("timeouts").is_none());
    assert!(diff["summary"]
        .as_object()
        .expect("summary")
        .values()
        .all(|v| *v == json!(0) || *v == json!(false)));
    // So is the document as GET shows it, generation and cluster included.
    let echo = app
        .put(&desired_state("web"), &got, Some("\"gen-2\""))
        .await;
    assert_eq!(echo.expect(200)["services"], json!([]));
    assert_eq!(app.desired_state("web").await, (got, etag));
}

#[tokio::test]
async fn a_changed_weight_is_a_real_server_change_and_dry_run_changes_nothing() {
    let app = web_holding_document().await;
    let before_services = app.all_services("web").await;
    let web = id(&before_services[0]);
    let before_servers = app.get(&real_servers("web", web)).await.body;
    let before = app.desired_state("web").await;

    let mut changed = document();
    changed["services"][0]["real_servers"][1]["weight"] = json!(9);
    changed["services"][2]["scheduler"] = json!("rr");

    let dry = app
        .put(
            &format!("{}?dry_run=true", desired_state("web")),
            &changed,
            None,
        )
        .await;
    let dry_diff = dry.expect(200).clone();
    assert_eq!(
        dry.etag.as_deref(),
        Some("\"gen-2\""),
        "what it would become"
    );
    assert_eq!(
        app.desired_state("web").await,
        before,
        "a dry run changes nothing"
    );
    assert_eq!(app.all_services("web").await, before_services);

    let resp = app.put(&desired_state("web"), &changed, None).await;
    let diff = resp.expect(200).clone();
    assert_eq!(diff, dry_diff, "a dry run shows exactly the diff");
    assert_eq!(
        diff["summary"],
        json!({"services_added": 0, "services_removed": 0, "services_changed": 1,
               "real_servers_added": 0, "real_servers_removed": 0,
               "real_servers_changed": 1, "timeouts_changed": false, "host_changed": false})
    );
    let services = diff["services"].as_array().expect("services");
    assert_eq!(services.len(), 2);
    assert_eq!(services[0]["change"], "changed");
    assert_eq!(services[0]["key"], "tcp:10.0.0.1:80");
    assert!(services[0].get("settings").is_none());
    assert_eq!(
        services[0]["real_servers"],
        json!([{"change": "changed", "key": "10.1.0.2:80",
                "old": {"address": "10.1.0.2", "port": 80, "forwarding": "route", "weight": 5,
                        "upper_threshold": 0, "lower_threshold": 0, "state": "active",
                        "description": ""},
                "new": {"address": "10.1.0.2", "port": 80, "forwarding": "route", "weight": 9,
                        "upper_threshold": 0, "lower_threshold": 0, "state": "active",
                        "description": ""}}])
    );
    assert_eq!(services[1]["key"], "udp:10.0.0.1:53");
    assert_eq!(services[1]["settings"]["old"]["scheduler"], "wlc");
    assert_eq!(services[1]["settings"]["new"]["scheduler"], "rr");
    assert_eq!(app.generation("web").await, 2);
    assert_eq!(
        app.desired_state("web").await.0,
        canonical("web", &changed, 2)
    );

    // Only the changed rows were written: every id survives, and untouched rows keep
    // their timestamps.
    let after_services = app.all_services("web").await;
    assert_eq!(
        after_services.iter().map(id).collect::<Vec<_>>(),
        before_services.iter().map(id).collect::<Vec<_>>()
    );
    assert_eq!(after_services[0], before_services[0], "settings untouched");
    assert_eq!(after_services[2], before_services[2]);
    assert_eq!(before_services[1]["key"], "udp:10.0.0.1:53");
    assert_eq!(after_services[1]["scheduler"], "rr");
    let after_servers = app.get(&real_servers("web", web)).await.body;
    assert_eq!(after_servers["items"][0], before_servers["items"][0]);
    assert_eq!(
        id(&after_servers["items"][1]),
        id(&before_servers["items"][1])
    );
    assert_eq!(after_servers["items"][1]["weight"], 9);
}

#[tokio::test]
async fn an_invalid_document_changes_nothing() {
    let app = web_holding_document().await;
    let before = app.desired_state("web").await;

    // Route forwarding cannot map the port.
    let mut bad = document();
    bad["services"]
        .as_array_mut()
        .expect("services")
        .push(json!({
        "protocol": "tcp", "address": "10.0.0.2", "port": 80,
        "real_servers": [{"address": "10.1.0.9", "forwarding": "route", "port": 81}]}));
    bad["services"][0]["real_servers"][0]["weight"] = json!(1);
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["services[3].real_servers[0].port"]);

    let mut bad = document();
    bad["services"][1]["real_servers"][0]["port"] = json!(80);
    bad["services"][1]["real_servers"][0]["forwarding"] = json!("route");
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["services[1].real_servers[0].port"]);

    // Several problems: one entry each, with their paths.
    let mut bad = document();
    bad["timeouts"]["udp"] = json!(0);
    bad["services"][0]["real_servers"][0]["state"] = json!("asleep");
    bad["services"][0]["real_servers"][1]["weight"] = json!(70000);
    bad["services"][1]["scheduler"] = json!("fastest");
    bad["services"][2]["port"] = json!(0);
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(
        resp.invalid_fields(),
        [
            "timeouts.udp",
            "services[0].real_servers[0].state",
            "services[0].real_servers[1].weight",
            "services[1].scheduler",
            "services[2].port"
        ]
    );

    // Type errors are reported against their field too.
    let mut bad = document();
    bad["services"][1]["real_servers"][0]["weight"] = json!("heavy");
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(
        resp.invalid_fields(),
        ["services[1].real_servers[0].weight"]
    );

    // Two services with one key.
    let mut bad = document();
    bad["services"].as_array_mut().expect("services").push(
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "name": "again",
                "real_servers": []}),
    );
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["services[3]"]);
    // Also when written differently.
    let mut bad = document();
    let services = bad["services"].as_array_mut().expect("services");
    services.push(pooled(
        json!({"protocol": "tcp", "address": "2001:db8::1", "port": 80}),
    ));
    services.push(pooled(
        json!({"protocol": "tcp", "address": "2001:DB8:0:0::1", "port": 80}),
    ));
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["services[4]"]);
    // Two real servers with one address and port.
    let mut bad = document();
    bad["services"][0]["real_servers"][1]["address"] = json!("10.1.0.1");
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["services[0].real_servers[1]"]);

    // Unknown fields are refused.
    let mut bad = document();
    bad["services"][0]["real_servers"][0]["wieght"] = json!(3);
    let resp = app.put(&desired_state("web"), &bad, None).await;
    let fields = resp.invalid_fields();
    assert_eq!(fields.len(), 1);
    assert!(resp.text.contains("wieght"), "{}", resp.text);

    // A document for another cluster.
    let mut bad = document();
    bad["cluster"] = json!("db");
    let resp = app.put(&desired_state("web"), &bad, None).await;
    assert_eq!(resp.invalid_fields(), ["cluster"]);

    assert_eq!(app.desired_state("web").await, before);
}

#[tokio::test]
async fn stale_writes_are_refused() {
    let app = web_holding_document().await;
    let before = app.desired_state("web").await;
    assert_eq!(before.1, "\"gen-1\"");
    let mut changed = document();
    changed["services"][2]["name"] = json!("dns");

    // A stale generation in the body.
    let mut stale = changed.clone();
    stale["generation"] = json!(0);
    app.put(&desired_state("web"), &stale, None)
        .await
        .problem(412, "precondition_failed");
    // A stale If-Match; dry runs check it too.
    app.put(&desired_state("web"), &changed, Some("\"gen-0\""))
        .await
        .problem(412, "precondition_failed");
    app.put(
        &format!("{}?dry_run=true", desired_state("web")),
        &changed,
        Some("\"gen-0\""),
    )
    .await
    .problem(412, "precondition_failed");
    // A weak tag never matches.
    app.put(&desired_state("web"), &changed, Some("W/\"gen-1\""))
        .await
        .problem(412, "precondition_failed");
    assert_eq!(app.desired_state("web").await, before);

    // Current ones pass.
    let mut current = changed.clone();
    current["generation"] = json!(1);
    current["cluster"] = json!("web");
    let resp = app
        .put(&desired_state("web"), &current, Some("\"gen-1\""))
        .await;
    assert_eq!(resp.expect(200)["to_generation"], 2);
    assert_eq!(app.generation("web").await, 2);
    // And the first writer's generation is now stale.
    app.put(&desired_state("web"), &current, None)
        .await
        .problem(412, "precondition_failed");
    let resp = app.put(&desired_state("web"), &document(), Some("*")).await;
    assert_eq!(resp.expect(200)["to_generation"], 3);
}

#[tokio::test]
async fn generation_counts_committed_changes_only() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut expected = 0;
    assert_eq!(app.generation("web").await, expected);

    // Creating a service, with or without real servers, is one change.
    let service = id(&app.create_service("web", &tcp_service(80)).await);
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
    let rs = id(&app
        .create_real_server("web", service, &masq_server(1, 80))
        .await);
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
    let rs_path = real_server_path("web", service, rs);
    let svc_path = service_path("web", service);

    app.patch_ok(&rs_path, &json!({"weight": 4})).await;
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
    // No-op updates are no change.
    app.patch_ok(&rs_path, &json!({"weight": 4})).await;
    app.put(
        &rs_path,
        &json!({"address": "10.1.0.1", "forwarding": "masq", "weight": 4}),
        None,
    )
    .await
    .expect(200);
    app.patch_ok(&svc_path, &json!({})).await;
    app.put(&svc_path, &tcp_service(80), None).await.expect(200);
    assert_eq!(app.generation("web").await, expected);

    app.patch_ok(&svc_path, &json!({"scheduler": "rr"})).await;
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
    app.patch_ok(&svc_path, &json!({"name": "labels are state too"}))
        .await;
    expected += 1;
    assert_eq!(app.generation("web").await, expected);

    // Directors and cluster descriptions are not desired state.
    app.create_director("web", "lb1").await;
    app.patch_ok(&director_path("web", "lb1"), &json!({"description": "d"}))
        .await;
    app.delete(&director_path("web", "lb1"), None)
        .await
        .expect(204);
    app.patch_ok(&cluster_path("web"), &json!({"description": "d"}))
        .await;
    assert_eq!(app.generation("web").await, expected);

    app.patch_ok(&cluster_path("web"), &json!({"timeouts": {"udp": 30}}))
        .await;
    expected += 1;
    assert_eq!(app.generation("web").await, expected);

    // Refused writes are no change.
    app.patch(&rs_path, &json!({"weight": -1}), None)
        .await
        .invalid_fields();
    app.patch(&rs_path, &json!({"weight": 5}), Some("\"stale\""))
        .await
        .problem(412, "precondition_failed");
    assert_eq!(app.generation("web").await, expected);

    app.delete(&rs_path, None).await.expect(204);
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
    app.delete(&svc_path, None).await.expect(204);
    expected += 1;
    assert_eq!(app.generation("web").await, expected);

    // Each generation is also what the next declarative write starts from.
    let resp = app.put(&desired_state("web"), &document(), None).await;
    assert_eq!(resp.expect(200)["from_generation"], expected);
    expected += 1;
    assert_eq!(resp.etag(), format!("\"gen-{expected}\""));
    assert_eq!(app.generation("web").await, expected);
    // Timeouts in a document are desired state.
    let mut doc = document();
    doc["timeouts"]["udp"] = json!(30);
    let resp = app.put(&desired_state("web"), &doc, None).await;
    assert_eq!(resp.expect(200)["summary"]["timeouts_changed"], true);
    expected += 1;
    assert_eq!(app.generation("web").await, expected);
}

#[tokio::test]
async fn an_absent_list_or_object_is_refused_and_deletes_nothing() {
    let app = web_holding_document().await;
    let (before, _) = app.desired_state("web").await;
    // What a `jq` filter that went wrong could send.
    for body in [
        json!({}),
        json!({"timeouts": {}}),
        json!({"timeouts": {"tcp": 901}}),
        json!({"generation": 1, "timeouts": {"tcp": 900}}),
    ] {
        let resp = app.put(&desired_state("web"), &body, None).await;
        let problem = resp.problem(422, "validation_failed");
        let errors = problem["errors"].as_array().expect("errors");
        let services = errors
            .iter()
            .find(|e| e["field"] == "services")
            .unwrap_or_else(|| panic!("{body}: {errors:?}"));
        let message = services["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("required: "), "{message}");
        assert!(message.contains(r#""services": []"#), "{message}");
    }
    assert_eq!(
        app.put(&desired_state("web"), &json!({"services": []}), None)
            .await
            .invalid_fields(),
        ["timeouts"]
    );
    // A service's pool and every other error, all at once.
    let mut partial = document();
    partial["services"][0]
        .as_object_mut()
        .expect("a service")
        .remove("real_servers");
    partial["services"][1]["port"] = json!(0);
    assert_eq!(
        app.put(&desired_state("web"), &partial, None)
            .await
            .invalid_fields(),
        ["services[0].real_servers", "services[1].port"]
    );
    let (after, _) = app.desired_state("web").await;
    assert_eq!(after, before, "nothing was deleted");

    // Creating a service without its pool deletes nothing, so it may leave it out.
    app.create_service("web", &tcp_service(8080)).await;
}

#[tokio::test]
async fn an_empty_list_written_out_empties_the_cluster() {
    let app = web_holding_document().await;
    let resp = app
        .put(
            &desired_state("web"),
            &json!({"timeouts": {}, "services": []}),
            None,
        )
        .await;
    assert_eq!(resp.expect(200)["summary"]["services_removed"], 3);
    let (after, _) = app.desired_state("web").await;
    assert_eq!(after["services"], json!([]));
    assert_eq!(
        after["timeouts"],
        json!({"tcp": null, "tcpfin": null, "udp": null})
    );
}

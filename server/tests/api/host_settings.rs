//! A cluster's host settings (VIPs, IPVS sysctls): stored with the cluster, part of its
//! desired state, versioned and sent to its agents like any other change.

use serde_json::{json, Value};

use crate::helpers::*;

fn host_lvs0() -> Value {
    json!({
        "vips": {"interface": "lvs0", "create": true},
        "sysctls": {"conn_reuse_mode": 0, "expire_nodest_conn": true, "conntrack": true}
    })
}

/// The canonical form: every sysctl written out.
fn canonical(host: &Value) -> Value {
    let mut sysctls = json!({
        "conn_reuse_mode": null, "expire_nodest_conn": null,
        "expire_quiescent_template": null, "sloppy_tcp": null, "sloppy_sctp": null,
        "conntrack": null, "schedule_icmp": null, "ignore_tunneled": null,
        "snat_reroute": null
    });
    for (name, value) in host["sysctls"].as_object().into_iter().flatten() {
        sysctls[name] = value.clone();
    }
    json!({
        "vips": host.get("vips").cloned().unwrap_or(Value::Null),
        "sysctls": sysctls,
        "sync": host.get("sync").cloned().unwrap_or(Value::Null)
    })
}

#[tokio::test]
async fn host_settings_are_a_versioned_part_of_the_desired_state() {
    let app = TestApp::spawn().await;

    // A cluster created without them manages no VIPs and sets no sysctl.
    let plain = app.create_cluster("plain").await;
    assert_eq!(plain["host"], canonical(&json!({})));

    let created = app
        .post(
            "/api/v1/clusters",
            &json!({"name": "web", "host": host_lvs0()}),
        )
        .await;
    assert_eq!(created.expect(201)["host"], canonical(&host_lvs0()));
    assert_eq!(
        app.generation("web").await,
        0,
        "creating sets no desired state"
    );

    let token = app.create_agent("web", "lb1").await;
    let document = app.agent_get(AGENT_DESIRED_STATE, &token).await;
    assert_eq!(document.expect(200)["host"], canonical(&host_lvs0()));

    // A PATCH of one sysctl is a change of the desired state: a new generation whose diff
    // holds the settings before and after.
    let patched = app
        .patch_ok(
            &cluster_path("web"),
            &json!({"host": {"sysctls": {"sloppy_tcp": true}}}),
        )
        .await;
    assert_eq!(patched["host"]["sysctls"]["sloppy_tcp"], true);
    assert_eq!(
        patched["host"]["sysctls"]["conntrack"], true,
        "merged, not replaced"
    );
    assert_eq!(patched["host"]["vips"]["interface"], "lvs0");
    assert_eq!(patched["generation"], 1);
    let change = app.get("/api/v1/clusters/web/changes/1").await;
    let diff = &change.expect(200)["diff"];
    assert_eq!(diff["summary"]["host_changed"], true);
    assert_eq!(diff["host"]["old"]["sysctls"]["sloppy_tcp"], Value::Null);
    assert_eq!(diff["host"]["new"]["sysctls"]["sloppy_tcp"], true);

    // A PUT without `host` keeps them; the description alone changes no generation.
    let got = app.get(&cluster_path("web")).await;
    let put = app
        .put(
            &cluster_path("web"),
            &json!({"description": "front"}),
            Some(&got.etag()),
        )
        .await;
    assert_eq!(put.expect(200)["host"], patched["host"]);
    assert_eq!(app.generation("web").await, 1);

    // A desired-state document without `host` keeps them too; with one, replaces them.
    let (document, etag) = app.desired_state("web").await;
    assert_eq!(document["host"], patched["host"]);
    let mut without = document.clone();
    without.as_object_mut().expect("object").remove("host");
    without
        .as_object_mut()
        .expect("object")
        .remove("generation");
    without["services"] = json!([{"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                                  "real_servers": []}]);
    let put = app
        .put("/api/v1/clusters/web/desired-state", &without, Some(&etag))
        .await;
    assert_eq!(put.expect(200)["summary"]["host_changed"], false);
    let (document, etag) = app.desired_state("web").await;
    assert_eq!(document["host"], patched["host"]);

    let mut off = without.clone();
    off["host"] = json!({});
    let put = app
        .put("/api/v1/clusters/web/desired-state", &off, Some(&etag))
        .await;
    assert_eq!(put.expect(200)["summary"]["host_changed"], true);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["host"], canonical(&json!({})));

    // Reverting to generation 1 brings them back.
    let (_, etag) = app.desired_state("web").await;
    let reverted = app
        .send(
            app.request(reqwest::Method::POST, "/api/v1/clusters/web/revert?to=1")
                .header("if-match", etag),
        )
        .await;
    reverted.expect(200);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["host"], patched["host"]);

    // The changes reach the agent as diffs, which it can apply.
    let diffs = app
        .agent_get(
            &format!("{AGENT_DESIRED_STATE}?after=1&changes=true&timeout=0"),
            &token,
        )
        .await;
    let body: Value = serde_json::from_str(&diffs.text).expect("changes");
    let hosts: Vec<bool> = body["diffs"]
        .as_array()
        .expect("diffs")
        .iter()
        .map(|d| d["summary"]["host_changed"] == true)
        .collect();
    assert_eq!(hosts, [false, true, true], "{body:#}");
    let changes: lvs_model::agent::DesiredStateChanges =
        serde_json::from_value(body).expect("changes");
    changes.parse().expect("valid diffs");
}

#[tokio::test]
async fn bad_host_settings_are_named_and_change_nothing() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/api/v1/clusters",
            &json!({"name": "web", "host": {"vips": {"interface": "eth0:1"},
                                             "sysctls": {"conn_reuse_mode": 7}}}),
        )
        .await;
    created.problem(422, "validation_failed");
    assert_eq!(
        created.invalid_fields(),
        ["host.vips.interface", "host.sysctls.conn_reuse_mode"]
    );

    // An array is not the object it stands for, not even an empty one.
    for host in [json!({"vips": []}), json!({"sync": []})] {
        let refused = app
            .post("/api/v1/clusters", &json!({"name": "web", "host": host}))
            .await;
        assert!(
            refused.status == 400 || refused.status == 422,
            "{host}: {:?}",
            refused.body
        );
        assert!(
            refused.body.to_string().contains("host"),
            "{:?}",
            refused.body
        );
    }

    app.create_cluster("web").await;
    let unknown = app
        .patch(
            &cluster_path("web"),
            &json!({"host": {"sysctls": {"rp_filter": 0}}}),
            None,
        )
        .await;
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    let got = app.get(&cluster_path("web")).await;
    assert_eq!(got.expect(200)["host"], canonical(&json!({})));
    assert_eq!(app.generation("web").await, 0);
}

#[tokio::test]
async fn fwmark_services_carry_their_marking_rules() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let created = app
        .create_service(
            "web",
            &json!({"fwmark": 7, "family": "ipv4", "persistence_timeout": 300,
                    "mark_rules": [{"protocol": "tcp", "address": "192.0.2.10",
                                    "ports": [443, 80]}]}),
        )
        .await;
    assert_eq!(
        created["mark_rules"],
        json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": [80, 443]}])
    );
    let id = created["id"].as_i64().expect("an id");

    // A PATCH replaces the list; the change reaches the desired state.
    let patched = app
        .patch_ok(
            &service_path("web", id),
            &json!({"mark_rules": [{"protocol": "udp", "address": "192.0.2.10",
                                    "ports": ["5060-5061"]}]}),
        )
        .await;
    assert_eq!(patched["mark_rules"][0]["ports"], json!(["5060-5061"]));
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["services"][0]["mark_rules"], patched["mark_rules"]);

    // Emptied: the marks are someone else's; the field is left out.
    let patched = app
        .patch_ok(&service_path("web", id), &json!({"mark_rules": []}))
        .await;
    assert!(patched.get("mark_rules").is_none(), "{patched:#}");

    let bad = app
        .post(
            &services("web"),
            &json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
                    "mark_rules": [{"protocol": "tcp", "address": "192.0.2.10", "ports": [80]}]}),
        )
        .await;
    bad.problem(422, "validation_failed");
    assert_eq!(bad.invalid_fields(), ["mark_rules"]);
}

#[tokio::test]
async fn host_settings_edited_behind_the_servers_back_are_an_error_not_a_default() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    sql_execute(
        &app,
        r#"UPDATE clusters SET host = '{"vips": 3}' WHERE name = 'web'"#,
    )
    .await;
    let resp = app.get(&cluster_path("web")).await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    assert!(!resp.text.contains("vips"), "no internals: {}", resp.text);
}

/// The OpenAPI document's rule for interface names is the model's: a fuzzer that follows
/// the document is never refused for a name it was told is valid, and the reverse.
#[test]
fn the_documented_interface_name_rule_is_the_models() {
    let document: Value =
        serde_json::from_str(include_str!("../../../openapi/openapi.json")).expect("json");
    for schema in ["VipsSpec", "SyncSpec"] {
        let field = &document["components"]["schemas"][schema]["properties"]["interface"];
        let rule = json!({
            "type": "string",
            "minLength": field["minLength"],
            "maxLength": field["maxLength"],
            "pattern": field["pattern"],
        });
        let validator = jsonschema::validator_for(&rule).expect("a valid schema");
        for name in [
            "lvs0",
            "eth0.100",
            "...",
            ".a",
            "a.",
            "..a",
            "-",
            "br-lan_2",
            "x".repeat(15).as_str(),
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "a:b",
            "é",
            "tab\t",
            "x".repeat(16).as_str(),
        ] {
            assert_eq!(
                validator.is_valid(&json!(name)),
                lvs_model::host::InterfaceName::parse(name).is_ok(),
                "{schema}: {name:?}"
            );
        }
    }
}

#[tokio::test]
async fn two_fwmark_services_cannot_mark_the_same_packets() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let rules =
        |ports: Value| json!([{"protocol": "tcp", "address": "192.0.2.10", "ports": ports}]);
    app.create_service(
        "web",
        &json!({"fwmark": 1, "family": "ipv4", "mark_rules": rules(json!([80, 443]))}),
    )
    .await;

    let clash = app
        .post(
            &services("web"),
            &json!({"fwmark": 2, "family": "ipv4", "mark_rules": rules(json!(["400-500"]))}),
        )
        .await;
    let problem = clash.problem(422, "validation_failed");
    assert_eq!(
        problem["errors"],
        json!([{"field": "mark_rules[0]",
                "message": "tcp 192.0.2.10 port 443 is marked by fwmark:1:ipv4 too"}])
    );
    // Other ports of the same VIP are another service's to mark; a service may keep its own.
    let other = app
        .create_service(
            "web",
            &json!({"fwmark": 2, "family": "ipv4", "mark_rules": rules(json!([8080]))}),
        )
        .await;
    let id = other["id"].as_i64().expect("an id");
    app.patch_ok(
        &service_path("web", id),
        &json!({"mark_rules": rules(json!([8080, 8443]))}),
    )
    .await;
    let clash = app
        .patch(
            &service_path("web", id),
            &json!({"mark_rules": rules(json!([80]))}),
            None,
        )
        .await;
    assert_eq!(clash.invalid_fields(), ["mark_rules[0]"]);

    // A whole document: named by its place in the document.
    let (mut document, etag) = app.desired_state("web").await;
    document
        .as_object_mut()
        .expect("object")
        .remove("generation");
    document["services"][0]["mark_rules"] = rules(json!([8443]));
    let put = app
        .put("/api/v1/clusters/web/desired-state", &document, Some(&etag))
        .await;
    let problem = put.problem(422, "validation_failed");
    assert_eq!(
        problem["errors"][0]["message"],
        "tcp 192.0.2.10 port 8443 is marked by fwmark:1:ipv4 too"
    );
    assert_eq!(problem["errors"][0]["field"], "services[1].mark_rules[0]");
}

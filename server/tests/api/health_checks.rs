//! Health-check settings through the API: stored in canonical form, edited by merge patch,
//! carried by the desired-state document, and every bad value named.

use serde_json::{json, Value};

use crate::helpers::*;

fn checked_service() -> Value {
    json!({
        "protocol": "tcp", "address": "10.0.0.1", "port": 80,
        "health_check": {"kind": "http", "path": "/up", "expect_status": ["200-204"]},
        "sorry_server": {"address": "10.9.0.1", "forwarding": "masq"},
        "min_healthy": 2
    })
}

#[tokio::test]
async fn a_service_keeps_its_check_sorry_server_and_quorum() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let created = app.create_service("web", &checked_service()).await;
    let id = id(&created);
    assert_eq!(
        created["health_check"],
        json!({"kind": "http", "interval_ms": 2000, "timeout_ms": 1000, "rise": 2, "fall": 3,
               "on_failure": "quiesce", "initial": "up", "method": "GET", "path": "/up",
               "expect_status": ["200-204"]}),
        "every default is written out"
    );
    assert_eq!(created["sorry_server"]["address"], "10.9.0.1");
    assert_eq!(created["sorry_server"]["weight"], 1);
    assert_eq!(created["min_healthy"], 2);

    // A merge patch edits one field of the check and keeps the rest.
    let patched = app
        .patch(
            &service_path("web", id),
            &json!({"health_check": {"interval_ms": 5000, "fall": 2}}),
            None,
        )
        .await;
    let body = patched.expect(200);
    assert_eq!(body["health_check"]["interval_ms"], 5000);
    assert_eq!(body["health_check"]["fall"], 2);
    assert_eq!(body["health_check"]["path"], "/up");

    // Connection reuse is off unless asked, and shown only when on.
    let reused = |on: bool| json!({"health_check": {"reuse_connection": on}});
    let path = service_path("web", id);
    let body = app
        .patch(&path, &reused(true), None)
        .await
        .expect(200)
        .clone();
    assert_eq!(body["health_check"]["reuse_connection"], true);
    let body = app
        .patch(&path, &reused(false), None)
        .await
        .expect(200)
        .clone();
    assert!(
        body["health_check"].get("reuse_connection").is_none(),
        "{body}"
    );

    // Leaving the check out of a patch keeps it; null removes it, as RFC 7396 says.
    let body = app
        .patch(&service_path("web", id), &json!({"name": "shop"}), None)
        .await
        .expect(200)
        .clone();
    assert_eq!(body["health_check"]["interval_ms"], 5000);
    let body = app
        .patch(
            &service_path("web", id),
            &json!({"health_check": null, "sorry_server": null}),
            None,
        )
        .await
        .expect(200)
        .clone();
    assert!(body.get("health_check").is_none(), "{body}");
    assert!(body.get("sorry_server").is_none(), "{body}");
    assert_eq!(body["min_healthy"], 2);
}

#[tokio::test]
async fn a_real_server_keeps_its_own_check_in_the_desired_state() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let document = json!({
        "timeouts": {},
        "services": [{
            "protocol": "udp", "address": "10.0.0.53", "port": 53,
            "health_check": {"kind": "udp-dns", "dns_name": "health.example"},
            "real_servers": [
                {"address": "10.1.0.1", "forwarding": "route"},
                {"address": "10.1.0.2", "forwarding": "route",
                 "health_check": {"kind": "tcp", "port": 9100, "on_failure": "remove"}}
            ]
        }]
    });
    app.put(&desired_state("web"), &document, None)
        .await
        .expect(200);
    let (stored, _) = app.desired_state("web").await;
    let service = &stored["services"][0];
    assert_eq!(service["health_check"]["dns_type"], "A");
    assert_eq!(service["health_check"]["dns_rcode"], "NOERROR");
    let servers = service["real_servers"].as_array().expect("pool");
    assert!(servers[0].get("health_check").is_none());
    assert_eq!(servers[1]["health_check"]["on_failure"], "remove");
    assert_eq!(servers[1]["health_check"]["port"], 9100);

    // The document read back is accepted as it is, and changes nothing.
    let generation = app.generation("web").await;
    app.put(&desired_state("web"), &stored, None)
        .await
        .expect(200);
    assert_eq!(app.generation("web").await, generation);
}

#[tokio::test]
async fn every_bad_check_value_is_named_with_its_path() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let bad = json!({
        "protocol": "tcp", "address": "10.0.0.1", "port": 80,
        "health_check": {"kind": "http", "timeout_ms": 2000, "rise": 0,
                         "expect_body_regex": "([", "ca_file": "/etc/ca.pem"},
        "real_servers": [{"address": "10.1.0.1", "forwarding": "masq",
                          "health_check": {"kind": "exec", "command": "probe.sh"}},
                         {"address": "10.1.0.2", "forwarding": "masq",
                          "health_check": {"kind": "ping"}}]
    });
    let mut fields = app.post(&services("web"), &bad).await.invalid_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "health_check.ca_file",
            "health_check.expect_body_regex",
            "health_check.rise",
            "health_check.timeout_ms",
            "real_servers[0].health_check.command",
            "real_servers[1].health_check.kind",
        ]
    );
    assert_eq!(app.generation("web").await, 0, "nothing was written");

    // So is an http field on a check of another kind.
    let reuse = json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                       "health_check": {"kind": "tcp", "reuse_connection": true}});
    let problem = app.post(&services("web"), &reuse).await;
    assert_eq!(
        problem.invalid_fields(),
        ["health_check.reuse_connection"],
        "{}",
        problem.text
    );
    assert!(problem.text.contains("http and https"), "{}", problem.text);

    // A field the check does not know is refused by name too.
    let typo = json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                      "health_check": {"kind": "tcp", "intervall_ms": 100}});
    let problem = app.post(&services("web"), &typo).await;
    let fields = problem.invalid_fields();
    assert_eq!(fields, ["health_check.intervall_ms"], "{}", problem.text);
    assert!(problem.text.contains("intervall_ms"), "{}", problem.text);
}

#[tokio::test]
async fn a_sorry_server_cannot_also_be_a_real_server() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = id(&app.create_service("web", &checked_service()).await);

    let clash = json!({"address": "10.9.0.1", "forwarding": "masq"});
    let fields = app
        .post(&real_servers("web", service), &clash)
        .await
        .invalid_fields();
    assert_eq!(fields, ["address"]);

    let server = app
        .create_real_server(
            "web",
            service,
            &json!({"address": "10.1.0.1", "forwarding": "masq"}),
        )
        .await;
    let moved = app
        .patch(
            &real_server_path("web", service, id(&server)),
            &json!({"address": "10.9.0.1"}),
            None,
        )
        .await;
    assert_eq!(moved.invalid_fields(), ["address"]);

    let sorry = app
        .patch(
            &service_path("web", service),
            &json!({"sorry_server": {"address": "10.1.0.1"}}),
            None,
        )
        .await;
    assert_eq!(sorry.invalid_fields(), ["sorry_server"], "{}", sorry.text);
}

const AGENT_HEALTH: &str = "/api/v1/agent/health";

fn pulse() -> Value {
    json!({"targets": 2, "results": 10, "last_result_ms": 1_700_000_000_000_u64,
           "longest_interval_ms": 2000})
}

fn rs_health(real_server: &str, health: &str, since_ms: u64, reason: Option<&str>) -> Value {
    let mut entry = json!({"service": "tcp:10.0.0.1:80", "real_server": real_server,
                           "health": health, "since_ms": since_ms});
    if let Some(reason) = reason {
        entry["reason"] = json!(reason);
    }
    entry
}

#[tokio::test]
async fn directors_report_health_per_real_server_and_the_changes_become_events() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let lb1 = app.create_agent("web", "lb1").await;
    let lb2 = app.create_agent("web", "lb2").await;
    let mut spec = checked_service();
    spec["real_servers"] = json!([
        {"address": "10.1.0.1", "forwarding": "masq"},
        {"address": "10.1.0.2", "forwarding": "masq"}
    ]);
    let service = id(&app.create_service("web", &spec).await);
    let health_path = format!("{}/health", service_path("web", service));

    // Before any report: every director unreported, nothing degraded.
    let view = app.get(&health_path).await.expect(200).clone();
    assert_eq!(view["checked"], true);
    assert_eq!(view["degraded"], false);
    assert_eq!(view["directors"][0]["reported"], false);

    let full = |entries: Vec<Value>, sorry: bool| {
        json!({"full": true, "real_servers": entries,
               "services": [{"service": "tcp:10.0.0.1:80", "sorry_server_in_use": sorry}],
               "checker": pulse()})
    };
    let rs2_down_on_lb1 = full(
        vec![
            rs_health("10.1.0.1:80", "up", 0, None),
            rs_health(
                "10.1.0.2:80",
                "down",
                1_700_000_000_500,
                Some("connection refused"),
            ),
        ],
        false,
    );
    app.agent_post(AGENT_HEALTH, &lb1, &rs2_down_on_lb1)
        .await
        .expect(204);
    app.agent_post(
        AGENT_HEALTH,
        &lb2,
        &full(
            vec![
                rs_health("10.1.0.1:80", "up", 0, None),
                rs_health("10.1.0.2:80", "up", 0, None),
            ],
            false,
        ),
    )
    .await
    .expect(204);

    let view = app.get(&health_path).await.expect(200).clone();
    let rs2 = &view["real_servers"][1];
    assert_eq!(rs2["key"], "10.1.0.2:80");
    assert_eq!(
        (rs2["up"].as_u64(), rs2["down"].as_u64()),
        (Some(1), Some(1))
    );
    let on_lb1 = rs2["directors"]
        .as_array()
        .expect("directors")
        .iter()
        .find(|d| d["director"] == "lb1")
        .expect("lb1 reported");
    assert_eq!(on_lb1["health"], "down");
    assert_eq!(on_lb1["reason"], "connection refused");
    assert!(on_lb1["since"].as_str().is_some());
    // min_healthy 2: lb1 serves with one, so the service is degraded there.
    let lb1_view = &view["directors"][0];
    assert_eq!(lb1_view["director"], "lb1");
    assert_eq!(
        (lb1_view["healthy"].as_u64(), lb1_view["degraded"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(view["directors"][1]["degraded"], false);
    assert_eq!(view["degraded"], true);

    // The change is one event; a full report repeating it adds none.
    let events_path = format!("{}/health-events", cluster_path("web"));
    let events = app.get(&events_path).await.expect(200).clone();
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(items[0]["director"], "lb1");
    assert_eq!(items[0]["real_server"], "10.1.0.2:80");
    assert_eq!(items[0]["health"], "down");
    assert_eq!(items[0]["reason"], "connection refused");
    app.agent_post(AGENT_HEALTH, &lb1, &rs2_down_on_lb1)
        .await
        .expect(204);
    // It comes back: a partial report, a second event, newest first.
    let partial = json!({"full": false,
                         "real_servers": [rs_health("10.1.0.2:80", "up", 1_700_000_009_000, None)],
                         "checker": pulse()});
    app.agent_post(AGENT_HEALTH, &lb1, &partial)
        .await
        .expect(204);
    let events = app.get(&events_path).await.expect(200).clone();
    let healths: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["health"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(healths, ["up", "down"]);
    let view = app.get(&health_path).await.expect(200).clone();
    assert_eq!(view["degraded"], false);
}

#[tokio::test]
async fn a_health_report_is_checked_like_every_agent_request() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let report = json!({"full": true, "checker": pulse()});
    app.send(
        app.request(reqwest::Method::POST, AGENT_HEALTH)
            .json(&report),
    )
    .await
    .problem(401, "unauthorized");
    let long = "x".repeat(300);
    let bad = json!({"full": false, "checker": pulse(),
                     "real_servers": [rs_health(&long, "up", 0, None)]});
    let fields = app
        .agent_post(AGENT_HEALTH, &token, &bad)
        .await
        .invalid_fields();
    assert_eq!(fields, ["real_servers[0].real_server"]);
    let unknown = json!({"full": true, "checker": pulse(), "extra": 1});
    assert_eq!(
        app.agent_post(AGENT_HEALTH, &token, &unknown).await.status,
        422
    );
}

#[tokio::test]
async fn a_checker_that_stopped_checking_shows_as_stalled_in_the_director_status() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    assert_eq!(
        checker(&app).await,
        Value::Null,
        "no report, no checker shown"
    );

    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("ms fit");
    let report = |last_result_ms: u64| {
        json!({"full": true, "checker": {"targets": 3, "results": 99,
               "last_result_ms": last_result_ms, "longest_interval_ms": 2000}})
    };
    app.agent_post(AGENT_HEALTH, &token, &report(now_ms))
        .await
        .expect(204);
    let shown = checker(&app).await;
    assert_eq!(shown["targets"], 3);
    assert_eq!(shown["stalled"], false, "{shown}");

    // Its last result a minute old at 2 s intervals: stuck.
    app.agent_post(AGENT_HEALTH, &token, &report(now_ms - 60_000))
        .await
        .expect(204);
    assert_eq!(checker(&app).await["stalled"], true);
}

async fn checker(app: &TestApp) -> Value {
    let director = app.get(&director_path("web", "lb1")).await;
    director.expect(200)["status"]["health_checker"].clone()
}

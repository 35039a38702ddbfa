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

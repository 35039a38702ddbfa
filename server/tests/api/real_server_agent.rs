//! `/api/v1/agent/real-server*`: a real-server host's agent long-polls what its host must
//! hold, woken only by the changes that concern it, and reports what it did.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_server::agents::AgentOptions;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::real_server_hosts::{create_host, create_host_token, host_path, host_token_path};

const NEEDS: &str = "/api/v1/agent/real-server";
const REPORT: &str = "/api/v1/agent/real-server/report";

fn poll(after: &str, timeout: u64) -> String {
    format!("{NEEDS}?after={after}&timeout={timeout}")
}

/// A host `web-1` at 10.0.1.11 with its token, and cluster `prod` with a DR service on
/// 192.0.2.10:80 that it serves; returns the token and the service's id.
async fn host_with_service(app: &TestApp) -> (String, i64) {
    create_host(app, "web-1", &["10.0.1.11"]).await;
    let token = create_host_token(app, "web-1").await;
    app.create_cluster("prod").await;
    let service = app
        .create_service(
            "prod",
            &json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
                    "real_servers": [{"address": "10.0.1.11", "port": 80, "forwarding": "route"}]}),
        )
        .await;
    (token, id(&service))
}

/// The needs' version as the agent gets it now.
async fn version(app: &TestApp, token: &str) -> String {
    let resp = app.agent_get(NEEDS, token).await;
    resp.expect(200)["version"]
        .as_str()
        .expect("a version")
        .to_owned()
}

/// Starts a long-poll after `after`, and waits until it is surely waiting.
async fn waiting(
    app: &Arc<TestApp>,
    token: &str,
    after: &str,
    timeout: u64,
) -> tokio::task::JoinHandle<(Resp, Instant)> {
    let (app, path, token) = (app.clone(), poll(after, timeout), token.to_owned());
    let waiter = tokio::spawn(async move {
        let resp = app.agent_get(&path, &token).await;
        (resp, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the poll waits");
    waiter
}

#[tokio::test]
async fn the_needs_are_answered_at_once_unless_the_agent_has_them() {
    let app = TestApp::spawn().await;
    let (token, _) = host_with_service(&app).await;
    let answer = app.agent_get(NEEDS, &token).await;
    let needs = answer.expect(200).clone();
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(
        needs["vips"],
        json!([{"address": "192.0.2.10", "arrival": "route",
                "services": ["prod/tcp:192.0.2.10:80"]}])
    );
    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    assert_eq!(host["needs"], needs, "the API shows what the agent gets");
    let current = needs["version"].as_str().unwrap();
    app.agent_get(&poll("old", 30), &token).await.expect(200);
    let started = Instant::now();
    let unchanged = app.agent_get(&poll(current, 1), &token).await;
    assert_eq!(unchanged.status, 204, "{}", unchanged.text);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    app.agent_get(&poll(current, 121), &token)
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn a_long_poll_wakes_for_the_changes_that_concern_its_host_only() {
    let app = Arc::new(TestApp::spawn().await);
    let (token, service) = host_with_service(&app).await;
    app.create_cluster("other").await;
    let current = version(&app, &token).await;

    // A DR real server at the host's address added in another cluster.
    let waiter = waiting(&app, &token, &current, 30).await;
    app.create_service(
        "other",
        &json!({"protocol": "tcp", "address": "192.0.2.50", "port": 80,
                "real_servers": [{"address": "10.0.1.11", "port": 80, "forwarding": "route"}]}),
    )
    .await;
    let committed = Instant::now();
    let (resp, answered) = waiter.await.expect("the poll");
    let needs = resp.expect(200).clone();
    assert!(vip(&needs, "192.0.2.50", "route"), "{needs}");
    let latency = answered.saturating_duration_since(committed);
    assert!(latency < Duration::from_secs(1), "woken after {latency:?}");
    let current = needs["version"].as_str().unwrap().to_owned();

    // A fwmark service without marking rules uses the host but names no VIP: the version
    // stays. Its marking rules then change its VIPs.
    let fwmark = app
        .create_service(
            "other",
            &json!({"fwmark": 9, "family": "ipv4",
                    "real_servers": [{"address": "10.0.1.11", "port": 0, "forwarding": "route"}]}),
        )
        .await;
    assert_eq!(version(&app, &token).await, current);
    let waiter = waiting(&app, &token, &current, 30).await;
    app.patch_ok(
        &service_path("other", id(&fwmark)),
        &json!({"mark_rules": [{"protocol": "tcp", "address": "192.0.2.99", "ports": [443]}]}),
    )
    .await;
    let (resp, _) = waiter.await.expect("the poll");
    let needs = resp.expect(200).clone();
    assert!(vip(&needs, "192.0.2.99", "route"), "{needs}");
    let current = needs["version"].as_str().unwrap().to_owned();

    // A tunnel real server at the host's address in the first cluster.
    let waiter = waiting(&app, &token, &current, 30).await;
    app.create_service(
        "prod",
        &json!({"protocol": "udp", "address": "192.0.2.10", "port": 53,
                "real_servers": [{"address": "10.0.1.11", "port": 53, "forwarding": "tunnel",
                                  "tunnel_type": "gre"}]}),
    )
    .await;
    let (resp, _) = waiter.await.expect("the poll");
    let needs = resp.expect(200).clone();
    assert!(vip(&needs, "192.0.2.10", "gre"), "{needs}");
    let current = needs["version"].as_str().unwrap().to_owned();

    // What does not concern it: another address's real server, a NAT one at its address,
    // its real server's weight, another service's settings.
    let waiter = waiting(&app, &token, &current, 2).await;
    app.create_real_server(
        "prod",
        service,
        &json!({"address": "10.0.1.99", "port": 80, "forwarding": "route"}),
    )
    .await;
    let nat = app
        .create_service(
            "prod",
            &json!({"protocol": "tcp", "address": "192.0.2.20", "port": 80,
                    "real_servers": [{"address": "10.0.1.11", "port": 80, "forwarding": "masq"}]}),
        )
        .await;
    let servers = app
        .get(&real_servers("prod", service))
        .await
        .expect(200)
        .clone();
    let ours = servers["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["address"] == "10.0.1.11")
        .expect("the host's real server")
        .clone();
    app.patch_ok(
        &real_server_path("prod", service, id(&ours)),
        &json!({"weight": 7}),
    )
    .await;
    app.patch_ok(&service_path("prod", id(&nat)), &json!({"scheduler": "rr"}))
        .await;
    let (resp, _) = waiter.await.expect("the poll");
    assert_eq!(resp.status, 204, "{}", resp.text);

    // Its own addresses edited: the DR real server's address is no longer the host's.
    let waiter = waiting(&app, &token, &current, 30).await;
    app.patch_ok(&host_path("web-1"), &json!({"addresses": ["10.0.1.99"]}))
        .await;
    let (resp, _) = waiter.await.expect("the poll");
    let needs = resp.expect(200).clone();
    assert_eq!(
        needs["vips"],
        json!([{"address": "192.0.2.10", "arrival": "route",
                "services": ["prod/tcp:192.0.2.10:80"]}])
    );
    let current = needs["version"].as_str().unwrap().to_owned();

    // Its cluster deleted.
    let waiter = waiting(&app, &token, &current, 30).await;
    app.delete(&format!("{}?force=true", cluster_path("prod")), None)
        .await
        .expect(204);
    let (resp, _) = waiter.await.expect("the poll");
    assert_eq!(resp.expect(200)["vips"], json!([]));
}

/// Whether `needs` lists `address` arriving by `arrival`.
fn vip(needs: &Value, address: &str, arrival: &str) -> bool {
    needs["vips"]
        .as_array()
        .expect("vips")
        .iter()
        .any(|v| v["address"] == address && v["arrival"] == arrival)
}

/// A report of `version` with `errors` failed changes.
fn report(version: &str, errors: &[&str]) -> Value {
    let outcomes: Vec<Value> = errors
        .iter()
        .map(
            |object| json!({"object": object, "action": "add", "error": "Operation not permitted"}),
        )
        .chain([json!({"object": "vip 192.0.2.10 on lo", "action": "add"})])
        .collect();
    json!({"version": version, "outcomes": outcomes,
           "drift_repaired": [{"object": "arp_ignore", "found": "0 instead of 1"}],
           "agent_version": "0.1.0", "kernel_version": "6.1.0-test"})
}

async fn state(app: &TestApp) -> Value {
    app.get(&host_path("web-1")).await.expect(200)["status"].clone()
}

#[tokio::test]
async fn the_status_follows_the_agent_from_never_seen_to_prepared_to_errors() {
    let app = TestApp::spawn().await;
    let (token, _) = host_with_service(&app).await;
    assert_eq!(state(&app).await["state"], "never_seen");
    let current = version(&app, &token).await;
    let status = state(&app).await;
    assert_eq!(status["state"], "preparing");
    assert!(status["last_seen"].is_string());
    assert_eq!(status["reported_at"], Value::Null);

    app.agent_post(REPORT, &token, &report(&current, &[]))
        .await
        .expect(204);
    let status = state(&app).await;
    assert_eq!(status["state"], "prepared");
    assert_eq!(status["prepared_version"], current.as_str());
    assert_eq!(status["errors"], json!([]));
    assert_eq!(status["agent_version"], "0.1.0");
    assert_eq!(status["kernel_version"], "6.1.0-test");
    assert_eq!(
        status["drift_repaired"],
        json!([{"object": "arp_ignore", "found": "0 instead of 1"}])
    );
    // The list says the same.
    let list = app
        .get("/api/v1/real-server-hosts")
        .await
        .expect(200)
        .clone();
    assert_eq!(list["items"][0]["status"]["state"], "prepared");

    // New needs: preparing until the agent reports them.
    app.create_service(
        "prod",
        &json!({"protocol": "tcp", "address": "192.0.2.11", "port": 80,
                "real_servers": [{"address": "10.0.1.11", "port": 80, "forwarding": "route"}]}),
    )
    .await;
    assert_eq!(state(&app).await["state"], "preparing");
    let current = version(&app, &token).await;
    app.agent_post(REPORT, &token, &report(&current, &["vip 192.0.2.11 on lo"]))
        .await
        .expect(204);
    let status = state(&app).await;
    assert_eq!(status["state"], "errors");
    // Only the failures are kept.
    assert_eq!(
        status["errors"],
        json!([{"object": "vip 192.0.2.11 on lo", "action": "add",
                "error": "Operation not permitted"}])
    );

    // Bounded texts, each named.
    let mut long = report(&current, &[]);
    long["outcomes"][0]["error"] = json!("x".repeat(2000));
    let fields = app.agent_post(REPORT, &token, &long).await.invalid_fields();
    assert_eq!(fields, ["outcomes[0].error"]);
    let fields = app
        .agent_post(REPORT, &token, &report(&"v".repeat(65), &[]))
        .await
        .invalid_fields();
    assert_eq!(fields, ["version"]);
}

#[tokio::test]
async fn a_host_not_seen_for_a_while_is_offline() {
    let app = TestApp::spawn_with_agents(AgentOptions {
        host_offline_after: Duration::from_millis(300),
        ..AgentOptions::default()
    })
    .await;
    let (token, _) = host_with_service(&app).await;
    let current = version(&app, &token).await;
    app.agent_post(REPORT, &token, &report(&current, &[]))
        .await
        .expect(204);
    assert_eq!(state(&app).await["state"], "prepared");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(state(&app).await["state"], "offline");
    version(&app, &token).await;
    assert_eq!(state(&app).await["state"], "prepared");
}

#[tokio::test]
async fn each_kind_of_agent_token_opens_its_own_endpoints_only() {
    let app = TestApp::spawn().await;
    let (host_token, _) = host_with_service(&app).await;
    let director_token = app.create_agent("prod", "lb1").await;

    for (path, refused) in [
        (NEEDS, &director_token),
        (AGENT_DESIRED_STATE, &host_token),
        ("/api/v1/clusters", &host_token),
        ("/api/v1/real-server-hosts", &host_token),
    ] {
        let resp = app
            .send(app.anonymous().get(app.url(path)).bearer_auth(refused))
            .await;
        let detail = resp.problem(401, "unauthorized")["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!detail.contains(refused.as_str()), "{detail}");
    }
    let wrong = app
        .agent_post(REPORT, &director_token, &report("x", &[]))
        .await;
    assert!(wrong.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap()
        .contains("director's agent token"));
    let wrong = app
        .agent_post(AGENT_REPORT, &host_token, &apply_report(1, &[]))
        .await;
    assert!(wrong.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap()
        .contains("real-server host's"));
    let unknown = format!("lvsr_{}", "0".repeat(64));
    app.agent_get(NEEDS, &unknown)
        .await
        .problem(401, "unauthorized");
    app.agent_get(NEEDS, "lvsr_1234")
        .await
        .problem(401, "unauthorized");
    app.send(app.anonymous().get(app.url(NEEDS)))
        .await
        .problem(401, "unauthorized");
    // Each opens its own.
    app.agent_get(NEEDS, &host_token).await.expect(200);
    app.agent_get(AGENT_DESIRED_STATE, &director_token)
        .await
        .expect(200);
}

#[tokio::test]
async fn revoking_the_token_ends_a_waiting_long_poll_with_401() {
    let app = Arc::new(TestApp::spawn().await);
    let (token, _) = host_with_service(&app).await;
    let current = version(&app, &token).await;
    let waiter = waiting(&app, &token, &current, 30).await;
    app.delete(&host_token_path("web-1"), None)
        .await
        .expect(204);
    let revoked = Instant::now();
    let (resp, answered) = waiter.await.expect("the poll");
    resp.problem(401, "unauthorized");
    assert!(answered.saturating_duration_since(revoked) < Duration::from_secs(1));
    app.agent_get(NEEDS, &token)
        .await
        .problem(401, "unauthorized");

    // Deleting the host does too.
    let token = create_host_token(&app, "web-1").await;
    let waiter = waiting(&app, &token, &current, 30).await;
    app.delete(&host_path("web-1"), None).await.expect(204);
    let (resp, _) = waiter.await.expect("the poll");
    resp.problem(401, "unauthorized");
}

//! Agent tokens, agent authentication, and what reports do to a director's status.

use std::time::Duration;

use lvs_server::agents::AgentOptions;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_token_is_shown_once_stored_hashed_and_marked_on_the_director() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let created = app.create_director("web", "lb1").await;
    assert_eq!(created["token_created_at"], serde_json::Value::Null);
    assert_eq!(created["status"]["sync"], "never_seen");
    assert_eq!(created["status"]["online"], false);

    let resp = app.post_empty(&token_path("web", "lb1"), None).await;
    let body = resp.expect(201).clone();
    let token = body["token"].as_str().expect("token");
    assert!(token.starts_with("lvsa_"), "{token}");
    assert_eq!(token.len(), 5 + 64);
    assert!(token[5..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(body["director"], "lb1");
    assert_eq!(body["cluster"], "web");
    assert_eq!(
        resp.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );

    let director = app.get(&director_path("web", "lb1")).await;
    assert_eq!(director.expect(200)["token_created_at"], body["created_at"]);
    assert!(
        !director.text.contains(token),
        "the token is never shown again"
    );
    // Tokens are random.
    let second = app.create_token("web", "lb1").await;
    assert_ne!(second, token);

    app.post_empty(&token_path("web", "nope"), None)
        .await
        .problem(404, "not_found");
    app.post_empty(&token_path("nope", "lb1"), None)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn agent_requests_without_a_valid_token_are_401() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;

    let missing = app.get(AGENT_DESIRED_STATE).await;
    let problem = missing.problem(401, "unauthorized");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("Authorization"),
        "{problem}"
    );
    assert!(missing.headers.contains_key("www-authenticate"));

    let basic = app
        .send(
            app.request(Method::GET, AGENT_DESIRED_STATE)
                .basic_auth("lb1", Some("x")),
        )
        .await;
    basic.problem(401, "unauthorized");
    let malformed = app.agent_get(AGENT_DESIRED_STATE, "lvsa_1234").await;
    assert!(malformed.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("malformed"));
    let unknown = format!("lvsa_{}", "0".repeat(64));
    let problem = app.agent_get(AGENT_DESIRED_STATE, &unknown).await;
    assert!(problem.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("unknown"));
    for path in [AGENT_REPORT, AGENT_STATS] {
        app.agent_post(path, &unknown, &json!({}))
            .await
            .problem(401, "unauthorized");
    }
    // The detail never echoes the token.
    assert!(!problem.text.contains(&unknown));

    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
}

#[tokio::test]
async fn rotation_and_revocation_invalidate_the_old_token() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let first = app.create_agent("web", "lb1").await;
    app.agent_get(AGENT_DESIRED_STATE, &first).await.expect(200);

    let second = app.create_token("web", "lb1").await;
    app.agent_get(AGENT_DESIRED_STATE, &first)
        .await
        .problem(401, "unauthorized");
    app.agent_get(AGENT_DESIRED_STATE, &second)
        .await
        .expect(200);

    app.delete(&token_path("web", "lb1"), None)
        .await
        .expect(204);
    app.agent_get(AGENT_DESIRED_STATE, &second)
        .await
        .problem(401, "unauthorized");
    let director = app.get(&director_path("web", "lb1")).await;
    assert_eq!(
        director.expect(200)["token_created_at"],
        serde_json::Value::Null
    );
    // Revoking nothing is fine.
    app.delete(&token_path("web", "lb1"), None)
        .await
        .expect(204);

    // Deleting the director takes its token with it.
    let third = app.create_token("web", "lb1").await;
    app.delete(&director_path("web", "lb1"), None)
        .await
        .expect(204);
    app.agent_get(AGENT_DESIRED_STATE, &third)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_token_reads_only_its_own_cluster_and_reports_only_as_its_director() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    app.create_cluster("db").await;
    app.create_director("web", "lb1").await;
    app.create_director("web", "lb2").await;
    app.create_director("db", "lb1").await;
    let web_lb1 = app.create_token("web", "lb1").await;
    let db_lb1 = app.create_token("db", "lb1").await;

    let web = app.agent_get(AGENT_DESIRED_STATE, &web_lb1).await;
    assert_eq!(web.expect(200)["cluster"], "web");
    assert_eq!(web.body["services"].as_array().map(Vec::len), Some(1));
    let db = app.agent_get(AGENT_DESIRED_STATE, &db_lb1).await;
    assert_eq!(db.expect(200)["cluster"], "db");
    assert_eq!(db.body["services"].as_array().map(Vec::len), Some(0));

    // An agent that names another cluster or director than its token's is refused.
    let other_cluster = format!("{AGENT_DESIRED_STATE}?cluster=db");
    let problem = app.agent_get(&other_cluster, &web_lb1).await;
    assert!(problem.problem(403, "forbidden")["detail"]
        .as_str()
        .unwrap_or("")
        .contains("lb1 of cluster web"));
    app.agent_post(
        &format!("{AGENT_REPORT}?director=lb2"),
        &web_lb1,
        &apply_report(1, &[]),
    )
    .await
    .problem(403, "forbidden");
    app.agent_post(
        &format!("{AGENT_STATS}?cluster=web&director=lb2"),
        &web_lb1,
        &json!({"services": []}),
    )
    .await
    .problem(403, "forbidden");
    app.agent_get(
        &format!("{AGENT_DESIRED_STATE}?cluster=web&director=lb1"),
        &web_lb1,
    )
    .await
    .expect(200);

    // A report lands on the token's director only.
    app.agent_report(&web_lb1, &apply_report(1, &[])).await;
    let lb1 = app
        .get(&director_path("web", "lb1"))
        .await
        .expect(200)
        .clone();
    let lb2 = app
        .get(&director_path("web", "lb2"))
        .await
        .expect(200)
        .clone();
    let db_lb1_status = app
        .get(&director_path("db", "lb1"))
        .await
        .expect(200)
        .clone();
    assert_eq!(lb1["status"]["sync"], "in_sync");
    assert_eq!(lb2["status"]["sync"], "never_seen");
    assert_eq!(
        db_lb1_status["status"]["applied_generation"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn reports_drive_the_sync_state_errors_drift_and_versions() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    assert_eq!(status(&app).await["sync"], "never_seen");

    // Seen (a long-poll) but not reported yet.
    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
    let seen = status(&app).await;
    assert_eq!(seen["sync"], "behind");
    assert_eq!(seen["online"], true);
    assert!(seen["last_seen"].is_string());

    let mut report = apply_report(1, &[]);
    report["drift_repaired"] = json!([{"object": "service tcp:10.0.0.1:80", "found": "missing"}]);
    app.agent_report(&token, &report).await;
    let synced = status(&app).await;
    assert_eq!(synced["sync"], "in_sync", "{synced}");
    assert_eq!(synced["applied_generation"], 1);
    assert_eq!(synced["agent_version"], "0.1.0");
    assert_eq!(synced["kernel_version"], "6.1.0-test");
    assert_eq!(synced["last_errors"], json!([]));
    assert_eq!(
        synced["drift_repaired"][0]["object"],
        "service tcp:10.0.0.1:80"
    );
    assert_eq!(synced["drift_repaired"][0]["found"], "missing");
    assert!(synced["drift_repaired"][0]["repaired_at"].is_string());

    // A change makes it behind until the next report.
    app.patch_ok(&real_server_path("web", service, 1), &json!({"weight": 7}))
        .await;
    assert_eq!(status(&app).await["sync"], "behind");

    let failed = apply_report(2, &["real server 10.1.0.1:80 of tcp:10.0.0.1:80"]);
    app.agent_report(&token, &failed).await;
    let error = status(&app).await;
    assert_eq!(error["sync"], "error");
    assert_eq!(error["applied_generation"], 2);
    let errors = error["last_errors"].as_array().expect("last_errors");
    assert_eq!(errors.len(), 1, "only failed changes are kept: {error}");
    assert_eq!(
        errors[0]["object"],
        "real server 10.1.0.1:80 of tcp:10.0.0.1:80"
    );
    assert_eq!(errors[0]["error"], "File exists (EEXIST)");
    assert!(error["last_errors_at"].is_string());
    // Drift accumulates, newest first.
    assert_eq!(error["drift_repaired"].as_array().map(Vec::len), Some(1));

    let mut fixed = apply_report(2, &[]);
    fixed["drift_repaired"] = json!([{"object": "timeouts", "found": "tcp 60 instead of 900"}]);
    app.agent_report(&token, &fixed).await;
    let ok = status(&app).await;
    assert_eq!(ok["sync"], "in_sync");
    // The last errors stay visible after a later success.
    assert_eq!(ok["last_errors"].as_array().map(Vec::len), Some(1));
    let drift: Vec<_> = ok["drift_repaired"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| d["object"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(drift, ["timeouts", "service tcp:10.0.0.1:80"]);

    // The list shows the same status.
    let list = app.get(&directors("web")).await.expect(200).clone();
    assert_eq!(list["items"][0]["status"]["sync"], "in_sync");
    assert_eq!(list["items"][0]["status"]["applied_generation"], 2);

    // Bad reports.
    app.agent_post(AGENT_REPORT, &token, &json!({"applied_generation": "x"}))
        .await
        .problem(422, "validation_failed");

    // The status survives a restart.
    let app = app.restart().await;
    let restarted = status(&app).await;
    assert_eq!(restarted["sync"], "in_sync");
    assert!(restarted["last_seen"].is_string());
}

async fn status(app: &TestApp) -> serde_json::Value {
    let resp = app.get(&director_path("web", "lb1")).await;
    resp.expect(200)["status"].clone()
}

#[tokio::test]
async fn drift_history_is_bounded() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    for round in 0..3 {
        let mut report = apply_report(0, &[]);
        report["drift_repaired"] = (0..30)
            .map(|i| json!({"object": format!("service tcp:10.0.0.{round}:{}", i + 1), "found": "missing"}))
            .collect();
        app.agent_report(&token, &report).await;
    }
    let status = app.get(&director_path("web", "lb1")).await.expect(200)["status"].clone();
    let drift = status["drift_repaired"].as_array().expect("drift");
    assert_eq!(drift.len(), 50);
    assert_eq!(drift[0]["object"], "service tcp:10.0.0.2:1");
}

#[tokio::test]
async fn a_report_with_more_drift_than_is_kept_says_how_many_it_left_out() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    // A flushed table of 6 services with 10 real servers each, repaired in one pass.
    let mut report = apply_report(0, &[]);
    report["drift_repaired"] = (1..=6)
        .flat_map(|s| {
            let service = format!("tcp:10.0.0.1:{s}");
            let servers = (1..=10).map(move |r| {
                json!({"object": format!("real server 10.1.0.{r}:80 of {service}"),
                       "found": "missing"})
            });
            std::iter::once(json!({"object": format!("service tcp:10.0.0.1:{s}"),
                                   "found": "missing"}))
            .chain(servers)
        })
        .collect();
    app.agent_report(&token, &report).await;
    let status = status(&app).await;
    let drift = status["drift_repaired"].as_array().expect("drift");
    assert_eq!(drift.len(), 50);
    assert_eq!(drift[0]["object"], "service tcp:10.0.0.1:1");
    assert_eq!(
        drift[1]["object"],
        "real server 10.1.0.1:80 of tcp:10.0.0.1:1"
    );
    // 66 repaired: 49 listed, and the last entry counts the other 17.
    assert_eq!(drift[49]["object"], "17 more objects", "{:#}", drift[49]);
    assert!(
        drift[49]["found"]
            .as_str()
            .is_some_and(|f| f.contains("not listed")),
        "{:#}",
        drift[49]
    );
}

#[tokio::test]
async fn a_director_goes_offline_when_its_agent_stops_calling() {
    let app = TestApp::spawn_with_agents(AgentOptions {
        online_within: Duration::from_millis(300),
        stats_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    })
    .await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let before = app.get(&director_path("web", "lb1")).await;
    assert_eq!(before.expect(200)["status"]["online"], false);

    app.agent_post(AGENT_STATS, &token, &json!({"services": []}))
        .await
        .expect(204);
    let online = app.get(&director_path("web", "lb1")).await;
    assert_eq!(online.expect(200)["status"]["online"], true);
    // Heartbeats change the status, not the director's ETag.
    assert_eq!(online.etag(), before.etag());

    tokio::time::sleep(Duration::from_millis(500)).await;
    let offline = app
        .get(&director_path("web", "lb1"))
        .await
        .expect(200)
        .clone();
    assert_eq!(offline["status"]["online"], false);
    assert!(offline["status"]["last_seen"].is_string());
    // The background task persisted the heartbeat.
    let app = app.restart().await;
    let restarted = app
        .get(&director_path("web", "lb1"))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        restarted["status"]["last_seen"],
        offline["status"]["last_seen"]
    );
    assert_eq!(restarted["status"]["sync"], "behind");
}

#[tokio::test]
async fn a_long_poll_carrying_applied_stands_for_a_report_that_succeeded() {
    let app = TestApp::spawn_with_agents(AgentOptions {
        online_within: Duration::from_secs(30),
        stats_interval: Duration::from_millis(100),
        ..AgentOptions::default()
    })
    .await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.agent_report(&token, &apply_report(1, &[])).await;
    let reported = status(&app).await;
    app.patch_ok(&real_server_path("web", service, 1), &json!({"weight": 7}))
        .await;
    assert_eq!(status(&app).await["sync"], "behind");
    // Timestamps are milliseconds; a report and a poll in the same one count the report.
    let tick = || tokio::time::sleep(Duration::from_millis(5));

    tick().await;
    let poll = |applied: &str| format!("{AGENT_DESIRED_STATE}?applied={applied}");
    app.agent_get(&poll("2"), &token).await.expect(200);
    let synced = status(&app).await;
    assert_eq!(synced["sync"], "in_sync", "{synced}");
    assert_eq!(synced["applied_generation"], 2);
    assert_ne!(synced["last_report_at"], reported["last_report_at"]);
    assert_eq!(
        synced["agent_version"], "0.1.0",
        "the report's versions stay"
    );

    // A later report wins over the poll, and a later poll over the report.
    tick().await;
    let failed = apply_report(2, &["real server 10.1.0.1:80 of tcp:10.0.0.1:80"]);
    app.agent_report(&token, &failed).await;
    assert_eq!(status(&app).await["sync"], "error");
    tick().await;
    app.agent_get(&poll("2"), &token).await.expect(200);
    let fixed = status(&app).await;
    assert_eq!(fixed["sync"], "in_sync");
    assert_eq!(fixed["last_errors"].as_array().map(Vec::len), Some(1));

    // Bad values name the parameter.
    for bad in ["9223372036854775808", "x", "-1"] {
        let resp = app.agent_get(&poll(bad), &token).await;
        let problem = resp.problem(400, "invalid_query").clone();
        let detail = problem["detail"].as_str().unwrap_or("");
        assert!(detail.contains("applied"), "{bad}: {problem}");
    }

    // Persisted by the background task: it survives a restart.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let app = app.restart().await;
    let restarted = status(&app).await;
    assert_eq!(restarted["sync"], "in_sync", "{restarted}");
    assert_eq!(restarted["applied_generation"], 2);
    assert_eq!(restarted["last_report_at"], fixed["last_report_at"]);
}

#[tokio::test]
async fn a_graceful_shutdown_persists_the_last_heartbeats_and_applied_generations() {
    // The background task would persist them only after 10 s.
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.agent_report(&token, &apply_report(0, &[])).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.agent_get(&format!("{AGENT_DESIRED_STATE}?applied=1"), &token)
        .await
        .expect(200);
    let before = status(&app).await;
    assert_eq!(before["sync"], "in_sync", "{before}");

    let app = app.restart().await;
    let after = status(&app).await;
    assert_eq!(after["sync"], "in_sync", "{after}");
    assert_eq!(after["applied_generation"], 1);
    assert_eq!(after["last_seen"], before["last_seen"]);
    assert_eq!(after["last_report_at"], before["last_report_at"]);
}

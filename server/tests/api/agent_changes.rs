//! `GET /api/v1/agent/desired-state?after=N&changes=true`: the diffs since the generation an
//! agent holds instead of the whole document, when the server has them all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_model::agent::{DesiredStateChanges, CHANGES_MEDIA_TYPE};
use lvs_model::spec::DesiredStateSpec;
use lvs_model::{DesiredState, Diff};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::{redirected, Browser};

fn changes_poll(after: u64, timeout: u64) -> String {
    format!("{AGENT_DESIRED_STATE}?after={after}&changes=true&timeout={timeout}")
}

#[track_caller]
fn parse_document(resp: &Resp) -> DesiredState {
    assert_eq!(resp.content_type, "application/json", "{}", resp.text);
    let spec: DesiredStateSpec = serde_json::from_str(&resp.text).expect("a document");
    let state = spec.parse().expect("a valid document");
    assert_eq!(resp.etag(), format!("\"gen-{}\"", state.generation));
    state
}

/// The changes `resp` carries, checked to lead from `after` to `generation`.
#[track_caller]
fn parse_changes(resp: &Resp, after: u64, generation: u64) -> Vec<Diff> {
    resp.expect(200);
    assert_eq!(resp.content_type, CHANGES_MEDIA_TYPE, "{}", resp.text);
    assert_eq!(resp.etag(), format!("\"gen-{generation}\""));
    let changes: DesiredStateChanges = serde_json::from_str(&resp.text).expect("changes");
    assert_eq!(
        (changes.from_generation, changes.generation),
        (after, generation)
    );
    let diffs = changes.parse().expect("valid changes");
    assert_eq!(
        diffs.len() as u64,
        generation - after,
        "one diff a generation"
    );
    diffs
}

/// The whole document as the agents get it.
async fn agent_document(app: &TestApp, token: &str) -> DesiredState {
    let resp = app.agent_get(AGENT_DESIRED_STATE, token).await;
    resp.expect(200);
    parse_document(&resp)
}

/// `state` with `diffs` applied in order.
#[track_caller]
fn applied(state: &DesiredState, diffs: &[Diff]) -> DesiredState {
    let mut state = state.clone();
    for diff in diffs {
        diff.apply_in_place(&mut state)
            .unwrap_or_else(|e| panic!("diff to {} applies: {e}", diff.to_generation));
    }
    state
}

/// The documents of every generation of a cluster so far, as its agent saw them.
struct History<'a> {
    app: &'a TestApp,
    token: String,
    documents: Vec<DesiredState>,
}

impl History<'_> {
    /// After one edit: records the new document, then checks that the changes from every
    /// earlier generation lead from that generation's document to it.
    async fn edited(&mut self, what: &str) {
        let document = agent_document(self.app, &self.token).await;
        let generation = self.documents.len() as u64;
        assert_eq!(document.generation, generation, "{what}: one generation");
        self.documents.push(document);
        for after in 0..generation {
            let resp = self
                .app
                .agent_get(&changes_poll(after, 0), &self.token)
                .await;
            let diffs = parse_changes(&resp, after, generation);
            let rebuilt = applied(&self.documents[after as usize], &diffs);
            assert_eq!(
                rebuilt, self.documents[generation as usize],
                "{what}: changes from generation {after}"
            );
        }
    }
}

/// The id of the real server at `address` (port 80) of service `service`.
async fn real_server_id(app: &TestApp, service: i64, address: &str) -> i64 {
    let path = format!("{}?address={address}", real_servers("web", service));
    id(&app.get(&path).await.expect(200)["items"][0])
}

#[tokio::test]
async fn changes_since_any_generation_rebuild_the_document_after_every_kind_of_edit() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let mut history = History {
        app: &app,
        documents: vec![agent_document(&app, &token).await],
        token: token.clone(),
    };

    // Generation 1: the director's own services, imported.
    let mut report = apply_report(0, &[]);
    let mut web = tcp_service(80);
    web["real_servers"] = json!([masq_server(1, 80), masq_server(2, 80)]);
    report["unmanaged_services"] = json!([web, {"fwmark": 42, "family": "ipv4"}]);
    app.agent_report(&token, &report).await;
    let import = "/api/v1/clusters/web/import?from_director=lb1";
    app.post_empty(import, None).await.expect(200);
    history.edited("import").await;
    let services = app.all_services("web").await;
    let web = services
        .iter()
        .find(|s| s["key"] == "tcp:10.0.0.1:80")
        .map(id)
        .expect("the imported service");

    let mut https = tcp_service(443);
    https["real_servers"] = json!([masq_server(1, 443)]);
    let https = id(&app.create_service("web", &https).await);
    history.edited("add a service").await;

    app.create_real_server("web", web, &masq_server(3, 80))
        .await;
    history.edited("add a real server").await;

    let third = real_server_path("web", web, real_server_id(&app, web, "10.1.0.3").await);
    app.patch_ok(&third, &json!({"weight": 7})).await;
    history.edited("patch a weight").await;

    app.patch_ok(&service_path("web", web), &json!({"scheduler": "rr"}))
        .await;
    history.edited("patch the scheduler").await;

    let settings = json!({"protocol": "tcp", "address": "10.0.0.1", "port": 443,
                          "scheduler": "sh", "persistence_timeout": 600, "name": "https"});
    app.put(&service_path("web", https), &settings, None)
        .await
        .expect(200);
    history.edited("replace a service's settings").await;

    let timeouts = json!({"timeouts": {"tcp": 900, "udp": 60}});
    app.patch_ok(&cluster_path("web"), &timeouts).await;
    history.edited("change the timeouts").await;

    for action in ["drain", "restore"] {
        app.post_empty(&format!("{third}/{action}"), None)
            .await
            .expect(200);
        history.edited(action).await;
    }

    app.patch_ok(&third, &json!({"address": "10.1.0.4"})).await;
    history.edited("move a real server").await;

    app.patch_ok(&service_path("web", web), &json!({"port": 8080}))
        .await;
    history.edited("move a service").await;

    let second = real_server_path("web", web, real_server_id(&app, web, "10.1.0.2").await);
    app.delete(&second, None).await.expect(204);
    history.edited("delete a real server").await;

    app.delete(&service_path("web", https), None)
        .await
        .expect(204);
    history.edited("delete a service").await;

    let (mut document, _) = app.desired_state("web").await;
    document
        .as_object_mut()
        .expect("object")
        .remove("generation");
    let services = document["services"].as_array_mut().expect("services");
    let moved = services
        .iter_mut()
        .find(|s| s["port"] == 8080)
        .expect("the moved service");
    moved["real_servers"][0]["weight"] = json!(3);
    services.retain(|s| s.get("fwmark").is_none());
    let mut dns = json!({"protocol": "udp", "address": "10.0.0.9", "port": 53});
    dns["real_servers"] = json!([masq_server(9, 53), masq_server(10, 53)]);
    services.push(dns);
    document["timeouts"] = json!({"tcp": 1200});
    app.put(&desired_state("web"), &document, None)
        .await
        .expect(200);
    history.edited("declarative apply").await;

    let pool = format!("/clusters/web/services/{web}/pool");
    let mut browser = Browser::new(&app);
    let editor = browser.page(&pool).await;
    let text = "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.5:80 weight=2 forwarding=masq\n";
    let plan = browser.submit(&editor.text, &pool, &[("pool", text)]).await;
    let applied = browser
        .submit(&plan.text, &format!("{pool}/apply"), &[])
        .await;
    assert_eq!(
        redirected(&applied),
        format!("/clusters/web/services/{web}")
    );
    history.edited("bulk pool edit").await;
}

/// A PUT of this document stores a diff of 3,000 entries, cut to its first 1,000.
fn big_document() -> Value {
    let services: Vec<Value> = (1..=300)
        .map(|port| {
            let mut service = tcp_service(port);
            service["real_servers"] = (1..=9).map(|host| masq_server(host, port)).collect();
            service
        })
        .collect();
    json!({"timeouts": {}, "services": services})
}

#[tokio::test]
async fn a_truncated_diff_in_between_answers_the_whole_document() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.put(&desired_state("web"), &big_document(), None)
        .await
        .expect(200);
    let changes = app.get("/api/v1/clusters/web/changes/2").await;
    assert_eq!(changes.expect(200)["truncated"], true);
    app.patch_ok(&service_path("web", service), &json!({"scheduler": "rr"}))
        .await;
    let whole = agent_document(&app, &token).await;
    assert_eq!(whole.generation, 3);

    for after in [0, 1] {
        let resp = app.agent_get(&changes_poll(after, 0), &token).await;
        resp.expect(200);
        assert_eq!(parse_document(&resp), whole, "after {after}");
    }
    let resp = app.agent_get(&changes_poll(2, 0), &token).await;
    let diffs = parse_changes(&resp, 2, 3);
    assert_eq!(diffs[0].summary().services_changed, 1);
}

#[tokio::test]
async fn a_missing_or_unreadable_diff_answers_the_whole_document() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    for scheduler in ["rr", "lc", "sh", "wlc"] {
        let body = json!({"scheduler": scheduler});
        app.patch_ok(&service_path("web", service), &body).await;
    }
    // As on a database older than the change history, and one edited behind its back.
    let db = lvs_server::db::Db::open(&app.database_url())
        .await
        .expect("open the database");
    let mut tx = db.write().await.expect("a transaction");
    for statement in [
        "DELETE FROM changes WHERE generation = 3",
        "UPDATE changes SET diff = '{\"from_generation\": 4,' WHERE generation = 5",
    ] {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .expect(statement);
    }
    tx.commit().await.expect("commit");
    db.close().await;

    let whole = agent_document(&app, &token).await;
    assert_eq!(whole.generation, 5);
    for after in [0, 1, 2, 3, 4] {
        let resp = app.agent_get(&changes_poll(after, 0), &token).await;
        resp.expect(200);
        assert_eq!(parse_document(&resp), whole, "after {after}");
    }
    app.patch_ok(&service_path("web", service), &json!({"scheduler": "rr"}))
        .await;
    let resp = app.agent_get(&changes_poll(5, 0), &token).await;
    let diffs = parse_changes(&resp, 5, 6);
    assert_eq!(applied(&whole, &diffs), agent_document(&app, &token).await);
}

#[tokio::test]
async fn changes_span_at_most_a_hundred_generations() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let server = real_server_path("web", service, 1);
    for weight in 2..=101 {
        app.patch_ok(&server, &json!({"weight": weight})).await;
    }
    let whole = agent_document(&app, &token).await;
    assert_eq!(whole.generation, 101);

    let resp = app.agent_get(&changes_poll(0, 0), &token).await;
    resp.expect(200);
    assert_eq!(parse_document(&resp), whole, "101 generations behind");
    let resp = app.agent_get(&changes_poll(1, 0), &token).await;
    let diffs = parse_changes(&resp, 1, 101);
    assert_eq!(diffs.len(), 100);
}

#[tokio::test]
async fn without_changes_or_after_the_answer_is_the_whole_document() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.patch_ok(&service_path("web", service), &json!({"scheduler": "rr"}))
        .await;
    let whole = agent_document(&app, &token).await;

    for query in [
        "after=1&timeout=0",
        "after=1&changes=false&timeout=0",
        "changes=true",
        "changes=true&timeout=0",
    ] {
        let resp = app
            .agent_get(&format!("{AGENT_DESIRED_STATE}?{query}"), &token)
            .await;
        resp.expect(200);
        assert_eq!(parse_document(&resp), whole, "{query}");
    }
    app.agent_get(
        &format!("{AGENT_DESIRED_STATE}?after=1&changes=yes"),
        &token,
    )
    .await
    .problem(400, "invalid_query");
    // Up to date: nothing to send, with or without changes.
    app.agent_get(&changes_poll(2, 0), &token).await.expect(204);
}

#[tokio::test]
async fn an_agent_ahead_of_the_server_gets_the_whole_document_at_once() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let whole = agent_document(&app, &token).await;
    assert_eq!(whole.generation, 1);

    for path in [
        changes_poll(7, 30),
        format!("{AGENT_DESIRED_STATE}?after=7&timeout=30"),
    ] {
        let started = Instant::now();
        let resp = app.agent_get(&path, &token).await;
        resp.expect(200);
        assert_eq!(parse_document(&resp), whole, "{path}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
    }
}

#[tokio::test]
async fn a_commit_wakes_changes_polls_with_the_same_changes() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let mut tokens = Vec::new();
    for name in ["lb1", "lb2", "lb3"] {
        tokens.push(app.create_agent("web", name).await);
    }
    let before = agent_document(&app, &tokens[0]).await;

    let app = Arc::new(app);
    let waiters: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.agent_get(&changes_poll(1, 30), &token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "they wait");

    let started = Instant::now();
    app.patch_ok(&real_server_path("web", service, 1), &json!({"weight": 5}))
        .await;
    let after = agent_document(&app, &tokens[0]).await;
    let mut bodies = Vec::new();
    let mut woken = Vec::new();
    for waiter in waiters {
        let resp = waiter.await.expect("the poll task");
        woken = parse_changes(&resp, 1, 2);
        assert_eq!(applied(&before, &woken), after);
        bodies.push(resp.text);
    }
    // The woken polls were answered from the commit's announcement; the same diff as the
    // one stored, which answers an agent further behind.
    let stored = parse_changes(&app.agent_get(&changes_poll(0, 0), &tokens[0]).await, 0, 2);
    assert_eq!(stored[1], woken[0]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woken, not timed out"
    );
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one answer for all"
    );
}

#[tokio::test]
async fn a_recreated_cluster_is_sent_its_own_changes() {
    let app = TestApp::spawn().await;
    let old = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    app.patch_ok(&service_path("web", old), &json!({"scheduler": "rr"}))
        .await;
    parse_changes(&app.agent_get(&changes_poll(1, 0), &token).await, 1, 2);

    // The same name, very likely the same id, and the same generations.
    let force = format!("{}?force=true", cluster_path("web"));
    app.delete(&force, None).await.expect(204);
    let new = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let before = agent_document(&app, &token).await;
    app.patch_ok(&service_path("web", new), &json!({"scheduler": "lc"}))
        .await;
    let resp = app.agent_get(&changes_poll(1, 0), &token).await;
    let diffs = parse_changes(&resp, 1, 2);
    assert_eq!(applied(&before, &diffs), agent_document(&app, &token).await);
}

#[tokio::test]
async fn polls_after_an_announced_commit_tell_behind_current_and_ahead_apart() {
    let app = Arc::new(TestApp::spawn().await);
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let before = agent_document(&app, &token).await;
    // A waiting poll makes the server keep the cluster's announcements.
    let waiter = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { app.agent_get(&changes_poll(1, 30), &token).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.patch_ok(&service_path("web", service), &json!({"scheduler": "rr"}))
        .await;
    let after = agent_document(&app, &token).await;
    let woken = waiter.await.expect("the poll task");
    assert_eq!(applied(&before, &parse_changes(&woken, 1, 2)), after);

    let started = Instant::now();
    let behind = app.agent_get(&changes_poll(1, 30), &token).await;
    assert_eq!(applied(&before, &parse_changes(&behind, 1, 2)), after);
    let ahead = app.agent_get(&changes_poll(9, 30), &token).await;
    ahead.expect(200);
    assert_eq!(parse_document(&ahead), after);
    assert!(started.elapsed() < Duration::from_secs(2), "both at once");

    let started = Instant::now();
    app.agent_get(&changes_poll(2, 1), &token).await.expect(204);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the current one waits"
    );
}

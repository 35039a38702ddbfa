//! `POST /api/v1/clusters/{cluster}/revert`: a cluster's desired state returned to that of
//! an older generation, as a new generation.

use serde_json::{json, Value};

use crate::helpers::*;

fn revert_path(cluster: &str, to: u64) -> String {
    format!("/api/v1/clusters/{cluster}/revert?to={to}")
}

fn dry_run_path(cluster: &str, to: u64) -> String {
    format!("{}&dry_run=true", revert_path(cluster, to))
}

/// `document` as served at another generation.
pub fn at_generation(mut document: Value, generation: u64) -> Value {
    document["generation"] = json!(generation);
    document
}

async fn sql_count(app: &TestApp, query: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url())
        .await
        .expect("open the database");
    sqlx::query_scalar::<_, i64>(query)
        .fetch_one(&mut conn)
        .await
        .expect(query)
}

/// Cluster `web` at generation 3: a service with real servers 10.1.0.1 and 10.1.0.2 at
/// generation 1, a third real server added at 2, the first one's weight set to 7 at 3.
/// Returns the documents of generations 1 to 3.
pub async fn web_at_generation_3(app: &TestApp) -> Vec<Value> {
    let service = cluster_with_service(app, "web").await;
    let mut documents = vec![app.desired_state("web").await.0];
    app.create_real_server("web", service, &masq_server(3, 80))
        .await;
    documents.push(app.desired_state("web").await.0);
    let servers = app.get(&real_servers("web", service)).await;
    let first = id(&servers.expect(200)["items"][0]);
    app.patch(
        &real_server_path("web", service, first),
        &json!({"weight": 7}),
        None,
    )
    .await
    .expect(200);
    documents.push(app.desired_state("web").await.0);
    assert_eq!(app.generation("web").await, 3);
    documents
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;
    let changes = sql_count(&app, "SELECT count(*) FROM changes").await;
    let kept = sql_count(&app, "SELECT count(*) FROM revert_diffs").await;

    let resp = app.post_empty(&dry_run_path("web", 1), None).await;
    let body = resp.expect(200).clone();
    assert_eq!(
        resp.etag.as_deref(),
        Some("\"gen-3\""),
        "still at generation 3"
    );
    assert_eq!(body["to"], 1);
    assert_eq!(
        (
            body["from_generation"].as_u64(),
            body["to_generation"].as_u64()
        ),
        (Some(3), Some(4))
    );
    assert_eq!(
        body["summary"],
        json!({"services_added": 0, "services_removed": 0, "services_changed": 0,
               "real_servers_added": 0, "real_servers_removed": 1, "real_servers_changed": 1,
               "timeouts_changed": false, "host_changed": false})
    );
    let servers = &body["services"][0]["real_servers"];
    assert_eq!(servers[0]["change"], "changed");
    assert_eq!(servers[0]["old"]["weight"], 7);
    assert_eq!(servers[0]["new"]["weight"], 1);
    assert_eq!(servers[1]["change"], "removed");
    assert!(
        body.get("change").is_none(),
        "a dry run commits no change: {body}"
    );

    assert_eq!(app.desired_state("web").await.0, documents[2]);
    assert_eq!(
        sql_count(&app, "SELECT count(*) FROM changes").await,
        changes
    );
    assert_eq!(
        sql_count(&app, "SELECT count(*) FROM revert_diffs").await,
        kept
    );
}

#[tokio::test]
async fn a_revert_is_applied_and_recorded_as_a_new_generation() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;
    let (_, etag) = app.desired_state("web").await;
    let plan = app.post_empty(&dry_run_path("web", 2), None).await;
    let plan = plan.expect(200).clone();

    let resp = app.post_empty(&revert_path("web", 2), Some(&etag)).await;
    let body = resp.expect(200).clone();
    assert_eq!(resp.etag.as_deref(), Some("\"gen-4\""));
    assert_eq!(body["to_generation"], 4);
    assert_eq!(
        body["summary"], plan["summary"],
        "the dry run's plan is what was applied"
    );
    assert_eq!(body["services"], plan["services"]);
    assert_eq!(body["change"]["generation"], 4);
    assert_eq!(body["change"]["source"], "api");
    assert_eq!(body["change"]["summary"], body["summary"]);

    assert_eq!(
        app.desired_state("web").await.0,
        at_generation(documents[1].clone(), 4)
    );
    let change = app.get("/api/v1/clusters/web/changes/4").await;
    let change = change.expect(200).clone();
    assert_eq!(change["diff"]["services"], body["services"]);

    // A revert is itself a generation: reverting it returns to generation 3's state.
    let resp = app
        .post_empty(&revert_path("web", 3), Some("\"gen-4\""))
        .await;
    resp.expect(200);
    assert_eq!(
        app.desired_state("web").await.0,
        at_generation(documents[2].clone(), 5)
    );

    // To a generation whose state is the current one: nothing to write.
    let resp = app
        .post_empty(&revert_path("web", 3), Some("\"gen-5\""))
        .await;
    let body = resp.expect(200).clone();
    assert_eq!(resp.etag.as_deref(), Some("\"gen-5\""));
    assert_eq!(body["services"], json!([]));
    assert!(body.get("change").is_none());
    assert_eq!(app.generation("web").await, 5);
}

#[tokio::test]
async fn a_revert_needs_the_current_etag() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;

    let resp = app.post_empty(&revert_path("web", 1), None).await;
    let problem = resp.problem(428, "precondition_required");
    assert!(
        problem["detail"].as_str().unwrap().contains("If-Match"),
        "{problem}"
    );

    let resp = app
        .post_empty(&revert_path("web", 1), Some("\"gen-2\""))
        .await;
    resp.problem(412, "precondition_failed");
    assert_eq!(app.desired_state("web").await.0, documents[2]);
    assert_eq!(app.generation("web").await, 3);
}

#[tokio::test]
async fn bad_generations_are_refused_naming_to() {
    let app = TestApp::spawn().await;
    web_at_generation_3(&app).await;
    let etag = Some("\"gen-3\"");

    for (to, reason) in [(3, "already"), (4, "does not exist"), (0, "generation 0")] {
        let resp = app.post_empty(&revert_path("web", to), etag).await;
        resp.problem(422, "validation_failed");
        assert_eq!(resp.invalid_fields(), ["to"], "to={to}");
        assert!(resp.text.contains(reason), "to={to}: {}", resp.text);
        let dry = app.post_empty(&dry_run_path("web", to), None).await;
        dry.problem(422, "validation_failed");
    }
    for query in ["to=abc", "to=-1", "dry_run=true"] {
        let path = format!("/api/v1/clusters/web/revert?{query}");
        let resp = app.post_empty(&path, etag).await;
        let problem = resp.problem(400, "invalid_query");
        assert!(
            problem["detail"].as_str().unwrap().contains("to"),
            "{query}: {problem}"
        );
    }
    app.post_empty(&revert_path("nowhere", 1), Some("\"gen-3\""))
        .await
        .problem(404, "not_found");

    // Generations committed before the server kept revert diffs (as the migration marks
    // an existing cluster's) cannot be rebuilt.
    sql_execute(
        &app,
        "UPDATE clusters SET revertable_from = 2 WHERE name = 'web'",
    )
    .await;
    let resp = app.post_empty(&revert_path("web", 1), etag).await;
    let problem = resp.problem(409, "not_revertable");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("to: generation 1 "), "{detail}");
    assert!(detail.contains("is 2"), "{detail}");
    app.post_empty(&revert_path("web", 2), etag)
        .await
        .expect(200);
}

#[tokio::test]
async fn revert_reaches_1000_generations_back() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    // 1,002 generations, each a timeout edit.
    for i in 0..1002 {
        let body = json!({"timeouts": {"tcp": 100 + i}});
        app.patch(&cluster_path("web"), &body, None)
            .await
            .expect(200);
    }
    assert_eq!(app.generation("web").await, 1002);
    assert_eq!(
        sql_count(&app, "SELECT count(*) FROM revert_diffs").await,
        1000
    );
    assert_eq!(
        sql_count(&app, "SELECT min(generation) FROM revert_diffs").await,
        3
    );

    let resp = app.post_empty(&dry_run_path("web", 1), None).await;
    let problem = resp.problem(409, "beyond_retention");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("to: generation 1 "), "{detail}");
    assert!(detail.contains("to generation 2 "), "{detail}");

    let resp = app.post_empty(&dry_run_path("web", 2), None).await;
    let body = resp.expect(200);
    assert_eq!(body["timeouts"]["old"]["tcp"], 1101);
    assert_eq!(body["timeouts"]["new"]["tcp"], 101);
}

/// A service of the sequence below, by port, with `servers` real servers 10.1.0.1.. of
/// `weight`.
fn service(port: u16, servers: u8, weight: u32, scheduler: &str) -> Value {
    let mut service = tcp_service(port);
    service["scheduler"] = json!(scheduler);
    service["real_servers"] = (1..=servers)
        .map(|host| {
            let mut server = masq_server(host, port);
            server["weight"] = json!(weight);
            server
        })
        .collect();
    service
}

#[tokio::test]
async fn a_revert_across_deletions_recreations_and_edits_restores_that_generation_exactly() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let document = json!({"timeouts": {"tcp": 900}, "services": [
        service(80, 3, 5, "wrr"), service(443, 2, 1, "rr"), service(53, 1, 2, "wlc")]});
    app.put(&desired_state("web"), &document, None)
        .await
        .expect(200);
    let mut seen = vec![app.desired_state("web").await.0];

    // Single edits: a service deleted, then created again with other settings and pool; a
    // weight edited; a real server removed; the timeouts changed.
    let listed = app.get(&services("web")).await.expect(200).clone();
    let by_port = |port: u16| {
        let item = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == port);
        id(item.expect("the service"))
    };
    app.delete(&service_path("web", by_port(443)), None).await;
    seen.push(app.desired_state("web").await.0);
    let recreated = id(&app.create_service("web", &service(443, 4, 9, "sh")).await);
    seen.push(app.desired_state("web").await.0);
    let servers = app
        .get(&real_servers("web", by_port(80)))
        .await
        .expect(200)
        .clone();
    let first = id(&servers["items"][0]);
    let path = real_server_path("web", by_port(80), first);
    app.patch(&path, &json!({"weight": 50}), None)
        .await
        .expect(200);
    seen.push(app.desired_state("web").await.0);
    let servers = app
        .get(&real_servers("web", recreated))
        .await
        .expect(200)
        .clone();
    app.delete(
        &real_server_path("web", recreated, id(&servers["items"][3])),
        None,
    )
    .await;
    app.patch(
        &cluster_path("web"),
        &json!({"timeouts": {"tcp": 60, "udp": 30}}),
        None,
    )
    .await
    .expect(200);
    seen.push(app.desired_state("web").await.0);
    // A whole document: one service gone, one new, one changed.
    let document = json!({"timeouts": {}, "services": [
        service(80, 1, 3, "wrr"), service(8080, 2, 4, "rr"), service(53, 2, 2, "wlc")]});
    app.put(&desired_state("web"), &document, None)
        .await
        .expect(200);
    seen.push(app.desired_state("web").await.0);

    // Back to each older generation in turn, oldest last, each time exactly its document.
    for (index, wanted) in seen[..seen.len() - 1].iter().enumerate().rev() {
        let to = wanted["generation"].as_u64().unwrap();
        let (_, etag) = app.desired_state("web").await;
        let resp = app.post_empty(&revert_path("web", to), Some(&etag)).await;
        let body = resp.expect(200).clone();
        let generation = app.generation("web").await;
        assert_eq!(
            app.desired_state("web").await.0,
            at_generation(wanted.clone(), generation),
            "after reverting to generation {to} (document {index})"
        );
        if body.get("change").is_some() {
            assert_eq!(body["change"]["generation"], generation);
        }
    }
    // And forward again, to the newest document before the reverts.
    let newest = seen.last().unwrap();
    let (_, etag) = app.desired_state("web").await;
    let to = newest["generation"].as_u64().unwrap();
    app.post_empty(&revert_path("web", to), Some(&etag))
        .await
        .expect(200);
    let generation = app.generation("web").await;
    assert_eq!(
        app.desired_state("web").await.0,
        at_generation(newest.clone(), generation)
    );
}

/// 10,000 services of 10 real servers each, as one desired-state document.
fn big_document() -> Value {
    let services: Vec<Value> = (0..10_000u32)
        .map(|i| {
            let servers: Vec<Value> = (1..=10u32)
                .map(|n| {
                    json!({"address": format!("10.{}.{}.{}", n, i / 250, i % 250 + 1),
                                "port": 8080, "forwarding": "masq"})
                })
                .collect();
            json!({"protocol": "tcp", "address": format!("10.0.{}.{}", i / 250, i % 250 + 1),
                   "port": 80, "real_servers": servers})
        })
        .collect();
    json!({"timeouts": {}, "services": services})
}

#[tokio::test]
async fn a_big_cluster_is_reverted_writing_only_the_diff() {
    let app = TestApp::spawn().await;
    app.create_cluster("big").await;
    app.put(&desired_state("big"), &big_document(), None)
        .await
        .expect(200);

    // Two one-weight edits, each keeping a small diff rather than a copy of the cluster.
    let service = id(&app
        .get(&format!("{}?limit=1", services("big")))
        .await
        .expect(200)["items"][0]);
    let servers = app
        .get(&real_servers("big", service))
        .await
        .expect(200)
        .clone();
    for (index, weight) in [(0, 5), (1, 6)] {
        let path = real_server_path("big", service, id(&servers["items"][index]));
        app.patch(&path, &json!({"weight": weight}), None)
            .await
            .expect(200);
    }
    let largest_edit = sql_count(
        &app,
        "SELECT max(length(diff)) FROM revert_diffs WHERE generation IN (2, 3)",
    )
    .await;
    assert!(
        largest_edit < 2_000,
        "a one-weight edit keeps {largest_edit} bytes"
    );

    let resp = app
        .post_empty(&revert_path("big", 1), Some("\"gen-3\""))
        .await;
    let body = resp.expect(200).clone();
    assert_eq!(body["summary"]["real_servers_changed"], 2);
    assert_eq!(body["change"]["generation"], 4);
    let written = sql_count(
        &app,
        "SELECT length(r.diff) + length(c.diff) FROM revert_diffs r JOIN changes c
         USING (cluster_id, generation) WHERE generation = 4",
    )
    .await;
    assert!(written < 4_000, "the revert wrote {written} bytes of diffs");
    assert_eq!(
        sql_count(&app, "SELECT count(*) FROM revert_diffs").await,
        4
    );
    assert_eq!(
        sql_count(
            &app,
            "SELECT count(*) FROM real_servers WHERE updated_at = \
                         (SELECT max(updated_at) FROM real_servers)"
        )
        .await,
        2,
        "only the two edited real servers were written"
    );
    let servers = app
        .get(&real_servers("big", service))
        .await
        .expect(200)
        .clone();
    assert_eq!(servers["items"][0]["weight"], 1);
    assert_eq!(servers["items"][1]["weight"], 1);
}

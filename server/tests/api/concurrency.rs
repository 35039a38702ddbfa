//! Writers racing each other: optimistic concurrency and unique keys hold.

use std::fmt::Display;

use serde_json::{json, Value};

use crate::helpers::*;

/// Asserts that of two writes made from one ETag, one succeeded and the other was refused
/// with 412; returns the winner and the loser.
#[track_caller]
fn one_wins<'a>(round: impl Display, a: &'a Resp, b: &'a Resp) -> (&'a Resp, &'a Resp) {
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 412],
        "round {round}: {} / {}",
        a.text,
        b.text
    );
    if a.status == 200 {
        (a, b)
    } else {
        (b, a)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_patches_with_one_etag_one_wins() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let servers = app.get(&real_servers("web", service)).await.body;
    let path = real_server_path("web", service, id(&servers["items"][0]));

    for round in 0..5_i64 {
        let etag = app.get(&path).await.etag();
        let (one, other) = (
            json!({"weight": 100 + 2 * round}),
            json!({"weight": 101 + 2 * round}),
        );
        let (a, b) = tokio::join!(
            app.patch(&path, &one, Some(&etag)),
            app.patch(&path, &other, Some(&etag)),
        );
        let (winner, loser) = one_wins(round, &a, &b);
        loser.problem(412, "precondition_failed");
        let now = app.get(&path).await;
        assert_eq!(
            now.body, winner.body,
            "the winner's write is what is stored"
        );
        assert_eq!(now.etag(), winner.etag());
    }
    // Every win was one generation: 1 for the service, 5 for the weights.
    assert_eq!(app.generation("web").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_declarative_writes_from_one_generation_one_wins() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    for round in 0..3_u16 {
        let (_, etag) = app.desired_state("web").await;
        let first = json!({"timeouts": {}, "services": [pooled(tcp_service(1000 + round))]});
        let second = json!({"timeouts": {}, "services": [pooled(tcp_service(2000 + round))]});
        let path = desired_state("web");
        let (a, b) = tokio::join!(
            app.put(&path, &first, Some(&etag)),
            app.put(&path, &second, Some(&etag)),
        );
        let (winner, _) = one_wins(round, &a, &b);
        let document = if a.status == 200 { &first } else { &second };
        let (now, now_etag) = app.desired_state("web").await;
        assert_eq!(now_etag, winner.etag());
        assert_eq!(now["services"][0]["port"], document["services"][0]["port"]);
        assert_eq!(now["services"].as_array().map(Vec::len), Some(1));
    }
    assert_eq!(app.generation("web").await, 3);
}

/// Sends `count` POSTs of `body` to `path` at once, from separate tasks.
async fn post_at_once(app: &TestApp, path: &str, bodies: Vec<Value>) -> Vec<Resp> {
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let request = app.client.post(app.url(path)).json(&body);
            tokio::spawn(async move { read(request.send().await.expect("answered")).await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("the task completes"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_key_create_it_once() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;

    for round in 0..3_u16 {
        let answers = post_at_once(&app, &services("web"), vec![tcp_service(80 + round); 8]).await;
        let created = answers.iter().filter(|a| a.status == 201).count();
        assert_eq!(created, 1, "round {round}");
        for answer in answers.iter().filter(|a| a.status != 201) {
            answer.problem(409, "already_exists");
        }
    }
    assert_eq!(app.all_services("web").await.len(), 3);
    assert_eq!(app.generation("web").await, 3);

    // Concurrent creates of different keys all succeed, each its own generation.
    let bodies = (0..8).map(|i| tcp_service(9000 + i)).collect();
    let answers = post_at_once(&app, &services("web"), bodies).await;
    assert!(answers.iter().all(|a| a.status == 201));
    assert_eq!(app.all_services("web").await.len(), 11);
    assert_eq!(app.generation("web").await, 11);

    let answers = post_at_once(&app, "/api/v1/clusters", vec![json!({"name": "db"}); 6]).await;
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    assert_eq!(answers.iter().filter(|a| a.status == 409).count(), 5);
}

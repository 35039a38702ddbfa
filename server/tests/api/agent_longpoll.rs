//! `GET /api/v1/agent/desired-state`: the agents' long-poll.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

fn poll(after: u64, timeout: u64) -> String {
    format!("{AGENT_DESIRED_STATE}?after={after}&timeout={timeout}")
}

#[tokio::test]
async fn answers_at_once_with_the_same_document_as_the_api_when_behind() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let (document, etag) = app.desired_state("web").await;
    assert_eq!(etag, "\"gen-1\"");

    for path in [AGENT_DESIRED_STATE.to_owned(), poll(0, 30)] {
        let started = Instant::now();
        let resp = app.agent_get(&path, &token).await;
        assert_eq!(resp.expect(200), &document, "{path}");
        assert_eq!(resp.etag(), etag);
        assert_eq!(resp.content_type, "application/json");
        assert!(started.elapsed() < Duration::from_secs(2), "{path}");
    }
    // A cluster never set (generation 0) answers at once without `after` too.
    app.create_cluster("empty").await;
    let empty = app.create_agent("empty", "lb1").await;
    let resp = app.agent_get(AGENT_DESIRED_STATE, &empty).await;
    assert_eq!(resp.expect(200)["generation"], 0);
    assert_eq!(resp.body["services"], json!([]));
}

#[tokio::test]
async fn answers_204_when_nothing_changes_within_the_timeout() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let started = Instant::now();
    let resp = app.agent_get(&poll(1, 1), &token).await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert!(resp.text.is_empty());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // `timeout=0` answers at once.
    app.agent_get(&poll(1, 0), &token).await.expect(204);
    // An agent ahead of the server (its database was restored from an older backup) is
    // answered at once with the document, to follow it back.
    let started = Instant::now();
    let ahead = app.agent_get(&poll(99, 30), &token).await;
    assert_eq!(ahead.expect(200)["generation"], 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    app.agent_get(&poll(1, 121), &token)
        .await
        .problem(400, "invalid_query");
    app.agent_get(&format!("{AGENT_DESIRED_STATE}?after=x"), &token)
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn a_commit_wakes_every_waiting_agent_at_once() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_cluster("other").await;
    let mut tokens = Vec::new();
    for name in ["lb1", "lb2", "lb3"] {
        tokens.push(app.create_agent("web", name).await);
    }
    let other = app.create_agent("other", "lb1").await;

    let app = std::sync::Arc::new(app);
    let waiters: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let resp = app.agent_get(&poll(1, 30), &token).await;
                (resp, Instant::now())
            })
        })
        .collect();
    let other_waiter = {
        let app = app.clone();
        tokio::spawn(async move { app.agent_get(&poll(0, 2), &other).await })
    };
    // Let the polls reach the server and start waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()));

    app.patch_ok(&real_server_path("web", service, 1), &json!({"weight": 5}))
        .await;
    let committed = Instant::now();
    for waiter in waiters {
        let (resp, answered) = waiter.await.expect("the poll task");
        let body = resp.expect(200);
        assert_eq!(body["generation"], 2);
        assert_eq!(resp.etag(), "\"gen-2\"");
        let servers = body["services"][0]["real_servers"]
            .as_array()
            .expect("servers");
        assert_eq!(servers[0]["weight"], 5);
        // Woken by the commit, not by a timer: well under the 30 s poll (and any polling
        // interval), with room for a loaded 2-core machine running tests in parallel.
        let latency = answered.saturating_duration_since(committed);
        assert!(latency < Duration::from_secs(1), "woken after {latency:?}");
    }
    // Another cluster's agent is not woken.
    let resp = other_waiter.await.expect("the other poll");
    assert_eq!(resp.status, 204);
}

/// Every kind of write that changes a desired state wakes the waiting agents.
#[tokio::test]
async fn every_write_path_wakes_the_agents() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;

    let mut generation = app.generation("web").await;
    for step in 0..9 {
        let waiter = {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.agent_get(&poll(generation, 10), &token).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        match step {
            0 => drop(app.create_service("web", &tcp_service(81)).await),
            1 => drop(
                app.put(&service_path("web", service), &json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler": "rr"}), None)
                    .await
                    .expect(200)
                    .clone(),
            ),
            2 => drop(app.patch_ok(&service_path("web", service), &json!({"scheduler": "lc"})).await),
            3 => drop(app.create_real_server("web", service, &masq_server(3, 80)).await),
            4 => drop(app.post_empty(&format!("{}/drain", real_server_path("web", service, 1)), None).await.expect(200).clone()),
            5 => drop(app.delete(&real_server_path("web", service, 2), None).await.expect(204).clone()),
            6 => drop(app.patch_ok(&cluster_path("web"), &json!({"timeouts": {"tcp": 900}})).await),
            7 => {
                let (mut document, _) = app.desired_state("web").await;
                document["services"].as_array_mut().expect("services").pop();
                document.as_object_mut().expect("object").remove("generation");
                app.put(&desired_state("web"), &document, None).await.expect(200);
            }
            _ => drop(app.delete(&service_path("web", service), None).await.expect(204).clone()),
        }
        let resp = waiter.await.expect("the poll");
        assert_eq!(resp.status, 200, "step {step}: {}", resp.text);
        assert!(started.elapsed() < Duration::from_secs(2), "step {step}");
        let next = resp.body["generation"].as_u64().expect("generation");
        assert_eq!(next, generation + 1, "step {step}");
        generation = next;
    }
}

#[tokio::test]
async fn a_rolled_back_write_wakes_nobody() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let waiter = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { app.agent_get(&poll(1, 1), &token).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A duplicate service fails after nothing was written.
    app.post(&services("web"), &tcp_service(80))
        .await
        .problem(409, "already_exists");
    assert_eq!(waiter.await.expect("the poll").status, 204);
}

#[tokio::test]
async fn shutting_down_ends_waiting_polls() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;
    let request = app
        .client
        .get(app.url(&poll(1, 120)))
        .bearer_auth(&token)
        .send();
    let poll = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let resp = poll.await.expect("the poll task").expect("answered");
    assert_eq!(resp.status(), 204);
}

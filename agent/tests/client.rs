//! The HTTP client against a fake server that follows the agent contract.

// The fake server's handlers, as `allow-unwrap-in-tests` allows in test functions.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lvs_agent::applied::Announce;
use lvs_agent::client::{Ask, Client, ClientError, Poll, Trust};
use lvs_agent::token::Token;
use lvs_model::agent::{ApplyReport, StatsReport, CHANGES_MEDIA_TYPE};

#[derive(Default)]
struct Seen {
    queries: Vec<HashMap<String, String>>,
    reports: Vec<ApplyReport>,
    stats: Vec<StatsReport>,
}

type Shared = Arc<Mutex<Seen>>;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer good")
}

async fn desired(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "invalid token").into_response();
    }
    let after = query.get("after").cloned();
    seen.lock().unwrap().queries.push(query);
    match after.as_deref() {
        Some("3") => StatusCode::NO_CONTENT.into_response(),
        Some("5") => changes_answer(&weight_diff(5, 6)),
        Some("6") => changes_answer(&weight_diff(7, 8)),
        Some("4") => Json(
            serde_json::json!({"generation": 5, "timeouts": {}, "services": [
            {"protocol": "tcp", "address": "10.0.0.1", "port": 80, "scheduler": "nope",
             "real_servers": []}]}),
        )
        .into_response(),
        _ => Json(serde_json::json!({"cluster": "prod", "generation": 3,
            "timeouts": {"tcp": 900}, "services": [
            {"protocol": "tcp", "address": "10.0.0.1", "port": 80,
             "real_servers": [{"address": "10.1.0.1", "forwarding": "masq"}]}]}))
        .into_response(),
    }
}

/// The diff the server stores when real server 10.1.0.1:80 of tcp:10.0.0.1:80 goes from
/// weight 1 to 4, at generation `to` (from `from`).
fn weight_diff(from: u64, to: u64) -> serde_json::Value {
    let server = |weight: u32| {
        serde_json::json!({"address": "10.1.0.1", "port": 80, "forwarding": "masq",
                           "weight": weight})
    };
    let summary = lvs_model::DiffSummary {
        real_servers_changed: 1,
        ..lvs_model::DiffSummary::default()
    };
    serde_json::json!({"from_generation": from, "to_generation": to, "summary": summary,
        "services": [{"change": "changed", "key": "tcp:10.0.0.1:80", "real_servers": [
            {"change": "changed", "key": "10.1.0.1:80", "old": server(1), "new": server(4)}]}]})
}

fn changes_answer(diff: &serde_json::Value) -> Response {
    let body = serde_json::json!({
        "from_generation": diff["from_generation"],
        "generation": diff["to_generation"],
        "diffs": [diff],
    });
    ([("content-type", CHANGES_MEDIA_TYPE)], body.to_string()).into_response()
}

async fn report(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<ApplyReport>,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    seen.lock().unwrap().reports.push(r);
    StatusCode::NO_CONTENT
}

async fn stats(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Json(s): Json<StatsReport>,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    seen.lock().unwrap().stats.push(s);
    StatusCode::NO_CONTENT
}

async fn server() -> (String, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/api/v1/agent/desired-state", get(desired))
        .route("/api/v1/agent/report", post(report))
        .route("/api/v1/agent/stats", post(stats))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/"), seen)
}

fn client(base: &str, token: &str) -> Client {
    Client::new(
        base,
        Token::fixed(token).unwrap(),
        Duration::from_secs(25),
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn long_polls_with_after_and_timeout_and_parses_the_document() {
    let (base, seen) = server().await;
    let client = client(&base, "good");
    let Poll::Changed(state) = client
        .desired_state(Ask::Document, Announce::Nothing)
        .await
        .unwrap()
    else {
        panic!("a first poll answers at once")
    };
    assert_eq!(state.generation, 3);
    assert_eq!(state.services().len(), 1);
    assert!(matches!(
        client
            .desired_state(Ask::After(3), Announce::Applied(3))
            .await
            .unwrap(),
        Poll::Unchanged
    ));
    let error = client
        .desired_state(Ask::After(4), Announce::Nothing)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Invalid(m) if m.contains("scheduler")),
        "{error}"
    );
    let queries = &seen.lock().unwrap().queries;
    assert_eq!(queries[0].get("after"), None, "no after on the first poll");
    assert_eq!(
        queries[0].get("changes"),
        None,
        "the whole state on the first poll"
    );
    assert_eq!(queries[0]["timeout"], "25");
    assert_eq!(queries[0].get("applied"), None, "nothing applied yet");
    assert_eq!(queries[1]["after"], "3");
    assert_eq!(queries[1]["applied"], "3", "the generation applied");
    assert_eq!(queries[2].get("applied"), None, "the last pass failed");
    assert_eq!(
        queries[1]["changes"], "true",
        "changes once a state is held"
    );
}

#[tokio::test]
async fn parses_changes_and_refuses_a_broken_chain() {
    let (base, _) = server().await;
    let client = client(&base, "good");
    let Poll::Changes { generation, diffs } = client
        .desired_state(Ask::After(5), Announce::Nothing)
        .await
        .unwrap()
    else {
        panic!("the changes media type is parsed as changes")
    };
    assert_eq!(generation, 6);
    assert_eq!(diffs.len(), 1);
    assert_eq!((diffs[0].from_generation, diffs[0].to_generation), (5, 6));
    assert_eq!(diffs[0].summary().real_servers_changed, 1);

    // Asked after 6, answered with a diff from 7: not a chain from what the agent holds.
    let error = client
        .desired_state(Ask::After(6), Announce::Nothing)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Invalid(m) if m.contains("from_generation")),
        "{error}"
    );
}

#[tokio::test]
async fn posts_reports_and_stats() {
    let (base, seen) = server().await;
    let client = client(&base, "good");
    let report = ApplyReport {
        applied_generation: 3,
        agent_version: "x".into(),
        kernel_version: "y".into(),
        ..ApplyReport::default()
    };
    client.report(&report).await.unwrap();
    client.stats(&StatsReport::default()).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.reports, [report]);
    assert_eq!(seen.stats.len(), 1);
}

#[tokio::test]
async fn a_rejected_token_is_its_own_error() {
    let (base, _) = server().await;
    let client = client(&base, "revoked");
    let error = client
        .desired_state(Ask::Document, Announce::Nothing)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Unauthorized { status, .. } if status.as_u16() == 401),
        "{error}"
    );
    assert!(matches!(
        client.report(&ApplyReport::default()).await,
        Err(ClientError::Unauthorized { .. })
    ));
}

#[tokio::test]
async fn after_a_401_the_token_file_is_read_again() {
    let (base, _) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "revoked\n").unwrap();
    let client = Client::new(
        &base,
        Token::from_file(&path).unwrap(),
        Duration::from_secs(25),
        Duration::from_secs(5),
    )
    .unwrap();
    std::fs::write(&path, "good\n").unwrap();
    let error = client
        .desired_state(Ask::Document, Announce::Nothing)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized { .. }), "{error}");
    // The refusal made it read the file: the next request carries the new token.
    assert!(matches!(
        client.desired_state(Ask::Document, Announce::Nothing).await,
        Ok(Poll::Changed(_))
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client(&base, "good")
        .desired_state(Ask::Document, Announce::Nothing)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error}");
}

#[test]
fn a_server_that_is_not_an_http_url_is_refused_at_start() {
    let refusal = |server: &str| {
        let error = Client::new(
            server,
            Token::fixed("lvsa_x").unwrap(),
            Duration::from_secs(25),
            Duration::from_secs(5),
        )
        .unwrap_err();
        format!("{error:#}")
    };
    // Without a scheme, "lvs-server:" reads as one.
    let message = refusal("lvs-server:8080");
    assert!(
        message.starts_with(r#"--server: "lvs-server:8080" is not an http:// or https:// URL"#),
        "{message}"
    );
    let message = refusal("http://");
    assert!(
        message.starts_with(r#"--server: "http://" is not a URL"#),
        "{message}"
    );
    assert!(refusal("file:///tmp/x").contains("with a host"));
    client("https://lvs-server:8443", "lvsa_x");
    // A path prefix is accepted (a server behind a reverse proxy).
    client("http://127.0.0.1:9/lvs/", "lvsa_x");
}

#[tokio::test]
async fn an_https_server_is_verified_against_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let server =
        lvs_testkit::tls::TlsServer::start(dir.path(), "127.0.0.1:0".parse().unwrap()).await;
    let base = format!("https://{}", server.address);
    let report = lvs_model::agent::HealthReport::default();
    let with = |trust: Trust| {
        Client::with_trust(
            &base,
            Token::fixed("lvsa_x").unwrap(),
            Duration::from_secs(25),
            Duration::from_secs(5),
            &trust,
        )
        .unwrap()
    };
    // The test server answers every request with 200.
    with(Trust::CaFile(server.ca_file.clone()))
        .health(&report)
        .await
        .expect("verified against --ca-file");
    let error = with(Trust::SystemRoots).health(&report).await.unwrap_err();
    assert!(matches!(error, ClientError::Untrusted { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("the server's certificate is not trusted (UnknownIssuer)"),
        "{message}"
    );
}

#[test]
fn an_unreadable_or_invalid_ca_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let refusal = |path: &std::path::Path| {
        let error = Client::with_trust(
            "https://lvs-server:8443",
            Token::fixed("lvsa_x").unwrap(),
            Duration::from_secs(25),
            Duration::from_secs(5),
            &Trust::CaFile(path.to_owned()),
        )
        .unwrap_err();
        format!("{error:#}")
    };
    let missing = dir.path().join("missing.pem");
    let message = refusal(&missing);
    assert!(
        message.starts_with(&format!("--ca-file {}: cannot read it", missing.display())),
        "{message}"
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let message = refusal(&empty);
    assert!(
        message.starts_with(&format!("--ca-file {}: ", empty.display())),
        "{message}"
    );
}

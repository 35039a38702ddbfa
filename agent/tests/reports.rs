//! Apply reports: merged while they wait out the report delay, kept while the server is
//! down, the waiting one sent at shutdown, and plain ones left to the long-poll unless a
//! report was in flight. Against a fake report endpoint that can be made to fail or slow.

// The fake server's handlers, as `allow-unwrap-in-tests` allows in test functions.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use lvs_agent::applied::Teller;
use lvs_agent::client::Client;
use lvs_agent::reports::{merge, report_loop, PassReport};
use lvs_agent::token::Token;
use lvs_model::agent::{ApplyReport, DriftRepair, ObjectOutcome};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Endpoint {
    received: Mutex<Vec<(Instant, ApplyReport)>>,
    failing: AtomicBool,
    /// How many reports were refused while failing.
    refused: AtomicUsize,
    /// Answers 200 ms late.
    slow: AtomicBool,
}

async fn receive(
    State(endpoint): State<Arc<Endpoint>>,
    Json(report): Json<ApplyReport>,
) -> StatusCode {
    if endpoint.failing.load(Ordering::SeqCst) {
        endpoint.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if endpoint.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    endpoint
        .received
        .lock()
        .unwrap()
        .push((Instant::now(), report));
    StatusCode::NO_CONTENT
}

async fn endpoint() -> (Client, Arc<Endpoint>) {
    let endpoint = Arc::new(Endpoint::default());
    let app = Router::new()
        .route("/api/v1/agent/report", post(receive))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (client(addr, Duration::from_secs(5)), endpoint)
}

fn client(addr: SocketAddr, request_timeout: Duration) -> Client {
    let token = Token::fixed("t").unwrap();
    let poll_timeout = Duration::from_secs(25);
    Client::new(
        &format!("http://{addr}"),
        token,
        poll_timeout,
        request_timeout,
    )
    .unwrap()
}

/// A running report loop: its queue, its shutdown switch and its task.
struct Running {
    queue: mpsc::UnboundedSender<PassReport>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Queues a pass's report that has more to say than its generation.
    fn news(&self, report: ApplyReport) {
        self.pass(report, Teller::Report);
    }

    /// Queues a pass's report, ended now.
    fn pass(&self, report: ApplyReport, teller: Teller) {
        let at = Instant::now();
        self.queue.send(PassReport { report, teller, at }).unwrap();
    }
}

fn start(client: Client, delay: Duration, max_backoff: Duration) -> Running {
    let (queue, reports) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(report_loop(client, reports, delay, max_backoff, shutdown));
    Running { queue, stop, task }
}

fn outcome(object: &str, error: Option<&str>) -> ObjectOutcome {
    ObjectOutcome {
        object: object.to_owned(),
        action: "edit".to_owned(),
        error: error.map(str::to_owned),
    }
}

fn report(generation: u64, outcomes: Vec<ObjectOutcome>) -> ApplyReport {
    ApplyReport {
        applied_generation: generation,
        outcomes,
        drift_repaired: Vec::new(),
        unmanaged_services: Vec::new(),
        unmanaged_timeouts: None,
        agent_version: "1".to_owned(),
        kernel_version: format!("k{generation}"),
    }
}

fn objects(report: &ApplyReport) -> Vec<(&str, bool)> {
    report
        .outcomes
        .iter()
        .map(|o| (o.object.as_str(), o.error.is_none()))
        .collect()
}

/// Waits until the endpoint holds `count` reports, at most 5 s.
async fn wait_for(endpoint: &Endpoint, count: usize) -> Vec<(Instant, ApplyReport)> {
    let started = Instant::now();
    loop {
        let received = endpoint.received.lock().unwrap().clone();
        if received.len() >= count || started.elapsed() > Duration::from_secs(5) {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_merged_report_keeps_both_passes_and_the_later_state() {
    let mut earlier = report(
        4,
        vec![outcome("a", None), outcome("b", Some("No such file"))],
    );
    earlier.drift_repaired.push(DriftRepair {
        object: "c".to_owned(),
        found: "missing".to_owned(),
    });
    let later = report(5, vec![outcome("d", Some("Invalid argument"))]);
    let merged = merge(earlier, later);
    assert_eq!(merged.applied_generation, 5);
    assert_eq!(merged.kernel_version, "k5");
    // The later pass failed: the earlier failure may still stand.
    assert_eq!(objects(&merged), [("a", true), ("b", false), ("d", false)]);
    assert_eq!(merged.drift_repaired.len(), 1);
    assert!(!merged.succeeded());
}

#[test]
fn a_later_success_ends_earlier_failures_and_replaces_outcomes_of_the_same_object() {
    let earlier = report(
        4,
        vec![
            outcome("a", Some("No such file")),
            outcome("b", None),
            outcome("c", Some("Busy")),
        ],
    );
    let later = report(4, vec![outcome("a", None)]);
    let merged = merge(earlier, later);
    assert_eq!(objects(&merged), [("b", true), ("a", true)]);
    assert!(merged.succeeded());
}

#[tokio::test]
async fn reports_within_the_delay_go_as_one_and_not_before_it() {
    let (client, endpoint) = endpoint().await;
    let delay = Duration::from_millis(300);
    let started = Instant::now();
    let running = start(client, delay, Duration::from_secs(1));
    running.news(report(1, vec![outcome("a", None)]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    running.news(report(2, vec![outcome("b", None)]));
    let received = wait_for(&endpoint, 1).await;
    assert_eq!(received.len(), 1);
    let (at, sent) = &received[0];
    assert!(*at - started >= delay, "sent after {:?}", *at - started);
    assert_eq!(sent.applied_generation, 2);
    assert_eq!(objects(sent), [("a", true), ("b", true)]);

    // The next one waits its own delay.
    running.news(report(3, Vec::new()));
    let received = wait_for(&endpoint, 2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].1.applied_generation, 3);
    tokio::time::sleep(delay).await;
    assert_eq!(endpoint.received.lock().unwrap().len(), 2);
    finish(running).await;
}

#[tokio::test]
async fn reports_merge_while_the_server_fails() {
    let (client, endpoint) = endpoint().await;
    endpoint.failing.store(true, Ordering::SeqCst);
    let delay = Duration::from_millis(20);
    let running = start(client, delay, Duration::from_millis(200));
    running.news(report(1, vec![outcome("a", Some("Busy"))]));
    // Once a first attempt has failed (however long the machine took to make it), the
    // next report is queued well within the 200 ms before the retry.
    let started = Instant::now();
    while endpoint.refused.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "no attempt");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.news(report(2, vec![outcome("b", Some("Busy"))]));
    endpoint.failing.store(false, Ordering::SeqCst);
    let received = wait_for(&endpoint, 1).await;
    assert_eq!(received.len(), 1, "the retry carries both reports");
    assert_eq!(received[0].1.applied_generation, 2);
    assert_eq!(objects(&received[0].1), [("a", false), ("b", false)]);
    finish(running).await;
}

/// Enough for the report loop to read the answer to a report the endpoint has stored.
const SENT: Duration = Duration::from_millis(200);

/// Closes the queue; the loop ends once nothing waits.
async fn finish(running: Running) {
    let Running { queue, stop, task } = running;
    drop(queue);
    task.await.unwrap();
    drop(stop);
}

#[tokio::test]
async fn plain_reports_are_left_to_the_long_poll() {
    let (client, endpoint) = endpoint().await;
    let delay = Duration::from_millis(20);
    let running = start(client, delay, Duration::from_secs(1));
    running.news(report(1, vec![outcome("a", None)]));
    assert_eq!(wait_for(&endpoint, 1).await.len(), 1);
    // The endpoint has it before the loop has the answer: a pass until then counts as one
    // made while a report was in flight.
    tokio::time::sleep(SENT).await;
    running.pass(report(2, vec![outcome("b", None)]), Teller::LongPoll);
    tokio::time::sleep(delay * 10).await;
    assert_eq!(
        endpoint.received.lock().unwrap().len(),
        1,
        "plain: not sent"
    );
    // Plain merged with news is news.
    running.pass(report(3, vec![outcome("c", None)]), Teller::LongPoll);
    running.news(report(4, vec![outcome("d", Some("Busy"))]));
    let received = wait_for(&endpoint, 2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].1.applied_generation, 4);
    assert_eq!(objects(&received[1].1), [("c", true), ("d", false)]);
    finish(running).await;
}

#[tokio::test]
async fn a_plain_report_from_while_a_report_was_in_flight_is_sent() {
    // The long-poll after that pass may have reached the server before the report in
    // flight, which would then set the director back to the older generation.
    let (client, endpoint) = endpoint().await;
    endpoint.slow.store(true, Ordering::SeqCst);
    let delay = Duration::from_millis(20);
    let running = start(client, delay, Duration::from_secs(1));
    running.news(report(1, vec![outcome("a", None)]));
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.pass(report(2, vec![outcome("b", None)]), Teller::LongPoll);
    let received = wait_for(&endpoint, 2).await;
    assert_eq!(received.len(), 2, "sent after the one in flight");
    assert_eq!(received[1].1.applied_generation, 2);
    // Once nothing is in flight, plain ones stay home again.
    tokio::time::sleep(SENT).await;
    running.pass(report(3, vec![outcome("c", None)]), Teller::LongPoll);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(endpoint.received.lock().unwrap().len(), 2);
    finish(running).await;
}

/// Queues a report with `running`'s long delay, stops the loop while the report waits, and
/// returns how long the loop took to end.
async fn stop_while_a_report_waits(running: Running) -> Duration {
    running.news(report(7, Vec::new()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopped = Instant::now();
    running.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running.task)
        .await
        .expect("the loop ends at shutdown")
        .unwrap();
    stopped.elapsed()
}

#[tokio::test]
async fn a_report_waiting_at_shutdown_is_sent_at_once() {
    let (client, endpoint) = endpoint().await;
    let long = Duration::from_secs(60);
    stop_while_a_report_waits(start(client, long, long)).await;
    let received = endpoint.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1.applied_generation, 7);
}

#[tokio::test]
async fn a_server_that_does_not_answer_holds_shutdown_up_for_at_most_two_seconds() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = client(addr, Duration::from_secs(30));
    let long = Duration::from_secs(60);
    let took = stop_while_a_report_waits(start(client, long, long)).await;
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(4)).contains(&took),
        "{took:?}"
    );
}

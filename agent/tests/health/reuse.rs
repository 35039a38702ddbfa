//! HTTP checks with `reuse_connection`: one connection for many checks while the server keeps
//! it, answers read exactly to their end, and a new connection whenever the kept one is gone
//! or was left in an unknown state.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use lvs_agent::health::probe::{Probe, Shared};
use lvs_agent::health::{Engine, Failure};
use lvs_testkit::tls::TlsServer;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::target;

/// What a responder does with a request, given its number on the connection (from 0).
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// This answer; the connection stays open.
    Answer(&'static str),
    /// This answer, then an orderly close.
    AnswerAndClose(&'static str),
    /// This answer, then, idle a while, a 408 that nobody asked for and the close (as
    /// some servers end a keep-alive).
    AnswerThen408(&'static str),
    /// An orderly close, without an answer.
    Close,
    /// Nothing, ever.
    Silence,
}

/// An HTTP server on loopback that serves many requests per connection, counting what it
/// sees.
#[derive(Clone)]
struct Responder {
    address: SocketAddr,
    /// Connections accepted.
    accepts: Arc<AtomicUsize>,
    /// Connections that ended with a reset from the check.
    resets: Arc<AtomicUsize>,
    /// Every request, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

/// How long a responder keeps an idle connection unless told otherwise.
const PATIENT: Duration = Duration::from_secs(60);

impl Responder {
    async fn start(reply: fn(usize) -> Reply) -> Responder {
        Responder::closing_idle(PATIENT, reply).await
    }

    /// Closes a connection that stays idle for `idle`, as servers' keep-alive timeouts do.
    async fn closing_idle(idle: Duration, reply: fn(usize) -> Reply) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let responder = Responder::new(listener.local_addr().unwrap());
        let serving = responder.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serving.accepts.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serving.clone().serve(stream, idle, reply));
            }
        });
        responder
    }

    async fn start_tls(dir: &std::path::Path, reply: fn(usize) -> Reply) -> (Responder, String) {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let (server, listener, acceptor) = TlsServer::bind(dir, loopback).await;
        let responder = Responder::new(server.address);
        let serving = responder.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                serving.accepts.fetch_add(1, Ordering::SeqCst);
                let (acceptor, serving) = (acceptor.clone(), serving.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serving.serve(stream, PATIENT, reply).await;
                    }
                });
            }
        });
        (responder, server.ca_file.display().to_string())
    }

    fn new(address: SocketAddr) -> Responder {
        Responder {
            address,
            accepts: Arc::default(),
            resets: Arc::default(),
            requests: Arc::default(),
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        mut stream: S,
        idle: Duration,
        reply: fn(usize) -> Reply,
    ) {
        let mut received = Vec::new();
        for n in 0.. {
            let request = loop {
                if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                    let request: Vec<u8> = received.drain(..end + 4).collect();
                    break String::from_utf8_lossy(&request).into_owned();
                }
                let mut chunk = [0_u8; 1024];
                match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
                    Ok(Ok(0)) | Err(_) => return,
                    Ok(Ok(read)) => received.extend_from_slice(&chunk[..read]),
                    Ok(Err(error)) => {
                        if error.kind() == std::io::ErrorKind::ConnectionReset {
                            self.resets.fetch_add(1, Ordering::SeqCst);
                        }
                        return;
                    }
                }
            };
            self.requests.lock().unwrap().push(request);
            match reply(n) {
                Reply::Answer(answer) => {
                    let _ = stream.write_all(answer.as_bytes()).await;
                }
                Reply::AnswerAndClose(answer) => {
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                Reply::AnswerThen408(answer) => {
                    let _ = stream.write_all(answer.as_bytes()).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let timeout = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n";
                    let _ = stream.write_all(timeout.as_bytes()).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                Reply::Close => {
                    let _ = stream.shutdown().await;
                    return;
                }
                Reply::Silence => std::future::pending::<()>().await,
            }
        }
    }

    fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// A probe of this responder with the check `spec`.
    fn probe(&self, spec: Value) -> Probe {
        Probe::new(
            target(self.address.port(), spec),
            &Arc::new(Shared::default()),
        )
    }
}

/// `{"kind": "http", "reuse_connection": true}` with `extra`.
fn reusing(extra: Value) -> Value {
    let mut spec = json!({"kind": "http", "reuse_connection": true});
    let Value::Object(extra) = extra else {
        panic!("not an object: {extra}")
    };
    spec.as_object_mut().unwrap().extend(extra);
    spec
}

/// Runs `n` checks on `probe`, each of which must pass.
async fn pass(probe: &mut Probe, n: usize) {
    for i in 0..n {
        assert_eq!(probe.run().await, Ok(()), "check {i}");
    }
}

const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus=ok";

#[tokio::test]
async fn checks_that_reuse_share_one_connection() {
    let responder = Responder::start(|_| Reply::Answer(OK)).await;
    let mut probe = responder.probe(reusing(json!({"path": "/up", "expect_body": "status=ok"})));
    pass(&mut probe, 5).await;
    assert_eq!(responder.accepts(), 1);
    let requests = responder.requests();
    assert_eq!(requests.len(), 5);
    for request in requests {
        assert!(
            request.starts_with("GET /up HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{request}"
        );
        assert!(request.contains("\r\nUser-Agent: lvs-agent/"), "{request}");
        assert!(request.contains("\r\nAccept: */*\r\n"), "{request}");
        assert!(
            request.ends_with("\r\nConnection: keep-alive\r\n\r\n"),
            "{request}"
        );
    }

    // Without it, a connection per check, which asks the server to close.
    let responder = Responder::start(|_| Reply::Answer(OK)).await;
    let mut probe = responder.probe(json!({"kind": "http", "path": "/up"}));
    pass(&mut probe, 3).await;
    assert_eq!(responder.accepts(), 3);
    for request in responder.requests() {
        assert!(request.starts_with("GET /up HTTP/1.0\r\n"), "{request}");
        assert!(
            request.ends_with("\r\nConnection: close\r\n\r\n"),
            "{request}"
        );
    }
}

#[tokio::test]
async fn chunked_head_and_empty_answers_are_read_to_their_end() {
    let chunked = Responder::start(|_| {
        Reply::Answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             7;name=value\r\nstatus=\r\n2\r\nok\r\n0\r\nX-Trailer: yes\r\n\r\n",
        )
    })
    .await;
    // Anchored: the chunk sizes are not part of the body the pattern sees.
    let mut probe = chunked.probe(reusing(json!({"expect_body_regex": "^status=ok$"})));
    pass(&mut probe, 3).await;
    assert_eq!(chunked.accepts(), 1);

    // The length of the body a GET would get, and no body.
    let head =
        Responder::start(|_| Reply::Answer("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"))
            .await;
    let mut probe = head.probe(reusing(json!({"method": "HEAD"})));
    pass(&mut probe, 3).await;
    assert_eq!(head.accepts(), 1);

    let empty = Responder::start(|_| Reply::Answer("HTTP/1.1 204 No Content\r\n\r\n")).await;
    let mut probe = empty.probe(reusing(json!({})));
    pass(&mut probe, 3).await;
    assert_eq!(empty.accepts(), 1);
}

#[tokio::test]
async fn a_status_outside_the_expected_ones_fails_on_a_kept_connection() {
    let busy = Responder::start(|_| {
        Reply::Answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
    })
    .await;
    let mut probe = busy.probe(reusing(json!({"expect_body": "busy"})));
    for _ in 0..3 {
        assert_eq!(probe.run().await, Err(Failure::Status(503)));
    }
    assert_eq!(
        busy.accepts(),
        1,
        "a well-framed answer keeps the connection"
    );
}

#[tokio::test]
async fn a_server_that_closes_idle_connections_costs_no_failure() {
    // Closed right after each answer.
    let closing = Responder::start(|_| Reply::AnswerAndClose(OK)).await;
    let mut probe = closing.probe(reusing(json!({"expect_body": "status=ok"})));
    pass(&mut probe, 4).await;
    assert_eq!(closing.accepts(), 4);

    // Closed after a keep-alive timeout.
    let timing_out =
        Responder::closing_idle(Duration::from_millis(100), |_| Reply::Answer(OK)).await;
    let mut probe = timing_out.probe(reusing(json!({})));
    pass(&mut probe, 2).await;
    assert_eq!(timing_out.accepts(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    pass(&mut probe, 2).await;
    assert_eq!(timing_out.accepts(), 2);

    // Closed under the next request, before answering: that request again, on a new one.
    let closing_late = Responder::start(|n| match n {
        0 => Reply::Answer(OK),
        _ => Reply::Close,
    })
    .await;
    let mut probe = closing_late.probe(reusing(json!({})));
    pass(&mut probe, 3).await;
    assert_eq!(closing_late.accepts(), 3);
    assert_eq!(closing_late.requests().len(), 5);

    // Closed with a last word: not taken for the next answer.
    let talking = Responder::start(|_| Reply::AnswerThen408(OK)).await;
    let mut probe = talking.probe(reusing(json!({})));
    for _ in 0..2 {
        pass(&mut probe, 1).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(talking.accepts(), 2);
}

#[tokio::test]
async fn a_new_connection_that_fails_counts_as_ever() {
    let closing = Responder::start(|_| Reply::Close).await;
    let mut probe = closing.probe(reusing(json!({})));
    assert!(
        matches!(probe.run().await, Err(Failure::Protocol(_))),
        "no answer on a new connection"
    );
    assert_eq!(closing.accepts(), 1, "no second try");
}

#[tokio::test]
async fn answers_that_end_the_connection_are_not_reused() {
    fn closing(_: usize) -> Reply {
        Reply::AnswerAndClose("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    }
    fn unframed(_: usize) -> Reply {
        Reply::AnswerAndClose("HTTP/1.1 200 OK\r\n\r\nok")
    }
    // HTTP/1.0 without keep-alive: closed by the check, whatever the server would do.
    fn old(_: usize) -> Reply {
        Reply::Answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    }
    for reply in [closing, unframed, old] {
        let responder = Responder::start(reply).await;
        let mut probe = responder.probe(reusing(json!({"expect_body": "ok"})));
        pass(&mut probe, 3).await;
        assert_eq!(responder.accepts(), 3, "{:?}", reply(0));
    }
}

#[tokio::test]
async fn an_answer_past_the_cap_passes_as_ever_and_drops_the_connection() {
    fn big(_: usize) -> Reply {
        static ANSWER: OnceLock<String> = OnceLock::new();
        Reply::Answer(ANSWER.get_or_init(|| {
            let body = "x".repeat(100 * 1024);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\nready{body}",
                body.len() + 5
            )
        }))
    }
    let responder = Responder::start(big).await;
    let mut probe = responder.probe(reusing(json!({"expect_body": "ready"})));
    pass(&mut probe, 2).await;
    assert_eq!(responder.accepts(), 2);
}

#[tokio::test]
async fn a_timeout_leaves_no_connection_behind() {
    let responder = Responder::start(|n| match n {
        0 => Reply::Answer(OK),
        _ => Reply::Silence,
    })
    .await;
    let mut probe = responder.probe(reusing(json!({"timeout_ms": 300, "interval_ms": 1000})));
    pass(&mut probe, 1).await;
    assert_eq!(probe.run().await, Err(Failure::Timeout));
    pass(&mut probe, 1).await;
    assert_eq!(responder.accepts(), 2);
}

#[tokio::test]
async fn the_engine_keeps_one_connection_and_resets_it_when_the_check_stops() {
    let responder = Responder::start(|_| Reply::Answer(OK)).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut engine = Engine::new(Shared::default(), tx).expect("the engine starts");
    let check = reusing(json!({"interval_ms": 200, "timeout_ms": 150}));
    let watched = target(responder.address.port(), check);
    engine.start(watched.clone());
    tokio::time::sleep(Duration::from_millis(750)).await;
    assert!(
        responder.requests().len() >= 3,
        "{:?}",
        responder.requests()
    );
    assert_eq!(responder.accepts(), 1);
    assert_eq!(responder.resets.load(Ordering::SeqCst), 0);

    // Stopped, as when the check changes or its real server goes.
    engine.stop(&watched);
    for _ in 0..50 {
        if responder.resets.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server's side of the kept connection saw no reset");
}

#[tokio::test]
async fn https_keeps_its_tls_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (responder, ca) = Responder::start_tls(dir.path(), |_| Reply::Answer(OK)).await;
    let spec = json!({"kind": "https", "ca_file": ca, "reuse_connection": true,
                      "expect_body": "status=ok"});
    let mut probe = responder.probe(spec);
    pass(&mut probe, 3).await;
    assert_eq!(responder.accepts(), 1);

    let other = tempfile::tempdir().unwrap();
    let (closing, ca) = Responder::start_tls(other.path(), |_| Reply::AnswerAndClose(OK)).await;
    let mut probe = closing.probe(json!({"kind": "https", "ca_file": ca,
                                         "reuse_connection": true}));
    pass(&mut probe, 3).await;
    assert_eq!(closing.accepts(), 3);
}

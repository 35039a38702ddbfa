//! The engine: rise and fall over real attempts, and checks spread over their interval.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_agent::health::probe::{Shared, TcpChecks};
use lvs_agent::health::{Engine, ExecPolicy, Failure, Transition};
use lvs_model::Health;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::*;

async fn next(rx: &mut mpsc::UnboundedReceiver<Transition>, within: Duration) -> Transition {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("a transition in time")
        .expect("the engine runs")
}

#[tokio::test]
async fn a_dead_server_falls_and_a_revived_one_rises() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut engine = Engine::new(Shared::new(ExecPolicy::default(), TcpChecks::Syn), tx)
        .expect("the engine starts");
    let check = json!({"kind": "tcp", "interval_ms": 100, "timeout_ms": 50, "rise": 2, "fall": 3});
    let watched = target(port, check);
    engine.start(watched.clone());
    engine.start(watched.clone());
    assert_eq!(engine.len(), 1, "a target runs once");

    // Up from the start: nothing to say while it answers.
    let quiet = tokio::time::timeout(Duration::from_millis(400), rx.recv()).await;
    assert!(quiet.is_err(), "{quiet:?}");

    drop(listener);
    let died = Instant::now();
    let down = next(&mut rx, Duration::from_secs(2)).await;
    assert_eq!(down.health, Health::Down);
    assert_eq!(down.failure, Some(Failure::Refused));
    assert_eq!(down.target, watched);
    // Generous: the goal itself is measured by `cargo xtask bench health`, not here.
    assert!(
        died.elapsed() < Duration::from_millis(1500),
        "{:?}",
        died.elapsed()
    );

    let _revived = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let up = next(&mut rx, Duration::from_secs(2)).await;
    assert_eq!((up.health, up.failure), (Health::Up, None));

    engine.stop(&watched);
    assert!(engine.is_empty());
    let status = engine.status();
    assert!(status.results.load(std::sync::atomic::Ordering::Relaxed) >= 5);
}

/// 200 targets of one interval, started at once, make their first attempts spread over
/// the interval: no tenth of it holds more than three times its share.
#[tokio::test]
async fn checks_started_together_spread_over_their_interval() {
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let times = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            times.lock().unwrap().push(Instant::now());
            drop(stream);
        }
    });
    let (tx, _rx) = mpsc::unbounded_channel();
    // Checks that connect, so that the listener sees each attempt.
    let mut engine = Engine::new(Shared::new(ExecPolicy::default(), TcpChecks::Connect), tx)
        .expect("the engine starts");
    let started = Instant::now();
    const TARGETS: u8 = 200;
    for host in 1..=TARGETS {
        // Every 127.0.0.0/8 address is this host: 200 distinct targets, one listener.
        let address = IpAddr::V4(Ipv4Addr::new(127, 0, 1, host));
        engine.start(target_at(
            address,
            port,
            json!({"kind": "tcp", "interval_ms": 1000, "timeout_ms": 500}),
        ));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let times = accepted.lock().unwrap().clone();
    let mut buckets = [0_usize; 10];
    for at in times
        .iter()
        .filter(|t| t.duration_since(started) < Duration::from_millis(1000))
    {
        let tenth = (at.duration_since(started).as_millis() / 100).min(9) as usize;
        buckets[tenth] += 1;
    }
    let total: usize = buckets.iter().sum();
    assert!(
        total >= 180,
        "first attempts seen: {total} of {TARGETS}: {buckets:?}"
    );
    assert!(
        buckets.iter().all(|n| *n <= 3 * usize::from(TARGETS) / 10),
        "bursts: {buckets:?}"
    );
    drop(engine);
}

#[tokio::test]
async fn the_pulse_counts_targets_and_their_longest_interval() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut engine = Engine::new(Shared::new(ExecPolicy::default(), TcpChecks::Syn), tx)
        .expect("the engine starts");
    let status = engine.status();
    let port = closed_port();
    let fast = target(
        port,
        json!({"kind": "tcp", "interval_ms": 500, "timeout_ms": 100}),
    );
    let slow = target(
        port,
        json!({"kind": "tcp", "interval_ms": 5000, "timeout_ms": 100}),
    );
    engine.start(fast.clone());
    engine.start(slow.clone());
    let pulse = status.pulse();
    assert_eq!((pulse.targets, pulse.longest_interval_ms), (2, 5000));
    assert_eq!(
        (pulse.results, pulse.last_result_ms),
        (0, 0),
        "no result yet"
    );
    // The fast target's first attempt is due within its interval; then the pulse says
    // when, in wall-clock time.
    let waited = Instant::now();
    while status.pulse().results == 0 {
        assert!(waited.elapsed() < Duration::from_secs(5), "no result");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let last = status.pulse().last_result_ms;
    assert!(
        last <= now_ms + 5 && now_ms - last < 1_000,
        "last result {last} against now {now_ms}"
    );
    engine.stop(&slow);
    let pulse = status.pulse();
    assert_eq!((pulse.targets, pulse.longest_interval_ms), (1, 500));
    engine.stop(&fast);
    assert_eq!(status.pulse().targets, 0);
}

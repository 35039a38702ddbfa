//! What the server's benchmarks share: the 10,000 x 10 cluster document and the cluster
//! seeded with it, directors with agent tokens and their statistics reports, timing of sequential requests, and the report
//! of figures against goals.

#![allow(dead_code)] // Each benchmark uses its own part of this module.

pub mod process;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const SERVICES: usize = 10_000;
pub const REAL_SERVERS: usize = 10;
pub const SAMPLES: usize = 1_000;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The whole cluster: services 10.0.x.y:80, each with real servers 10.1.x.y:8080 and up.
pub fn document() -> Value {
    let services: Vec<Value> = (0..SERVICES)
        .map(|i| {
            let servers: Vec<Value> = (0..REAL_SERVERS)
                .map(|j| {
                    let address =
                        std::net::Ipv4Addr::from(0x0a01_0000 + (i * REAL_SERVERS + j) as u32);
                    json!({"address": address.to_string(), "port": 8080, "forwarding": "masq",
                           "weight": 1 + j % 5})
                })
                .collect();
            let vip = std::net::Ipv4Addr::from(0x0a00_0000 + i as u32 + 1);
            json!({"protocol": "tcp", "address": vip.to_string(), "port": 80, "scheduler": "wrr",
                   "name": format!("service {i}"), "real_servers": servers})
        })
        .collect();
    json!({"timeouts": {}, "services": services})
}

/// Times `SAMPLES` sequential requests, each of which must succeed.
pub async fn sample<F, Fut>(mut request: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = request().await?;
        let status = response.status();
        response.bytes().await?;
        times.push(started.elapsed());
        if !status.is_success() {
            return Err(format!("request failed with {status}").into());
        }
    }
    Ok(times)
}

pub async fn expect(response: reqwest::Response, status: u16) -> Result<Value> {
    let actual = response.status().as_u16();
    let body = response.text().await?;
    if actual != status {
        return Err(format!("expected {status}, got {actual}: {body}").into());
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The `q` quantile of `times` (0 to 1), in milliseconds.
pub fn percentile_ms(times: &[Duration], q: f64) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms.get(((ms.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Collects results against their goals; fails the run if any goal is missed.
#[derive(Default)]
pub struct Report {
    missed: Vec<String>,
}

impl Report {
    pub fn latency(&mut self, what: &str, times: &[Duration], goal_p99_ms: f64) {
        let (p50, p99) = (percentile_ms(times, 0.50), percentile_ms(times, 0.99));
        self.check(
            what,
            &format!("p50 {p50:6.2} ms  p99 {p99:6.2} ms"),
            p99 < goal_p99_ms,
            &format!("p99 under {goal_p99_ms} ms"),
        );
    }

    pub fn check(&mut self, what: &str, figures: &str, met: bool, goal: &str) {
        let verdict = if met { "ok" } else { "MISSED" };
        println!("{what:<44} {figures:<34} goal: {goal:<18} {verdict}");
        if !met {
            self.missed.push(what.to_owned());
        }
    }

    pub fn finish(self) -> Result<()> {
        if self.missed.is_empty() {
            println!("all goals met");
            Ok(())
        } else {
            Err(format!("goals missed: {}", self.missed.join(", ")).into())
        }
    }
}

/// Reads one of the seeded services, chosen by `rng`, which must answer 200: how long it took.
pub async fn timed_read(client: &reqwest::Client, api: &str, rng: &mut Lcg) -> Result<Duration> {
    let service = rng.below(SERVICES as u64) + 1;
    let read = Instant::now();
    let response = client
        .get(format!("{api}/clusters/bench/services/{service}"))
        .send()
        .await?;
    expect(response, 200).await?;
    Ok(read.elapsed())
}

/// A tiny deterministic generator, so every run asks for the same objects.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Creates the cluster `bench` and PUTs `document`, serialized, as its desired state;
/// returns how long the PUT took.
pub async fn seed(client: &reqwest::Client, api: &str, document: Vec<u8>) -> Result<Duration> {
    expect(
        client
            .post(format!("{api}/clusters"))
            .json(&json!({"name": "bench"}))
            .send()
            .await?,
        201,
    )
    .await?;
    let started = Instant::now();
    let response = client
        .put(format!("{api}/clusters/bench/desired-state"))
        .header("content-type", "application/json")
        .body(document)
        .send()
        .await?;
    expect(response, 200).await?;
    Ok(started.elapsed())
}

/// The cluster `bench`'s desired state, as GET shows it.
pub async fn desired_state(client: &reqwest::Client, api: &str) -> Result<Value> {
    let response = client
        .get(format!("{api}/clusters/bench/desired-state"))
        .send()
        .await?;
    expect(response, 200).await
}

/// Directors `lb0`.. of the cluster `bench`, each with a new agent token; the tokens.
pub async fn director_tokens(
    client: &reqwest::Client,
    api: &str,
    count: usize,
) -> Result<Vec<String>> {
    let directors = format!("{api}/clusters/bench/directors");
    let mut tokens = Vec::with_capacity(count);
    for d in 0..count {
        let name = format!("lb{d}");
        expect(
            client
                .post(&directors)
                .json(&json!({"name": name}))
                .send()
                .await?,
            201,
        )
        .await?;
        let token = expect(
            client
                .post(format!("{directors}/{name}/token"))
                .send()
                .await?,
            201,
        )
        .await?;
        tokens.push(token["token"].as_str().ok_or("no token")?.to_owned());
    }
    Ok(tokens)
}

/// A director's report: counters for every service and real server of `document`.
pub fn stats_report(document: &Value, round: u64) -> Value {
    let counters = |n: u64| {
        json!({"connections": n, "packets_in": n * 10, "packets_out": n * 9,
               "bytes_in": n * 1000, "bytes_out": n * 9000})
    };
    let services: Vec<Value> = document["services"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, service)| {
            let key = format!("tcp:{}:{}", service["address"].as_str().unwrap_or(""), service["port"]);
            let rate = (i as u64 % 50) + round;
            let servers: Vec<Value> = service["real_servers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|rs| {
                    json!({"key": format!("{}:{}", rs["address"].as_str().unwrap_or(""), rs["port"]),
                           "active_connections": rate, "inactive_connections": 1,
                           "persistent_connections": 0,
                           "counters": counters(rate * 100), "rates": counters(rate)})
                })
                .collect();
            json!({"key": key, "counters": counters(rate * 1000), "rates": counters(rate * 10),
                   "real_servers": servers})
        })
        .collect();
    json!({ "services": services })
}

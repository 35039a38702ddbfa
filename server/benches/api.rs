//! `cargo xtask bench api`: the release server with 10,000 services of 10 real servers each.
//!
//! Prints p50/p99 latencies of single-object reads and writes, the throughput of mixed reads,
//! the time of a declarative PUT of the whole document that changes one weight (and how many
//! rows it wrote), and the server's memory, each against its goal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{document, expect, sample, Lcg, Report, Result, REAL_SERVERS, SERVICES};

#[tokio::main]
async fn main() -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut server = Server::start(data.path())?;
    let api = format!("http://{}/api/v1", server.address);
    let client = reqwest::Client::new();

    let document = document();
    let bytes = serde_json::to_vec(&document)?;
    println!(
        "seeding {SERVICES} services x {REAL_SERVERS} real servers ({:.1} MB document)",
        bytes.len() as f64 / 1e6
    );
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
        .body(bytes)
        .send()
        .await?;
    expect(response, 200).await?;
    println!(
        "initial declarative load: {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let mut report = Report::default();
    let mut rng = Lcg(7);
    let service_url = |id: u64| format!("{api}/clusters/bench/services/{id}");

    let get = sample(|| {
        let url = service_url(rng.below(SERVICES as u64) + 1);
        client.get(url).send()
    })
    .await?;
    report.latency("get one service", &get, 10.0);

    let list = sample(|| {
        let cursor = rng.below((SERVICES - 100) as u64);
        client
            .get(format!(
                "{api}/clusters/bench/services?limit=100&cursor={cursor}"
            ))
            .send()
    })
    .await?;
    report.latency("list a page of 100 services", &list, 10.0);

    let mut weight = 0;
    let patch = sample(|| {
        let service = rng.below(SERVICES as u64) + 1;
        let server = (service - 1) * REAL_SERVERS as u64 + rng.below(REAL_SERVERS as u64) + 1;
        weight = (weight + 1) % 100 + 1;
        client
            .patch(format!("{}/real-servers/{server}", service_url(service)))
            .header("content-type", "application/merge-patch+json")
            .body(json!({ "weight": weight }).to_string())
            .send()
    })
    .await?;
    report.latency("change one real server's weight", &patch, 10.0);

    let mut next_address = 0u32;
    let create = sample(|| {
        let service = rng.below(SERVICES as u64) + 1;
        next_address += 1;
        let address = std::net::Ipv4Addr::from(0x0b00_0000 + next_address);
        client
            .post(format!("{}/real-servers", service_url(service)))
            .json(&json!({"address": address.to_string(), "forwarding": "masq", "port": 8080}))
            .send()
    })
    .await?;
    report.latency("create one real server", &create, 10.0);

    let throughput = mixed_reads(&client, &api, Duration::from_secs(10)).await?;
    println!(
        "{:<44} {throughput:>9.0} requests/s (16 concurrent clients)",
        "mixed reads"
    );

    let (seconds, written) = declarative_change(&client, &api, data.path()).await?;
    report.check(
        "declarative PUT of 10k x 10, one weight changed",
        &format!("{seconds:.3} s, {written} real-server rows written"),
        seconds < 1.0 && written == 1,
        "under 1 s, 1 row",
    );

    let rss = server.peak_rss_mb()?;
    report.check(
        "server peak RSS",
        &format!("{rss:.0} MB"),
        rss < 200.0,
        "under 200 MB",
    );
    server.stop()?;
    report.finish()
}

async fn mixed_reads(client: &reqwest::Client, api: &str, length: Duration) -> Result<f64> {
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let workers: Vec<_> = (0..16u64)
        .map(|worker| {
            let (client, api) = (client.clone(), api.to_owned());
            tokio::spawn(async move {
                let mut rng = Lcg(worker + 1);
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let service = rng.below(SERVICES as u64) + 1;
                    let url = match done % 3 {
                        0 => format!("{api}/clusters/bench/services/{service}"),
                        1 => format!("{api}/clusters/bench/services/{service}/real-servers"),
                        _ => format!("{api}/clusters/bench/services?limit=100&cursor={service}"),
                    };
                    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
                    if !response.status().is_success() {
                        return Err(format!("read failed with {}", response.status()));
                    }
                    response.bytes().await.map_err(|e| e.to_string())?;
                    done += 1;
                }
                Ok::<u64, String>(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// GETs the whole document, changes one weight, PUTs it back: the time of the PUT, and how
/// many real-server rows it updated (from their `updated_at`).
async fn declarative_change(
    client: &reqwest::Client,
    api: &str,
    data: &std::path::Path,
) -> Result<(f64, i64)> {
    let url = format!("{api}/clusters/bench/desired-state");
    let mut times = Vec::new();
    let mut written = 0;
    for round in 0..3 {
        let mut document: Value = client.get(&url).send().await?.json().await?;
        let server = &mut document["services"][1234]["real_servers"][5];
        server["weight"] = json!(200 + round);
        let body = serde_json::to_vec(&document)?;
        let before = now_millis();
        let started = Instant::now();
        let response = client
            .put(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let diff: Value = expect(response, 200).await?;
        times.push(started.elapsed().as_secs_f64());
        let summary = &diff["summary"];
        if summary["real_servers_changed"] != 1 || summary["services_changed"] != 0 {
            return Err(format!("unexpected diff summary {summary}").into());
        }
        written = rows_updated_since(data, before)?;
    }
    times.sort_by(f64::total_cmp);
    Ok((times[1], written))
}

fn rows_updated_since(data: &std::path::Path, millis: i64) -> Result<i64> {
    let output = Command::new("sqlite3")
        .arg(data.join("fleet.db"))
        .arg(format!(
            "SELECT count(*) FROM real_servers WHERE updated_at >= {millis}"
        ))
        .output()?;
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

fn now_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The release server binary on a fresh data directory.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(data: &std::path::Path) -> Result<Server> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lvs-server"))
            .env("LVS_LISTEN", "127.0.0.1:0")
            .env("LVS_DATA_DIR", data)
            .env("LVS_LOG", "warn,lvs_server=info")
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let address = loop {
            let line = lines.next().ok_or("the server exited before listening")??;
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, address })
    }

    fn peak_rss_mb(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmHWM in /proc")?;
        Ok(kb / 1024.0)
    }

    fn stop(&mut self) -> Result<()> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("the server exited with {status}").into());
        }
        Ok(())
    }
}

//! `cargo xtask bench metrics`: scrapes of `GET /metrics` on the release server with
//! 10,000 services of 10 real servers each, whose 3 directors report statistics for all of
//! it through the agents' endpoint.
//!
//! For each `--metrics-detail` the server is started on the same database, the directors
//! report, and scrapes are timed (goal: the median under 1 s at every level; the first
//! scrape of a generation also reads the cluster's weights, and is shown apart). At
//! real-server detail, single reads of a service are timed alone and again while a client
//! scrapes without pause (at nice 19: it stands for a Prometheus on another host): a
//! scrape must not stall the API (goal: p99 under twice the calm p99, or under 2 ms when
//! that is below a millisecond, where the scheduler's time slices decide; and under 10 ms).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::process::{api_token, Server};
use common::{
    desired_state, director_tokens, document, expect, percentile_ms, seed, stats_report,
    timed_read, Lcg, Report, Result, REAL_SERVERS, SAMPLES, SERVICES,
};

/// Directors reporting statistics for the whole table.
const DIRECTORS: usize = 3;
/// Scrapes timed per detail level.
const SCRAPES: usize = 5;
/// Scrapes that overlap the reads timed while scraping.
const BUSY_SCRAPES: u32 = 5;
/// The goal for one scrape.
const SCRAPE_GOAL: Duration = Duration::from_secs(1);

/// The levels, finest first, with the backend series each should have.
const LEVELS: [(&str, usize); 3] = [
    ("real-server", DIRECTORS * SERVICES * REAL_SERVERS),
    ("service", DIRECTORS * SERVICES),
    ("cluster", DIRECTORS),
];

#[tokio::main]
async fn main() -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut report = Report::default();
    let mut made: Option<Scraper> = None;
    let mut admin_token = None;
    for (level, backends) in LEVELS {
        let mut server = Server::start_with(data.path(), &[("LVS_METRICS_DETAIL", level)])?;
        let api = format!("http://{}/api/v1", server.address);
        // Issued once: the later servers open the same database.
        let token = match &admin_token {
            Some(token) => token,
            None => admin_token.insert(api_token(data.path())?),
        };
        let admin = lvs_testkit::server::client_with_token(token).build()?;
        // The first server is seeded; the others start on its database.
        let setup = match &made {
            Some(setup) => setup.clone(),
            None => {
                let bytes = serde_json::to_vec(&document())?;
                println!(
                    "seeding {SERVICES} services x {REAL_SERVERS} real servers, \
                     {DIRECTORS} directors reporting all of it"
                );
                seed(&admin, &api, bytes).await?;
                made.insert(Scraper::setup(&admin, &api).await?).clone()
            }
        };
        let scraper = setup.connect(&server.address)?;
        scraper.report_stats(&admin, &api).await?;

        // The first scrape of a generation also reads the cluster's weights.
        let started = Instant::now();
        scraper.scrape().await?;
        let first = started.elapsed();
        let mut times = Vec::with_capacity(SCRAPES);
        let mut last = Scraped::default();
        for _ in 0..SCRAPES {
            let started = Instant::now();
            last = scraper.scrape().await?;
            times.push(started.elapsed());
        }
        let expected = 3 * backends;
        if last.backend_series != expected {
            return Err(format!(
                "{level}: {} backend series, expected {expected}",
                last.backend_series
            )
            .into());
        }
        times.sort();
        let median = times[SCRAPES / 2];
        let figures = format!(
            "median {:.3} s, slowest {:.3} s, first {:.3} s; {} series, {:.1} MB",
            median.as_secs_f64(),
            times[SCRAPES - 1].as_secs_f64(),
            first.as_secs_f64(),
            last.series,
            last.bytes as f64 / 1e6
        );
        report.check(
            &format!("scrape at {level} detail"),
            &figures,
            median < SCRAPE_GOAL,
            "under 1 s",
        );
        if level == "real-server" {
            api_while_scraping(&mut report, &admin, &api, &scraper).await?;
        }
        println!("{:<44} {:.0} MB", "server peak RSS", server.peak_rss_mb()?);
        server.stop()?;
    }
    report.finish()
}

/// Single reads alone, then while scrapes follow each other without pause.
async fn api_while_scraping(
    report: &mut Report,
    client: &reqwest::Client,
    api: &str,
    scraper: &Scraper,
) -> Result<()> {
    // The reports must stay fresh (30 s) for the scrapes to carry every series.
    scraper.report_stats(client, api).await?;
    let mut rng = Lcg(7);
    let mut calm = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        calm.push(timed_read(client, api, &mut rng).await?);
    }
    report.latency("get one service", &calm, 10.0);

    scraper.report_stats(client, api).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicU32::new(0));
    let scraping = {
        let (scraper, stop, scrapes) = (scraper.clone(), stop.clone(), scrapes.clone());
        // Prometheus runs on another host: here the scraper shares the server's cores, so
        // it reads at the lowest priority, on a thread of its own, lest its CPU be
        // charged to the API.
        std::thread::spawn(move || -> std::result::Result<(), String> {
            let thread = rustix::thread::gettid();
            rustix::process::setpriority_process(Some(thread), 19).map_err(|e| e.to_string())?;
            // A client of its own, whose connections this thread's runtime drives.
            let scraper = Scraper {
                client: reqwest::Client::new(),
                ..scraper
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                while !stop.load(Ordering::Relaxed) {
                    scraper.scrape().await?;
                    scrapes.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
    };
    // Reads go on until several whole scrapes overlapped them.
    let started = Instant::now();
    let mut busy = Vec::with_capacity(SAMPLES);
    while busy.len() < SAMPLES || scrapes.load(Ordering::Relaxed) < BUSY_SCRAPES {
        busy.push(timed_read(client, api, &mut rng).await?);
    }
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    scraping.join().map_err(|_| "the scraper panicked")??;
    let scrapes = scrapes.load(Ordering::Relaxed);
    let (calm_p99, busy_p99) = (percentile_ms(&calm, 0.99), percentile_ms(&busy, 0.99));
    report.check(
        "get one service while scraping",
        &format!(
            "p50 {:.2} ms  p99 {busy_p99:.2} ms ({} reads, {scrapes} scrapes in {:.1} s)",
            percentile_ms(&busy, 0.5),
            busy.len(),
            took.as_secs_f64()
        ),
        busy_p99 < 2.0 * calm_p99.max(1.0) && busy_p99 < 10.0,
        "p99 < 2x calm, 2 ms",
    );
    Ok(())
}

/// What one scrape returned.
#[derive(Debug, Default)]
struct Scraped {
    bytes: usize,
    series: usize,
    backend_series: usize,
}

/// The directors' tokens and the statistics they report, made once for every level.
#[derive(Clone)]
struct Scraper {
    directors: Vec<String>,
    body: &'static [u8],
    viewer: String,
    client: reqwest::Client,
    url: String,
}

impl Scraper {
    async fn setup(client: &reqwest::Client, api: &str) -> Result<Scraper> {
        let directors = director_tokens(client, api, DIRECTORS).await?;
        let document = desired_state(client, api).await?;
        // One body for every report: a `'static` slice is sent without copying.
        let body: &'static [u8] =
            Box::leak(serde_json::to_vec(&stats_report(&document, 1))?.into_boxed_slice());
        // Prometheus scrapes with a viewer's API token.
        let issued = client
            .post(format!("{api}/api-tokens"))
            .json(&json!({"name": "prometheus", "role": "viewer",
                          "service_account": "prometheus"}))
            .send()
            .await?;
        let viewer = expect(issued, 201).await?["token"]
            .as_str()
            .ok_or("no token")?
            .to_owned();
        Ok(Scraper {
            directors,
            body,
            viewer,
            client: reqwest::Client::new(),
            url: String::new(),
        })
    }

    /// This scraper for the server at `address`.
    fn connect(&self, address: &str) -> Result<Scraper> {
        Ok(Scraper {
            url: format!("http://{address}/metrics"),
            client: reqwest::Client::builder().build()?,
            ..self.clone()
        })
    }

    /// Every director reports statistics for the whole table, as its agent does.
    async fn report_stats(&self, client: &reqwest::Client, api: &str) -> Result<()> {
        for token in &self.directors {
            let response = client
                .post(format!("{api}/agent/stats"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(self.body)
                .send()
                .await?;
            expect(response, 204).await?;
        }
        Ok(())
    }

    async fn scrape(&self) -> std::result::Result<Scraped, String> {
        let response = self
            .client
            .get(&self.url)
            .bearer_auth(&self.viewer)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("scrape answered {}", response.status()));
        }
        let text = response.bytes().await.map_err(|e| e.to_string())?;
        let samples = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty() && !l.starts_with(b"#"));
        let (mut series, mut backend_series) = (0, 0);
        for line in samples {
            series += 1;
            if line.starts_with(b"node_ipvs_backend_") {
                backend_series += 1;
            }
        }
        Ok(Scraped {
            bytes: text.len(),
            series,
            backend_series,
        })
    }
}

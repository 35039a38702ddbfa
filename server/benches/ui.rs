//! `cargo xtask bench ui`: the web UI's pages with 10,000 services of 10 real servers each
//! stored, and live statistics from three directors for every one of them.
//!
//! The server runs in this process (release build), answering over loopback HTTP. Statistics
//! are aggregated every second, ten times as often as in production, so that each service
//! has a history to draw after a few seconds; aggregation holds the history's lock, so this
//! is the harsher setting for page latency. Prints p50/p99 of the cluster page (random
//! pages, and a search), the fleet-wide search, the service page and their live
//! fragments, and the size of each page and of the assets it loads, against the goals:
//! p99 under 50 ms, and the cluster page under 200 KB.

use std::time::Duration;

use lvs_server::agents::AgentOptions;
use lvs_testkit::server::InProcessServer;

mod common;
use common::{
    desired_state, director_tokens, document, sample, seed, stats_report, Lcg, Report, Result,
    REAL_SERVERS, SERVICES,
};

const DIRECTORS: usize = 3;
/// Statistics reports per director before measuring: each aggregation adds a point to
/// every service's history.
const REPORTS: usize = 6;
const STATS_INTERVAL: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> Result<()> {
    let options = lvs_server::ServeOptions {
        max_body_bytes: 128 << 20,
        agents: AgentOptions {
            online_within: Duration::from_secs(600),
            stats_interval: STATS_INTERVAL,
            ..AgentOptions::default()
        },
        ..lvs_server::ServeOptions::default()
    };
    let server = InProcessServer::start(options).await;
    let base = server.base();
    // Signed in both ways: the token for the API, the session for the pages.
    let mut cookie = reqwest::header::HeaderMap::new();
    cookie.insert(
        reqwest::header::COOKIE,
        format!("lvs_session={}", server.admin_session).parse()?,
    );
    let client = lvs_testkit::server::client_with_token(&server.admin_token)
        .default_headers(cookie)
        .build()?;
    let api = format!("{base}/api/v1");

    println!("seeding {SERVICES} services x {REAL_SERVERS} real servers");
    seed(&client, &api, serde_json::to_vec(&document())?).await?;
    report_stats(&client, &api).await?;

    let mut report = Report::default();
    let mut rng = Lcg(11);
    let cluster_page = sample(|| {
        // Any page of the 200: the cursor is the id before the page's first service.
        let after = rng.below((SERVICES - 50) as u64);
        client
            .get(format!("{base}/clusters/bench?after={after}"))
            .send()
    })
    .await?;
    report.latency("cluster page (50 of 10,000 services)", &cluster_page, 50.0);
    let search = sample(|| {
        let n = rng.below(SERVICES as u64);
        client
            .get(format!("{base}/clusters/bench?q=service+{n}"))
            .send()
    })
    .await?;
    report.latency("cluster page, name search", &search, 50.0);
    let cluster_live = sample(|| {
        let after = rng.below((SERVICES - 50) as u64);
        client
            .get(format!("{base}/clusters/bench/live?after={after}"))
            .send()
    })
    .await?;
    report.latency("cluster table refresh (htmx)", &cluster_live, 50.0);
    let service_page = sample(|| {
        let id = rng.below(SERVICES as u64) + 1;
        client
            .get(format!("{base}/clusters/bench/services/{id}"))
            .send()
    })
    .await?;
    report.latency(
        "service page (10 real servers, 3 directors)",
        &service_page,
        50.0,
    );
    let service_live = sample(|| {
        let id = rng.below(SERVICES as u64) + 1;
        client
            .get(format!("{base}/clusters/bench/services/{id}/live"))
            .send()
    })
    .await?;
    report.latency("service traffic refresh (htmx)", &service_live, 50.0);
    let fleet_search = sample(|| {
        let n = rng.below((SERVICES * REAL_SERVERS) as u64) as u32;
        let address = std::net::Ipv4Addr::from(0x0a01_0000 + n);
        client.get(format!("{base}/search?q={address}")).send()
    })
    .await?;
    report.latency(
        "fleet-wide search, a real server's address",
        &fleet_search,
        50.0,
    );
    let prefix_search = sample(|| client.get(format!("{base}/search?q=10.1.")).send()).await?;
    report.latency(
        "fleet-wide search, a prefix (100,000 match, 100 shown)",
        &prefix_search,
        50.0,
    );
    let fleet = sample(|| client.get(format!("{base}/")).send()).await?;
    report.latency("fleet page", &fleet, 50.0);

    let cluster_html = page(&client, &format!("{base}/clusters/bench?after=5000")).await?;
    let service_html = page(&client, &format!("{base}/clusters/bench/services/5001")).await?;
    let assets = asset_bytes(&client, &base, &cluster_html).await?;
    report.check(
        "cluster page size",
        &format!("{:.1} KB HTML", cluster_html.len() as f64 / 1e3),
        cluster_html.len() < 200_000,
        "under 200 KB",
    );
    report.check(
        "service page size",
        &format!("{:.1} KB HTML", service_html.len() as f64 / 1e3),
        service_html.len() < 200_000,
        "under 200 KB",
    );
    report.check(
        "assets a page loads (once, then cached)",
        &format!("{:.1} KB CSS + JS", assets as f64 / 1e3),
        assets < 100_000,
        "under 100 KB",
    );
    server.stop().await;
    report.finish()
}

/// Every director reports counters for every service and real server, `REPORTS` times,
/// one aggregation interval apart.
async fn report_stats(client: &reqwest::Client, api: &str) -> Result<()> {
    let tokens = director_tokens(client, api, DIRECTORS).await?;
    let document = desired_state(client, api).await?;
    for round in 0..REPORTS as u64 {
        let stats = stats_report(&document, round);
        let body = serde_json::to_vec(&stats)?;
        for token in &tokens {
            let response = client
                .post(format!("{api}/agent/stats"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                return Err(
                    format!("stats report refused: {status} {}", response.text().await?).into(),
                );
            }
        }
        tokio::time::sleep(STATS_INTERVAL).await;
    }
    println!("{DIRECTORS} directors reported statistics {REPORTS} times");
    Ok(())
}

async fn page(client: &reqwest::Client, url: &str) -> Result<String> {
    let response = client.get(url).send().await?;
    if !response.status().is_success() {
        return Err(format!("{url}: {}", response.status()).into());
    }
    Ok(response.text().await?)
}

/// The bytes of the stylesheets and scripts `html` links to.
async fn asset_bytes(client: &reqwest::Client, base: &str, html: &str) -> Result<usize> {
    let mut total = 0;
    for attribute in ["href=\"/static/", "src=\"/static/"] {
        for piece in html.split(attribute).skip(1) {
            let path = piece.split('"').next().unwrap_or("");
            total += page(client, &format!("{base}/static/{path}")).await?.len();
        }
    }
    Ok(total)
}

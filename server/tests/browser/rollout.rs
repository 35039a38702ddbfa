//! Did my change reach the kernels? After a drain, the confirmation names the generation and
//! follows live which directors applied it (one applies at once, one is behind and then
//! catches up, one is offline); the change's page lists every director; the offline
//! director's page says since when and which changes it lacks; fleet page names link to it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::app::{screenshot_dir, App};
use crate::driver::{text, Browser};

const CLUSTER: &str = "/api/v1/clusters/prod-web";
const SERVICE: &str = "tcp:192.0.2.10:80";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_shows_which_directors_applied_it() {
    crate::within_limit(run()).await;
}

async fn run() {
    let mut options = lvs_server::ServeOptions::default();
    // lb3 goes offline within the test; the others keep reporting well within this.
    options.agents.online_within = Duration::from_secs(2);
    let app = App::start_with(options).await;
    let [lb1, lb2, lb3] = set_up(&app).await;
    // lb3 applied generation 1, then went quiet.
    report(&app, &lb3, 1).await;
    let fast = agent(&app, lb1, None);
    let stuck = agent(&app, lb2.clone(), Some(1));
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let b = Browser::start(app.base.clone()).await;
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;
    let shots = screenshot_dir();
    b.goto("/clusters/prod-web").await;
    b.expect_page("prod-web", 200).await;
    let table = b.find("section#services table").await;
    b.follow(&table, SERVICE).await;
    b.expect_page(SERVICE, 200).await;
    let row = b.find("tr[id^='rs-']").await;
    b.press(&row, "Drain 10.1.0.1:80").await;
    b.expect_page(SERVICE, 200).await;

    // The confirmation names generation 2 and says what it is waiting for, not what
    // happened in kernels that have not applied it.
    let flash = b.flash().await;
    assert!(
        flash.starts_with("Generation 2: 10.1.0.1:80 drained."),
        "{flash}"
    );
    let panel = wait_for_text(&b, "#rollout-2", "1 of 3 directors applied generation 2").await;
    assert!(panel.contains("lb2 applying (at generation 1"), "{panel}");
    assert!(panel.contains("lb3 offline since"), "{panel}");
    b.screenshots(&shots, "rollout-confirmation").await;

    // lb2 catches up: the panel follows without a reload.
    stuck.abort();
    let caught_up = agent(&app, lb2, None);
    let panel = wait_for_text(&b, "#rollout-2", "2 of 3 directors applied generation 2").await;
    assert!(!panel.contains("lb2"), "{panel}");
    assert!(panel.contains("lb3 offline since"), "{panel}");

    // The change's page: every director, those not done first.
    let panel_element = b.find("#rollout-2").await;
    b.follow(&panel_element, "Generation 2 in detail").await;
    b.expect_page("Generation 2", 200).await;
    let rows = table_rows(&b, "#rollout-2 table").await;
    assert_eq!(
        rows.iter().map(|r| r[..2].join(" ")).collect::<Vec<_>>(),
        ["lb3 offline", "lb1 applied", "lb2 applied"],
        "{rows:?}"
    );
    assert_eq!(rows[0][2], "1", "{rows:?}");
    b.screenshots(&shots, "rollout-change").await;

    // The offline director's page: since when, and the change it lacks, linked.
    let table = b.find("#rollout-2 table").await;
    b.follow(&table, "lb3").await;
    b.expect_page("Director lb3", 200).await;
    let main = b.main_text().await;
    assert!(main.contains("Offline: its agent was last seen"), "{main}");
    assert!(main.contains("Not applied: 1 generation"), "{main}");
    assert!(main.contains("Behind since"), "{main}");
    let behind = b.find("#behind-h + p + .table-scroll table").await;
    b.screenshots(&shots, "director-behind").await;
    b.follow(&behind, "2").await;
    b.expect_page("Generation 2", 200).await;

    // The fleet page links each director to its page.
    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    let fleet = b.find("#fleet").await;
    b.follow(&fleet, "lb1").await;
    b.expect_page("Director lb1", 200).await;
    let main = b.main_text().await;
    assert!(!main.contains("Not applied"), "{main}");

    fast.abort();
    caught_up.abort();
    b.quit().await;
}

/// The cluster with one service of two real servers, and three directors' agent tokens.
async fn set_up(app: &App) -> [String; 3] {
    app.post("/api/v1/clusters", &json!({"name": "prod-web"}), None, 201)
        .await;
    let service = json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
        "real_servers": [{"address": "10.1.0.1", "forwarding": "masq"},
                         {"address": "10.1.0.2", "forwarding": "masq"}]});
    app.post(&format!("{CLUSTER}/services"), &service, None, 201)
        .await;
    let mut tokens = Vec::new();
    for name in ["lb1", "lb2", "lb3"] {
        let directors = format!("{CLUSTER}/directors");
        app.post(&directors, &json!({"name": name}), None, 201)
            .await;
        let created = app
            .post(
                &format!("{directors}/{name}/token"),
                &Value::Null,
                None,
                201,
            )
            .await;
        tokens.push(created["token"].as_str().expect("a token").to_owned());
    }
    tokens.try_into().expect("three tokens")
}

async fn report(app: &App, token: &str, generation: u64) {
    let report = json!({"applied_generation": generation, "outcomes": [],
        "agent_version": "0.1.0", "kernel_version": "6.1.0-test"});
    app.post("/api/v1/agent/report", &report, Some(token), 204)
        .await;
}

/// An agent reporting every 300 ms: the cluster's current generation, or `stuck_at`.
fn agent(app: &App, token: String, stuck_at: Option<u64>) -> JoinHandle<()> {
    let (client, base) = app.clone_client();
    tokio::spawn(async move {
        loop {
            let generation = match stuck_at {
                Some(generation) => generation,
                None => {
                    let cluster: Value = client
                        .get(format!("{base}{CLUSTER}"))
                        .send()
                        .await
                        .expect("GET the cluster")
                        .json()
                        .await
                        .expect("a cluster");
                    cluster["generation"].as_u64().expect("a generation")
                }
            };
            let report = json!({"applied_generation": generation, "outcomes": [],
                "agent_version": "0.1.0", "kernel_version": "6.1.0-test"});
            let sent = client
                .post(format!("{base}/api/v1/agent/report"))
                .bearer_auth(&token)
                .json(&report)
                .send()
                .await
                .expect("POST a report");
            assert_eq!(sent.status().as_u16(), 204, "the report was refused");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

/// Waits (10 s at most) until the element at `css` contains `expected`; returns its text.
async fn wait_for_text(b: &Browser, css: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = match b.find_all(css).await.first() {
            Some(element) => text(element).await,
            None => String::new(),
        };
        if seen.contains(expected) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{css} shows {seen:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The cells of each body row of the table at `css`, its header cell first.
async fn table_rows(b: &Browser, css: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for row in b.find_all(&format!("{css} tbody tr")).await {
        let mut cells = Vec::new();
        for cell in row
            .find_all(fantoccini::Locator::Css("th, td"))
            .await
            .expect("cells")
        {
            cells.push(text(&cell).await);
        }
        rows.push(cells);
    }
    rows
}

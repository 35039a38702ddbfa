//! One operator's session, page by page: a cluster, a service and its pool built and edited
//! through the forms, a director added, the history read and an older generation restored;
//! every page photographed at 1280 and 390 px.

use std::time::Instant;

use fantoccini::Locator;

use crate::app::{screenshot_dir, App};
use crate::driver::{dom_text, literal, text, value, Browser};

const SERVICE: &str = "tcp:192.0.2.10:80";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_builds_and_edits_a_cluster() {
    crate::within_limit(run()).await;
}

async fn run() {
    let started = Instant::now();
    let app = App::start().await;
    let b = Browser::start(app.base.clone()).await;
    let shots = screenshot_dir();

    // Nobody is signed in: every page leads to the sign-in page, and back after it.
    b.goto("/").await;
    b.expect_page("Sign in", 200).await;
    b.audit("login").await;
    b.screenshots(&shots, "login").await;
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;

    // The empty fleet.
    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    let main = b.find("main").await;
    assert!(
        text(&main).await.contains("No clusters yet."),
        "{}",
        text(&main).await
    );

    // A cluster through the "New cluster" form.
    b.follow(&main, "New cluster").await;
    b.expect_page("New cluster", 200).await;
    b.screenshots(&shots, "new-cluster").await;
    let form = b.find("main form").await;
    b.fill(&form, "Name", "prod-web").await;
    b.fill(&form, "Description", "Production web").await;
    b.fill(&form, "TCP", "900").await;
    b.press(&form, "Create cluster").await;
    b.expect_page("Directors of prod-web", 200).await;
    assert_eq!(
        b.path().await,
        "/clusters/prod-web/directors",
        "a new cluster leads to its directors"
    );
    assert_eq!(
        b.flash().await,
        "Cluster prod-web created. Add its directors, then its services."
    );

    // Its (empty) services.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Services").await;
    b.expect_page("prod-web", 200).await;
    let main = b.find("main").await;
    assert!(text(&main).await.contains("No services yet."));

    // A service, first with a port that is not a number.
    b.follow(&main, "Add service").await;
    b.expect_page("New service in prod-web", 200).await;
    b.screenshots(&shots, "new-service").await;
    let form = b.find("main form").await;
    b.choose(&form, "Protocol", "tcp").await;
    b.fill(&form, "Virtual IP", "192.0.2.10").await;
    b.fill(&form, "Port", "abc").await;
    b.choose(&form, "Scheduler", "wrr").await;
    b.press(&form, "Create service").await;
    b.expect_page("New service in prod-web", 422).await;
    b.screenshots(&shots, "new-service-error").await;
    let form = b.find("main form").await;
    let port = b.field(&form, "Port").await;
    assert_eq!(value(&port).await, "abc", "the typed port is kept");
    assert_eq!(
        port.attr("aria-invalid")
            .await
            .expect("aria-invalid")
            .as_deref(),
        Some("true")
    );
    let described_by = port
        .attr("aria-describedby")
        .await
        .expect("aria-describedby")
        .expect("the invalid port names its message");
    let message = text(&b.find(&format!("#{described_by}")).await).await;
    assert!(
        message.contains("whole number") && message.contains("abc"),
        "the port's message says why: {message:?}"
    );
    let next_to_field = port
        .find(Locator::XPath(&format!(
            "following-sibling::*[@id={}]",
            literal(&described_by)
        )))
        .await;
    assert!(next_to_field.is_ok(), "the message follows the port field");
    assert_eq!(
        value(&b.field(&form, "Virtual IP").await).await,
        "192.0.2.10",
        "the other fields are kept too"
    );
    assert_eq!(value(&b.field(&form, "Scheduler").await).await, "wrr");
    b.fill(&form, "Port", "80").await;
    b.press(&form, "Create service").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(
        b.flash().await,
        format!("Generation 1: service {SERVICE} created. Add its real servers below.")
    );
    let service_path = b.path().await;
    assert!(
        service_path.starts_with("/clusters/prod-web/services/"),
        "{service_path}"
    );
    assert!(b
        .main_text()
        .await
        .contains("No real servers yet: connections to this service are refused."));

    // Two real servers through "Add a real server", which starts closed.
    for (address, weight) in [("10.1.0.1", "1"), ("10.1.0.2", "2")] {
        add_real_server(&b, address, weight).await;
        b.expect_page(SERVICE, 200).await;
        assert_eq!(
            b.committed().await,
            format!(
                "real server {address}:80 added. Directors send it connections once they \
                 apply it."
            )
        );
    }
    assert_eq!(
        pool_rows(&b).await,
        ["10.1.0.1:80 masq active 1", "10.1.0.2:80 masq active 2"]
    );
    b.screenshots(&shots, "service").await;

    // The traffic graphs over a week, by a link that needs no script.
    let ranges = b.find("nav[aria-label='Graph range']").await;
    b.follow(&ranges, "7 d").await;
    b.expect_page(SERVICE, 200).await;
    assert!(b.url().await.contains("range=7d"), "{}", b.url().await);
    assert!(b
        .main_text()
        .await
        .contains("Bytes per second, last 7 days"));
    b.screenshots(&shots, "service-week").await;
    b.goto(&service_path).await;

    // A weight out of range: the message next to the field, the typed values kept.
    add_real_server(&b, "10.1.0.3", "70000").await;
    b.expect_page(SERVICE, 422).await;
    let add = b.find("details#add-rs").await;
    assert!(
        add.attr("open").await.expect("open").is_some(),
        "the refused form stays open"
    );
    let weight = b.field(&add, "Weight").await;
    assert_eq!(value(&weight).await, "70000");
    assert_eq!(value(&b.field(&add, "Address").await).await, "10.1.0.3");
    let message = b.within(&add, ".//*[@id='rs-e-weight']").await;
    let message_text = text(&message).await;
    assert!(
        message_text.contains("65535"),
        "the weight's message gives the range: {message_text:?}"
    );
    assert_eq!(
        weight
            .attr("aria-describedby")
            .await
            .expect("describedby")
            .as_deref(),
        Some("rs-e-weight")
    );
    b.screenshots(&shots, "service-error").await;
    assert_eq!(pool_rows(&b).await.len(), 2, "nothing was added");

    // Inline weight edit: the row's weight field and its Set button.
    b.goto(&service_path).await;
    b.expect_page(SERVICE, 200).await;
    let row = pool_row(&b, "10.1.0.1:80").await;
    let weight = b.field(&row, "Weight of 10.1.0.1:80").await;
    weight.clear().await.expect("clear");
    weight.send_keys("5").await.expect("type");
    b.press(&row, "Set").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(b.committed().await, "weight of 10.1.0.1:80 set to 5.");
    let row = pool_row(&b, "10.1.0.1:80").await;
    assert_eq!(
        value(&b.field(&row, "Weight of 10.1.0.1:80").await).await,
        "5"
    );

    // Drain, then restore.
    let row = pool_row(&b, "10.1.0.2:80").await;
    b.press(&row, "Drain 10.1.0.2:80").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(
        b.committed().await,
        "10.1.0.2:80 drained. Directors stop sending it new connections as they apply this; \
         its open ones finish."
    );
    assert_eq!(pool_rows(&b).await[1], "10.1.0.2:80 masq drained 2");
    let row = pool_row(&b, "10.1.0.2:80").await;
    b.press(&row, "Restore 10.1.0.2:80").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(b.committed().await, "10.1.0.2:80 restored to weight 2.");
    assert_eq!(pool_rows(&b).await[1], "10.1.0.2:80 masq active 2");

    // Bulk edit with a plan: change a weight, add a server; read the plan; apply it.
    let main = b.find("main").await;
    b.follow(&main, "Bulk edit with plan").await;
    b.expect_page(&format!("Bulk edit: {SERVICE}"), 200).await;
    let form = b.find("main form").await;
    let pool = b.field(&form, "Real servers, one per line").await;
    let pool_text = value(&pool).await;
    assert_eq!(
        pool_text,
        "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.2:80 weight=2 forwarding=masq\n"
    );
    pool.clear().await.expect("clear the pool");
    pool.send_keys(
        "10.1.0.1:80 weight=5 forwarding=masq\n\
         10.1.0.2:80 weight=3 forwarding=masq\n\
         10.1.0.3:80 weight=1 forwarding=masq\n",
    )
    .await
    .expect("type the pool");
    b.press(&form, "Show the plan").await;
    b.expect_page(&format!("Bulk edit: {SERVICE}"), 200).await;
    let heading = text(&b.find("#plan-h").await).await;
    assert!(heading.starts_with("Plan: "), "{heading}");
    let mut lines = Vec::new();
    for line in b.find_all("section[aria-labelledby='plan-h'] li").await {
        lines.push(dom_text(&line).await);
    }
    assert_eq!(lines.len(), 2, "one change, one addition: {lines:?}");
    assert!(
        lines[0].starts_with("~ changed: real server 10.1.0.2:80")
            && lines[0].ends_with("weight 2 → 3"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("+ added: real server 10.1.0.3:80") && lines[1].contains("weight 1"),
        "{lines:?}"
    );
    b.screenshots(&shots, "pool-plan").await;
    assert_eq!(
        pool_rows_count_from_api(&b, &service_path).await,
        2,
        "a plan changes nothing"
    );
    let plan = b.find("section[aria-labelledby='plan-h']").await;
    b.press(&plan, "Apply this plan").await;
    b.expect_page(SERVICE, 200).await;
    let flash = b.committed().await;
    assert!(
        flash.starts_with(&format!("pool of {SERVICE} updated: ")),
        "{flash}"
    );
    assert_eq!(
        pool_rows(&b).await,
        [
            "10.1.0.1:80 masq active 5",
            "10.1.0.2:80 masq active 3",
            "10.1.0.3:80 masq active 1"
        ]
    );

    // Remove a real server through its confirmation page.
    let row = pool_row(&b, "10.1.0.3:80").await;
    b.follow(&row, "Remove 10.1.0.3:80").await;
    b.expect_page(&format!("Remove 10.1.0.3:80 from {SERVICE}?"), 200)
        .await;
    b.screenshots(&shots, "confirm-remove").await;
    let main = b.find("main").await;
    b.press(&main, "Remove real server").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(
        b.committed().await,
        "real server removed. Directors drain it and delete it from the kernel as they \
         apply this."
    );
    assert_eq!(pool_rows(&b).await.len(), 2);

    // A director, and its one-time token.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Directors").await;
    b.expect_page("Directors of prod-web", 200).await;
    let add = b.find("section[aria-labelledby='add-h']").await;
    b.fill(&add, "Name", "lb1").await;
    b.press(&add, "Add director and create its token").await;
    b.expect_page("Agent token for lb1", 200).await;
    let token = value(&b.field(&b.find("main").await, "Token").await).await;
    assert!(
        token.len() == 69
            && token.starts_with("lvsa_")
            && token[5..].bytes().all(|c| c.is_ascii_hexdigit()),
        "{token}"
    );
    let command = text(&b.find("main pre").await).await;
    assert!(command.contains(&token), "{command}");
    assert!(
        command.contains(&format!("lvs-agent --server {}", app.base)),
        "{command}"
    );
    assert!(b.main_text().await.contains("This token is shown only now"));
    b.screenshots(&shots, "token").await;
    let main = b.find("main").await;
    b.follow(&main, "Done: back to directors").await;
    b.expect_page("Directors of prod-web", 200).await;
    let card = b.find("#director-lb1").await;
    assert!(text(&card).await.contains("lb1"));
    assert!(
        !b.main_text().await.contains(&token),
        "the token is not shown again"
    );
    b.screenshots(&shots, "directors").await;

    // The changes: every generation, newest first, and one in detail.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Changes").await;
    b.expect_page("Changes to prod-web", 200).await;
    let mut generations = Vec::new();
    for cell in b.find_all("main table tbody th").await {
        generations.push(text(&cell).await);
    }
    let expected: Vec<String> = (1..=8).rev().map(|g| g.to_string()).collect();
    assert_eq!(
        generations, expected,
        "service, 2 adds, weight, drain, restore, plan, remove"
    );
    assert!(b
        .main_text()
        .await
        .contains("The cluster is at generation 8."));
    let newest = b.find("main table tbody tr").await;
    let newest_text = text(&newest).await;
    assert!(
        newest_text.contains("web UI")
            && newest_text.ends_with("1 real server removed 0 of 1 directors"),
        "{newest_text}"
    );
    b.screenshots(&shots, "changes").await;
    b.follow(&newest, "8").await;
    b.expect_page("Generation 8", 200).await;
    let mut lines = Vec::new();
    for line in b.find_all("section[aria-labelledby='diff-h'] li").await {
        lines.push(dom_text(&line).await);
    }
    assert_eq!(
        lines,
        [format!(
            "− removed: real server 10.1.0.3:80 of {SERVICE}: forwarding masq; state active; \
             weight 1"
        )],
        "generation 8's diff"
    );
    b.screenshots(&shots, "change").await;

    // Back to generation 7 from its row of the changes: the plan, then the confirmation.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Changes").await;
    b.expect_page("Changes to prod-web", 200).await;
    let row = b
        .within(&b.find("main").await, ".//tr[th[normalize-space()='7']]")
        .await;
    b.follow(&row, "Revert to this (generation 7)").await;
    b.expect_page("Revert to generation 7", 200).await;
    let plan = b.find("section[aria-labelledby='plan-h']").await;
    let mut lines = Vec::new();
    for line in b.find_all("section[aria-labelledby='plan-h'] li").await {
        lines.push(dom_text(&line).await);
    }
    assert!(
        lines.len() == 1
            && lines[0].starts_with(&format!("+ added: real server 10.1.0.3:80 of {SERVICE}")),
        "{lines:?}"
    );
    assert!(text(&plan)
        .await
        .contains("Cluster prod-web goes from generation 8 to generation 9"));
    b.screenshots(&shots, "revert-plan").await;
    b.press(&plan, "Revert to generation 7").await;
    b.expect_page("Generation 9", 200).await;
    assert_eq!(
        b.flash().await,
        "Generation 9: reverted to generation 7's desired state."
    );

    // The fleet with its cluster, and a page that does not exist.
    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    let card = b
        .within(
            &b.find("main").await,
            ".//article[.//h2[normalize-space()='prod-web']]",
        )
        .await;
    let card_text = text(&card).await;
    for expected in ["Production web", "Services 1", "Generation 9", "lb1"] {
        assert!(
            card_text.contains(expected),
            "{expected:?} in {card_text:?}"
        );
    }
    b.screenshots(&shots, "fleet").await;
    b.goto("/clusters/prod-web/no-such-page").await;
    b.expect_page("404 Not Found", 404).await;
    b.screenshots(&shots, "not-found").await;
    b.goto("/clusters/prod-web").await;
    b.expect_page("prod-web", 200).await;
    b.screenshots(&shots, "cluster").await;

    // The cluster's health events: none, as no director reported a check.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Health events").await;
    b.expect_page("Health events of prod-web", 200).await;
    assert!(b.main_text().await.contains("No health events yet."));
    b.screenshots(&shots, "health-events").await;

    // The cluster's settings: the VIPs on a dummy interface, conntrack kept on.
    let tabs = b.find("nav[aria-label='Cluster prod-web']").await;
    b.follow(&tabs, "Settings").await;
    b.expect_page("Settings of prod-web", 200).await;
    b.screenshots(&shots, "cluster-settings").await;
    let form = b.find("main form").await;
    b.field(&form, "On a dummy interface the agents create")
        .await
        .click()
        .await
        .expect("choose the dummy interface");
    b.choose(&form, "conntrack", "on").await;
    b.press(&form, "Save settings").await;
    b.expect_page("Settings of prod-web", 200).await;
    assert_eq!(
        b.flash().await,
        "Generation 10: settings of cluster prod-web saved."
    );

    eprintln!(
        "walkthrough took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
    b.quit().await;
}

/// Opens "Add a real server" and submits it with `address` and `weight`.
async fn add_real_server(b: &Browser, address: &str, weight: &str) {
    let details = b.find("details#add-rs").await;
    if details.attr("open").await.expect("open").is_none() {
        b.within(&details, "./summary")
            .await
            .click()
            .await
            .expect("open the form");
    }
    let address_field = b.field(&details, "Address").await;
    assert!(
        address_field.is_displayed().await.expect("displayed"),
        "the form shows once opened"
    );
    b.fill(&details, "Address", address).await;
    b.fill(&details, "Weight", weight).await;
    b.press(&details, "Add real server").await;
}

/// The row of the pool table for `key`.
async fn pool_row(b: &Browser, key: &str) -> fantoccini::elements::Element {
    let main = b.find("main").await;
    b.within(
        &main,
        &format!(".//table//tr[th[normalize-space()={}]]", literal(key)),
    )
    .await
}

/// Each pool row as "key forwarding state weight".
async fn pool_rows(b: &Browser) -> Vec<String> {
    let mut rows = Vec::new();
    let Ok(table) = b.client.find(Locator::Id("pool")).await else {
        return rows;
    };
    for row in table
        .find_all(Locator::Css("tbody tr"))
        .await
        .expect("rows")
    {
        let cells = row.find_all(Locator::Css("th, td")).await.expect("cells");
        let mut parts = Vec::new();
        for cell in cells.iter().take(3) {
            parts.push(text(cell).await);
        }
        let weight = row
            .find(Locator::Css("input[name='weight']"))
            .await
            .expect("a weight field");
        parts.push(value(&weight).await);
        rows.push(parts.join(" "));
    }
    rows
}

/// How many real servers the service has, read from the REST API in the browser (the
/// plan page must not have changed anything).
async fn pool_rows_count_from_api(b: &Browser, service_path: &str) -> usize {
    let count = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch('/api/v1' + arguments[0] + '/real-servers') \
               .then((r) => r.json()).then((body) => done(body.items.length), () => done(null));",
            vec![serde_json::json!(service_path)],
        )
        .await
        .expect("fetch the real servers");
    count
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("real servers from the API: {count}"))
}

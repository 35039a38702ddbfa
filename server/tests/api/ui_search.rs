//! The fleet-wide search (`GET /search`, the box in every page's header): each form of
//! query, results across clusters grouped by kind and linking to their pages, bounded
//! kinds, bad queries explained, and who may search.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

/// Two clusters sharing a VIP, a service key and a real-server address:
/// `web` has tcp:20.0.0.100:80 ("frontend", real servers 10.1.0.11:8080 and
/// 10.1.0.12:8080), fwmark 5 (IPv4) and director lb-edge; `dns` has tcp:20.0.0.100:80,
/// udp:20.0.0.100:53 (real server 10.1.0.11:53) and udp:[2001:db8::53]:53 (real server
/// [2001:db8::11]:53). Host rs-eleven has 10.1.0.11. Returns the services' ids by key.
async fn fleet(app: &TestApp) -> Vec<(String, String, i64)> {
    let mut ids = Vec::new();
    let services = [
        (
            "web",
            json!({"protocol": "tcp", "address": "20.0.0.100", "port": 80, "name": "frontend",
                   "description": "public site",
                   "real_servers": [masq("10.1.0.11", 8080), masq("10.1.0.12", 8080)]}),
        ),
        (
            "web",
            json!({"fwmark": 5, "family": "ipv4", "name": "marked"}),
        ),
        (
            "dns",
            json!({"protocol": "tcp", "address": "20.0.0.100", "port": 80, "name": "zone-web"}),
        ),
        (
            "dns",
            json!({"protocol": "udp", "address": "20.0.0.100", "port": 53, "name": "resolver",
                   "real_servers": [masq("10.1.0.11", 53)]}),
        ),
        (
            "dns",
            json!({"protocol": "udp", "address": "2001:db8::53", "port": 53, "name": "resolver6",
                   "real_servers": [masq("2001:db8::11", 53)]}),
        ),
    ];
    for cluster in ["web", "dns"] {
        app.create_cluster(cluster).await;
    }
    for (cluster, spec) in services {
        let created = app.create_service(cluster, &spec).await;
        let key = created["key"].as_str().unwrap_or_default().to_owned();
        ids.push((cluster.to_owned(), key, id(&created)));
    }
    app.create_director("web", "lb-edge").await;
    app.post(
        "/api/v1/real-server-hosts",
        &json!({"name": "rs-eleven", "addresses": ["10.1.0.11"]}),
    )
    .await
    .expect(201);
    ids
}

fn masq(address: &str, port: u16) -> Value {
    json!({"address": address, "port": port, "forwarding": "masq"})
}

/// The id of `key`'s service in `cluster`.
fn service_id(ids: &[(String, String, i64)], cluster: &str, key: &str) -> i64 {
    ids.iter()
        .find(|(c, k, _)| c == cluster && k == key)
        .map(|(_, _, id)| *id)
        .unwrap_or_else(|| panic!("no {key} in {cluster}: {ids:?}"))
}

/// The results page of `q`, as a browser submits the header's box.
async fn search(browser: &mut Browser, q: &str) -> Resp {
    let query = serde_urlencoded::to_string([("q", q)]).expect("a query string");
    let resp = browser.get(&format!("/search?{query}")).await;
    assert_html(&resp, 200);
    resp
}

/// The HTML of one kind's results (`services`, `real-servers`, `hosts`, `directors`,
/// `clusters`), empty when the page has none.
fn section<'a>(html: &'a str, kind: &str) -> &'a str {
    let Some(start) = html.find(&format!("<h2 id=\"{kind}-h\"")) else {
        return "";
    };
    let rest = &html[start..];
    let end = rest[4..].find("<h2").map_or(rest.len(), |e| e + 4);
    &rest[..end]
}

#[tokio::test]
async fn ui_search_by_real_server_address_finds_it_in_every_cluster() {
    let app = TestApp::spawn().await;
    let ids = fleet(&app).await;
    let mut browser = Browser::new(&app);
    let page = search(&mut browser, "10.1.0.11").await;
    let servers = section(&page.text, "real-servers");
    let shown = text(servers);
    assert!(shown.contains("Real servers (2)"), "{shown}");
    for (cluster, key, address) in [
        ("web", "tcp:20.0.0.100:80", "10.1.0.11:8080"),
        ("dns", "udp:20.0.0.100:53", "10.1.0.11:53"),
    ] {
        let service = service_id(&ids, cluster, key);
        assert!(
            shown.contains(&format!("{address} {key} {cluster}")),
            "{shown}"
        );
        let link = link_labelled(servers, address).expect("the real server links");
        assert!(
            link.starts_with(&format!("/clusters/{cluster}/services/{service}#rs-")),
            "{link}"
        );
        // The link lands on the service's page, on the real server's row.
        let row_id = link.split('#').nth(1).unwrap_or_default().to_owned();
        let service_page = browser.page(&link).await;
        assert!(
            text(&element_text(&service_page.text, "tr", "id", &row_id)).contains(address),
            "{row_id}"
        );
    }
    assert!(!shown.contains("10.1.0.12"), "{shown}");
    let hosts = text(section(&page.text, "hosts"));
    assert!(hosts.contains("rs-eleven at 10.1.0.11"), "{hosts}");
    assert_eq!(
        link_labelled(section(&page.text, "hosts"), "rs-eleven").as_deref(),
        Some("/real-server-hosts#host-rs-eleven")
    );
    assert!(
        section(&page.text, "services").is_empty(),
        "no VIP is 10.1.0.11"
    );
    assert!(text(&page.text).contains("Searched for the address 10.1.0.11"));
    // With a port, only that real server.
    let page = search(&mut browser, "10.1.0.11:53").await;
    let shown = text(section(&page.text, "real-servers"));
    assert!(
        shown.contains("Real servers (1)") && shown.contains("dns"),
        "{shown}"
    );
}

#[tokio::test]
async fn ui_search_by_vip_label_and_mark() {
    let app = TestApp::spawn().await;
    let ids = fleet(&app).await;
    let mut browser = Browser::new(&app);

    let page = search(&mut browser, "20.0.0.100").await;
    let services = section(&page.text, "services");
    assert!(
        text(services).contains("Services (3)"),
        "{}",
        text(services)
    );
    let web = service_id(&ids, "web", "tcp:20.0.0.100:80");
    assert_eq!(
        link_labelled(services, "tcp:20.0.0.100:80").as_deref(),
        Some(format!("/clusters/web/services/{web}").as_str()),
        "each service links to its page; web's is first"
    );
    assert!(links(services).contains(&"/clusters/dns".to_owned()));

    let page = search(&mut browser, "20.0.0.100:80").await;
    let shown = text(section(&page.text, "services"));
    assert!(shown.contains("Services (2)"), "{shown}");
    assert!(!shown.contains("udp:"), "{shown}");

    // The pages' own label finds that service in both clusters, whatever the case.
    for label in ["tcp:20.0.0.100:80", "TCP:20.0.0.100:80"] {
        let page = search(&mut browser, label).await;
        let shown = text(section(&page.text, "services"));
        assert!(shown.contains("Services (2)"), "{label}: {shown}");
        assert!(shown.contains("web") && shown.contains("dns"), "{shown}");
    }
    let page = search(&mut browser, "udp:[2001:db8::53]:53").await;
    assert!(text(section(&page.text, "services")).contains("resolver6"));

    for mark in ["fwmark 5", "fwmark:5", "fwmark:5:ipv4"] {
        let page = search(&mut browser, mark).await;
        let shown = text(section(&page.text, "services"));
        assert!(
            shown.contains("fwmark:5:ipv4 web marked"),
            "{mark}: {shown}"
        );
    }
    let page = search(&mut browser, "fwmark:5:ipv6").await;
    assert!(text(&page.text).contains("Nothing in the fleet matches."));
}

#[tokio::test]
async fn ui_search_by_prefix_ipv6_and_name() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    let mut browser = Browser::new(&app);

    for prefix in ["10.1.0.", "10.1.0.0/24", "10.1", "10.1.0.8/29"] {
        let page = search(&mut browser, prefix).await;
        let shown = text(section(&page.text, "real-servers"));
        assert!(shown.contains("Real servers (3)"), "{prefix}: {shown}");
        assert!(text(section(&page.text, "hosts")).contains("rs-eleven"));
    }
    let page = search(&mut browser, "10.1.0.12/31").await;
    let shown = text(section(&page.text, "real-servers"));
    assert!(
        shown.contains("Real servers (1)") && shown.contains("10.1.0.12:8080"),
        "{shown}"
    );
    let page = search(&mut browser, "20.0.").await;
    assert!(text(section(&page.text, "services")).contains("Services (3)"));

    for v6 in [
        "2001:db8::11",
        "2001:DB8:0::11",
        "[2001:db8::11]:53",
        "2001:db8:",
        "2001:db8::/32",
    ] {
        let page = search(&mut browser, v6).await;
        let shown = text(section(&page.text, "real-servers"));
        assert!(shown.contains("[2001:db8::11]:53"), "{v6}: {shown}");
    }
    let page = search(&mut browser, "2001:db8::53").await;
    assert!(text(section(&page.text, "services")).contains("udp:[2001:db8::53]:53"));

    // Names, in any case: a service's name or description, a director, a cluster, a host.
    let page = search(&mut browser, "FRONT").await;
    assert!(text(section(&page.text, "services")).contains("frontend"));
    let page = search(&mut browser, "public").await;
    assert!(text(section(&page.text, "services")).contains("frontend"));
    let page = search(&mut browser, "edge").await;
    let directors = section(&page.text, "directors");
    assert!(
        text(directors).contains("lb-edge in web"),
        "{}",
        text(directors)
    );
    assert_eq!(
        link_labelled(directors, "lb-edge").as_deref(),
        Some("/clusters/web/directors#director-lb-edge")
    );
    let page = search(&mut browser, "dn").await;
    let clusters = section(&page.text, "clusters");
    assert_eq!(
        link_labelled(clusters, "dns").as_deref(),
        Some("/clusters/dns")
    );
    let page = search(&mut browser, "eleven").await;
    assert!(text(section(&page.text, "hosts")).contains("rs-eleven"));
    let page = search(&mut browser, "nothing-is-called-this").await;
    assert!(text(&page.text).contains("Nothing in the fleet matches."));
}

#[tokio::test]
async fn ui_search_explains_what_it_cannot_read_and_what_it_can() {
    let app = TestApp::spawn().await;
    fleet(&app).await;
    let mut browser = Browser::new(&app);
    let empty = search(&mut browser, "").await;
    let shown = text(&empty.text);
    assert!(shown.contains("What can be searched"), "{shown}");
    assert!(!shown.contains("Searched for"), "{shown}");
    for (query, why) in [
        ("tcp:20.0.0.100", "after tcp: write address:port"),
        ("tcp:20.0.0.100:0", "port"),
        (
            "fwmark 0",
            "fwmark: must be between 1 and 4294967295, not 0",
        ),
        ("fwmark:5:ipv5", "family"),
        ("10.0.0.0/4", "too wide to search"),
        ("2001:db8::/20", "leading groups"),
    ] {
        let page = search(&mut browser, query).await;
        let alert = element_text(&page.text, "div", "role", "alert");
        assert!(
            alert.starts_with("This search cannot be run:") && alert.contains(why),
            "{query}: {alert}"
        );
        assert!(text(&page.text).contains("What can be searched"));
        assert_eq!(
            attr(&tag_where(&page.text, "input", "id", "search-q"), "value").as_deref(),
            Some(query),
            "the query is kept to correct"
        );
    }
}

#[tokio::test]
async fn ui_search_shows_a_hundred_of_a_kind_and_counts_the_rest() {
    let app = TestApp::spawn().await;
    app.create_cluster("big").await;
    let servers: Vec<Value> = (0..105)
        .map(|i| masq(&format!("10.9.{}.{}", i / 100, i % 100 + 1), 80))
        .collect();
    app.create_service(
        "big",
        &json!({"protocol": "tcp", "address": "20.0.0.1", "port": 80, "real_servers": servers}),
    )
    .await;
    let mut browser = Browser::new(&app);
    for query in ["10.9.", "10.9.0.0/23"] {
        let page = search(&mut browser, query).await;
        let servers = section(&page.text, "real-servers");
        assert!(text(servers).contains("Real servers (105)"), "{query}");
        assert_eq!(
            count(servers, "<tr>") - 1,
            100,
            "{query}: a header and 100 rows"
        );
        assert!(
            text(servers).contains("And 5 more: narrow the search to see them."),
            "{query}"
        );
    }
}

#[tokio::test]
async fn ui_every_page_has_the_search_box_and_a_viewer_may_search() {
    let app = TestApp::spawn().await;
    let ids = fleet(&app).await;
    let web = service_id(&ids, "web", "tcp:20.0.0.100:80");
    let viewer = app.session_of("searcher", "viewer").await;
    let mut browser = Browser::with_session(&app, Some(&viewer));
    for path in [
        "/".to_owned(),
        "/clusters/web".to_owned(),
        format!("/clusters/web/services/{web}"),
        "/search?q=web".to_owned(),
    ] {
        let page = browser.page(&path).await;
        let form = tag_where(&page.text, "form", "role", "search");
        assert_eq!(attr(&form, "action").as_deref(), Some("/search"), "{path}");
        assert_eq!(attr(&form, "method").as_deref(), Some("get"), "{path}");
        let input = tag_where(&page.text, "input", "id", "site-search");
        assert_eq!(attr(&input, "name").as_deref(), Some("q"));
        assert!(
            page.text.contains("<label for=\"site-search\""),
            "{path}: the box is labelled"
        );
    }
    let page = search(&mut browser, "10.1.0.11").await;
    assert!(text(section(&page.text, "real-servers")).contains("Real servers (2)"));

    let mut anonymous = Browser::anonymous(&app);
    let refused = anonymous.get("/search?q=10.1.0.11").await;
    assert_eq!(refused.status, 303);
    assert_eq!(
        refused.location.as_deref(),
        Some("/login?next=%2Fsearch%3Fq%3D10.1.0.11")
    );
    let login = anonymous.page("/login").await;
    assert!(
        !login.text.contains("id=\"site-search\""),
        "nobody signed in is offered the search"
    );
}

/// The search at fleet size: 2,000 services of 8 real servers each in one cluster, written
/// by one desired-state PUT. Each kind reads only what it shows and counts the rest in an
/// index, so every query answers quickly however many match (timings printed; the UI
/// bench measures them against a goal).
#[tokio::test]
async fn ui_search_at_fleet_size_reads_only_what_it_shows() {
    const SERVICES: u32 = 2_000;
    const REAL_SERVERS: u32 = 8;
    let app = TestApp::spawn_with_limit(64 << 20).await;
    app.create_cluster("big").await;
    let services: Vec<Value> = (0..SERVICES)
        .map(|i| {
            let servers: Vec<Value> = (0..REAL_SERVERS)
                .map(|j| {
                    let address = std::net::Ipv4Addr::from(0x0a01_0000 + i * REAL_SERVERS + j);
                    masq(&address.to_string(), 8080)
                })
                .collect();
            let vip = std::net::Ipv4Addr::from(0x0a00_0000 + i + 1);
            json!({"protocol": "tcp", "address": vip.to_string(), "port": 80,
                   "name": format!("service {i}"), "real_servers": servers})
        })
        .collect();
    app.put(
        &desired_state("big"),
        &json!({"timeouts": {}, "services": services}),
        None,
    )
    .await
    .expect(200);
    let mut browser = Browser::new(&app);
    // The real server 10.1.62.127 is the last of service 1999; its VIP is 10.0.7.208.
    for (query, kind, expected) in [
        ("10.1.62.127", "real-servers", "Real servers (1)"),
        ("10.0.7.208", "services", "Services (1)"),
        ("tcp:10.0.7.208:80", "services", "Services (1)"),
        ("10.1.", "real-servers", "Real servers (16000)"),
        ("10.1.0.0/17", "real-servers", "Real servers (16000)"),
        ("10.0.", "services", "Services (2000)"),
        ("service 199", "services", "Services (11)"),
    ] {
        search(&mut browser, query).await;
        let started = std::time::Instant::now();
        let page = search(&mut browser, query).await;
        let took = started.elapsed();
        let shown = text(section(&page.text, kind));
        assert!(shown.contains(expected), "{query}: {shown}");
        // Printed, never asserted: `cargo xtask bench ui` holds the search to its goal.
        eprintln!("search {query:?}: {} ms", took.as_millis());
    }
}

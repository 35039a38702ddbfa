//! The UI's pages over HTTP: each answers 200 HTML with what it is for, and its live
//! fragments answer without the layout.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

/// The `(key, id)` of every real server of a service, by the API.
pub async fn pool_ids(app: &TestApp, cluster: &str, service: i64) -> Vec<(String, i64)> {
    let list = app
        .get(&real_servers(cluster, service))
        .await
        .expect(200)
        .clone();
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|rs| (rs["key"].as_str().expect("key").to_owned(), id(rs)))
        .collect()
}

/// A director whose agent has called and reported `report`.
async fn reporting_director(app: &TestApp, cluster: &str, name: &str, report: &Value) {
    let token = app.create_agent(cluster, name).await;
    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
    app.agent_report(&token, report).await;
}

/// The text of each table row's header cell, in order.
pub fn row_heads(html: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<th scope=\"row\"") {
        let from = &rest[at..];
        let end = from.find("</th>").expect("a closed row header");
        heads.push(text(&from[..end]));
        rest = &from[end..];
    }
    heads
}

#[tokio::test]
async fn ui_fleet_page_lists_clusters_problems_first() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);

    let empty = browser.page("/").await;
    assert!(
        text(&empty.text).contains("No clusters yet"),
        "{}",
        text(&empty.text)
    );
    assert!(links(&empty.text).contains(&"/new-cluster".to_owned()));

    // alpha: one director in sync. beta: no director. zulu: a director whose last apply
    // failed. Problems first, then by name.
    cluster_with_service(&app, "alpha").await;
    reporting_director(&app, "alpha", "lb1", &apply_report(1, &[])).await;
    app.create_cluster("beta").await;
    app.post(
        "/api/v1/clusters",
        &json!({"name": "zulu", "description": "the payments edge"}),
    )
    .await
    .expect(201);
    let mut spec = tcp_service(80);
    spec["real_servers"] = json!([masq_server(1, 80)]);
    app.create_service("zulu", &spec).await;
    let failed = apply_report(1, &["real server 10.1.0.1:80 of tcp:10.0.0.1:80"]);
    reporting_director(&app, "zulu", "lb9", &failed).await;
    reporting_director(&app, "zulu", "lb2", &apply_report(1, &[])).await;

    let page = browser.page("/").await;
    let html = &page.text;
    let order: Vec<usize> = ["zulu", "beta", "alpha"]
        .iter()
        .map(|name| {
            html.find(&format!("<h2><a href=\"/clusters/{name}\">{name}</a></h2>"))
                .unwrap_or_else(|| panic!("cluster {name} is listed: {}", text(html)))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "the errored cluster first, the healthy one last: {order:?}\n{}",
        text(html)
    );
    let shown = text(html);
    for expected in [
        "zulu error",
        "the payments edge",
        "beta no agent yet",
        "No directors. Add one.",
        "alpha healthy",
        // The director lines: the errored director before its healthy neighbour.
        "lb9 online, error 1 of 1",
        "lb2 online, in sync 1 of 1",
        "lb1 online, in sync 1 of 1",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    assert!(shown.find("lb9").expect("lb9") < shown.find("lb2").expect("lb2"));
    let services = element_text(html, "article", "class", "card");
    assert!(services.contains("Services 1"), "{services}");
    assert!(links(html).contains(&"/clusters/beta/directors".to_owned()));

    // The live fragment: the same cards, without the layout, in the same order.
    let live = browser.get("/live").await;
    assert_fragment(&live);
    let live_text = text(&live.text);
    assert!(live_text.find("zulu").expect("zulu") < live_text.find("alpha").expect("alpha"));
    assert!(live.text.contains("hx-get=\"/live\""));
}

#[tokio::test]
async fn ui_new_cluster_page_has_the_form() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let page = browser.page("/new-cluster").await;
    let token = csrf_token(&page.text).expect("a CSRF meta");
    assert_eq!(token.len(), 64, "{token}");
    let fields: Vec<String> = form_fields(&page.text, "/clusters")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        fields,
        [
            "_csrf",
            "name",
            "description",
            "timeouts.tcp",
            "timeouts.tcpfin",
            "timeouts.udp",
            "host.vips",
            "host.vips.interface"
        ]
    );
    assert_eq!(field(&page.text, "/clusters", "_csrf"), token);
    assert!(text(&page.text).contains("New cluster"));
    // The hint names the characters the model accepts (a DNS label).
    let name = element_text(&page.text, "div", "class", "field");
    assert!(name.contains("lowercase letters, digits and '-'"), "{name}");
    let fleet = browser.page("/").await;
    assert_eq!(
        link_labelled(&fleet.text, "New cluster").as_deref(),
        Some("/new-cluster")
    );
    // The session cookie is HttpOnly and SameSite=Strict.
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lvs_csrf="))
        .expect("a CSRF cookie on the first page")
        .to_owned();
    assert!(cookie.contains(&token), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // The same session keeps its token.
    let again = browser.page("/").await;
    assert_eq!(csrf_token(&again.text), Some(token));
    assert!(
        !again.headers.contains_key("set-cookie"),
        "no new cookie for a known session: {:?}",
        again.headers
    );
    // The form's address hides no cluster: one named "new" has its page.
    app.create_cluster("new").await;
    let new = browser.page("/clusters/new").await;
    assert!(
        text(&new.text).contains("No services yet."),
        "{}",
        text(&new.text)
    );
}

/// 120 services: 118 TCP on 10.0.0.1 (ports 1001-1118, named `svc-NNN`), `dns` (UDP
/// 10.0.0.53:53) and `web-frontend` (TCP 10.0.0.2:443). Returns their ids in order.
async fn big_cluster(app: &TestApp) -> Vec<i64> {
    app.create_cluster("big").await;
    let mut ids = Vec::new();
    for i in 1..=118u16 {
        let mut spec = tcp_service(1000 + i);
        spec["name"] = json!(format!("svc-{i:03}"));
        ids.push(id(&app.create_service("big", &spec).await));
    }
    let dns = json!({"protocol": "udp", "address": "10.0.0.53", "port": 53, "name": "dns"});
    ids.push(id(&app.create_service("big", &dns).await));
    let web =
        json!({"protocol": "tcp", "address": "10.0.0.2", "port": 443, "name": "web-frontend"});
    ids.push(id(&app.create_service("big", &web).await));
    ids
}

#[tokio::test]
async fn ui_cluster_page_pages_through_120_services() {
    let app = TestApp::spawn().await;
    let ids = big_cluster(&app).await;
    let mut browser = Browser::new(&app);

    let first = browser.page("/clusters/big").await;
    let shown = text(&first.text);
    assert!(shown.contains("120 services in the cluster."), "{shown}");
    let keys = row_heads(&first.text);
    assert_eq!(keys.len(), 50);
    assert_eq!(keys[0], "tcp:10.0.0.1:1001");
    assert_eq!(keys[49], "tcp:10.0.0.1:1050");
    assert_eq!(
        first.text.matches(r#"<td><svg class="spark" "#).count(),
        50,
        "a sparkline per row, as inline SVG"
    );
    assert!(
        shown.contains("svc-001") && shown.contains("wlc"),
        "{shown}"
    );
    assert!(links(&first.text).contains(&format!("/clusters/big/services/{}", ids[0])));
    assert_eq!(link_labelled(&first.text, "First page"), None);
    let next = link_labelled(&first.text, "Next page").expect("a next page link");
    assert_eq!(next, format!("/clusters/big?after={}", ids[49]));

    let second = browser.page(&next).await;
    let keys = row_heads(&second.text);
    assert_eq!(keys.len(), 50);
    assert_eq!(keys[0], "tcp:10.0.0.1:1051");
    assert_eq!(keys[49], "tcp:10.0.0.1:1100");
    assert_eq!(
        link_labelled(&second.text, "First page").as_deref(),
        Some("/clusters/big")
    );
    let next = link_labelled(&second.text, "Next page").expect("a third page");

    let third = browser.page(&next).await;
    let keys = row_heads(&third.text);
    assert_eq!(keys.len(), 20);
    assert_eq!(keys[17], "tcp:10.0.0.1:1118");
    assert_eq!(keys[18], "udp:10.0.0.53:53");
    assert_eq!(keys[19], "tcp:10.0.0.2:443");
    assert_eq!(link_labelled(&third.text, "Next page"), None);
    let first_again = link_labelled(&third.text, "First page").expect("a first page link");
    let back = browser.page(&first_again).await;
    assert_eq!(row_heads(&back.text).len(), 50);

    // The live fragment keeps the page it refreshes.
    let live = browser
        .get(&format!("/clusters/big/live?after={}", ids[99]))
        .await;
    assert_fragment(&live);
    assert_eq!(row_heads(&live.text).len(), 20);
    assert!(
        live.text
            .contains(&format!("hx-get=\"/clusters/big/live?after={}\"", ids[99])),
        "{}",
        live.text
    );
}

#[tokio::test]
async fn ui_cluster_page_searches_and_filters() {
    let app = TestApp::spawn().await;
    big_cluster(&app).await;
    let mut browser = Browser::new(&app);

    let search = |q: &str| {
        format!(
            "/clusters/big?{}",
            serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
        )
    };
    let cases: &[(&str, &[&str])] = &[
        // A name fragment.
        ("web-front", &["tcp:10.0.0.2:443"]),
        (
            "svc-11",
            &[
                "tcp:10.0.0.1:1110",
                "tcp:10.0.0.1:1111",
                "tcp:10.0.0.1:1112",
                "tcp:10.0.0.1:1113",
                "tcp:10.0.0.1:1114",
                "tcp:10.0.0.1:1115",
                "tcp:10.0.0.1:1116",
                "tcp:10.0.0.1:1117",
                "tcp:10.0.0.1:1118",
            ],
        ),
        // An address.
        ("10.0.0.53", &["udp:10.0.0.53:53"]),
        ("10.0.0.2", &["tcp:10.0.0.2:443"]),
        // An address and port.
        ("10.0.0.1:1005", &["tcp:10.0.0.1:1005"]),
        ("10.0.0.1:443", &[]),
        // A port.
        ("443", &["tcp:10.0.0.2:443"]),
        ("53", &["udp:10.0.0.53:53"]),
    ];
    for (q, expected) in cases {
        let page = browser.page(&search(q)).await;
        assert_eq!(row_heads(&page.text), *expected, "search {q:?}");
        let shown = text(&page.text);
        assert!(
            shown.contains("120 services in the cluster; showing those that match."),
            "{shown}"
        );
        assert_eq!(
            attr(&tag_where(&page.text, "input", "id", "f-q"), "value").as_deref(),
            Some(*q),
            "the search box keeps the query"
        );
        if expected.is_empty() {
            assert!(shown.contains("No service matches."), "{shown}");
        }
    }

    // The protocol filter, alone and with a search.
    let udp = browser.page("/clusters/big?protocol=udp").await;
    assert_eq!(row_heads(&udp.text), ["udp:10.0.0.53:53"]);
    assert!(tag_where(&udp.text, "option", "value", "udp").contains("selected"));
    let none = browser.page("/clusters/big?q=443&protocol=udp").await;
    assert!(row_heads(&none.text).is_empty());
    assert!(text(&none.text).contains("No service matches."));
    let sctp = browser.page("/clusters/big?protocol=sctp").await;
    assert!(row_heads(&sctp.text).is_empty());

    // A filtered list pages with its filter kept.
    let tcp = browser.page("/clusters/big?protocol=tcp").await;
    assert_eq!(row_heads(&tcp.text).len(), 50);
    let next = link_labelled(&tcp.text, "Next page").expect("more TCP services");
    assert!(
        next.starts_with("/clusters/big?protocol=tcp&after="),
        "{next}"
    );
    let tcp2 = browser.page(&next).await;
    let next = link_labelled(&tcp2.text, "Next page").expect("a third TCP page");
    let tcp3 = browser.page(&next).await;
    let keys = row_heads(&tcp3.text);
    assert_eq!(keys.len(), 19, "119 TCP services: 50 + 50 + 19");
    assert!(keys.iter().all(|k| k.starts_with("tcp:")), "{keys:?}");
    assert_eq!(
        link_labelled(&tcp3.text, "First page").as_deref(),
        Some("/clusters/big?protocol=tcp")
    );

    // Search as you type: the fragment.
    let live = browser.get("/clusters/big/live?q=dns").await;
    assert_fragment(&live);
    assert_eq!(row_heads(&live.text), ["udp:10.0.0.53:53"]);

    // IPv6 addresses are searched in their canonical spelling.
    let v6 = json!({"protocol": "udp", "address": "2001:db8::10", "port": 53});
    app.create_service("big", &v6).await;
    for q in ["2001:DB8:0::10", "[2001:db8::10]:53"] {
        let page = browser.page(&search(q)).await;
        assert_eq!(
            row_heads(&page.text),
            ["udp:[2001:db8::10]:53"],
            "search {q:?}"
        );
    }

    // A cluster without services says so.
    app.create_cluster("empty").await;
    let empty = browser.page("/clusters/empty").await;
    assert!(text(&empty.text).contains("No services yet. Add the first one."));
    assert!(links(&empty.text).contains(&"/clusters/empty/services/new".to_owned()));
    let missing = browser.get("/clusters/nope").await;
    assert_html(&missing, 404);
}

#[tokio::test]
async fn ui_service_page_shows_settings_pool_and_traffic() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let ids = pool_ids(&app, "web", service).await;
    app.patch_ok(
        &service_path("web", service),
        &json!({"name": "shop", "scheduler": "wrr"}),
    )
    .await;
    let base = format!("/clusters/web/services/{service}");
    let mut browser = Browser::new(&app);

    let page = browser.page(&base).await;
    let html = &page.text;
    let shown = text(html);
    assert!(shown.contains("tcp:10.0.0.1:80 shop"), "{shown}");
    assert_eq!(row_heads(html)[..2], ["10.1.0.1:80", "10.1.0.2:80"]);
    for (key, rs) in &ids {
        let action = format!("{base}/real-servers/{rs}/weight");
        assert_eq!(field(html, &action, "weight"), "1", "{key}");
        assert!(field(html, &action, "etag").starts_with('"'));
        assert!(has_form(html, &format!("{base}/real-servers/{rs}/drain")));
        assert!(links(html).contains(&format!("{base}/real-servers/{rs}/delete")));
    }
    assert!(links(html).contains(&format!("{base}/delete")));
    assert!(links(html).contains(&format!("{base}/pool")));
    // The settings form shows the stored service.
    let etag = app.get(&service_path("web", service)).await.etag();
    assert_eq!(field(html, &base, "etag"), etag);
    assert_eq!(field(html, &base, "protocol"), "tcp");
    assert_eq!(field(html, &base, "address"), "10.0.0.1");
    assert_eq!(field(html, &base, "port"), "80");
    assert_eq!(field(html, &base, "scheduler"), "wrr");
    assert_eq!(field(html, &base, "name"), "shop");
    // The add form preselects the pool's forwarding.
    assert_eq!(
        field(html, &format!("{base}/real-servers"), "forwarding"),
        "masq"
    );
    assert!(shown.contains("No director has reported this service's connections yet."));

    // With a director reporting, the traffic table fills in.
    let token = app.create_agent("web", "lb1").await;
    let rates = json!({"connections": 10, "packets_in": 50, "packets_out": 40,
                       "bytes_in": 6000, "bytes_out": 9000});
    let server = |key: &str, active: u64| {
        json!({"key": key, "active_connections": active, "inactive_connections": 2,
               "persistent_connections": 0, "counters": rates, "rates": rates})
    };
    let report = json!({"services": [{"key": "tcp:10.0.0.1:80", "counters": rates, "rates": rates,
        "real_servers": [server("10.1.0.1:80", 17), server("10.1.0.2:80", 23)]}]});
    app.agent_post(AGENT_STATS, &token, &report)
        .await
        .expect(204);

    let live = browser.get(&format!("{base}/live")).await;
    assert_fragment(&live);
    let live_text = text(&live.text);
    assert!(
        live_text.contains("1 of 1 directors reporting"),
        "{live_text}"
    );
    assert!(live_text.contains("10.1.0.1:80 lb1 17 2"), "{live_text}");
    assert!(live_text.contains("10.1.0.2:80 lb1 23 2"), "{live_text}");
    assert_eq!(
        live.text.matches(r#"<figure><svg class="chart" "#).count(),
        2,
        "graphs are inline SVG"
    );
    let page = browser.page(&base).await;
    assert!(text(&page.text).contains("10.1.0.2:80 lb1 23 2"));

    assert_html(
        &browser
            .get(&format!("/clusters/web/services/{}", service + 100))
            .await,
        404,
    );
    assert_html(
        &browser
            .get(&format!("/clusters/other/services/{service}"))
            .await,
        404,
    );
}

#[tokio::test]
async fn ui_new_service_page_has_the_defaults() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);
    let page = browser.page("/clusters/web/services/new").await;
    let action = "/clusters/web/services";
    assert_eq!(field(&page.text, action, "protocol"), "tcp");
    assert_eq!(field(&page.text, action, "scheduler"), "wlc");
    assert_eq!(field(&page.text, action, "persistence_timeout"), "0");
    assert_eq!(field(&page.text, action, "address"), "");
    assert!(text(&page.text).contains("New service in web"));
    assert!(links(&page.text).contains(&"/clusters/web".to_owned()));
    assert_html(&browser.get("/clusters/nope/services/new").await, 404);
}

#[tokio::test]
async fn ui_directors_page_shows_each_agent() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);
    let empty = browser.page("/clusters/web/directors").await;
    assert!(text(&empty.text).contains("No directors yet."));
    assert!(has_form(&empty.text, "/clusters/web/directors"));

    app.create_director("web", "lb0").await;
    let failed = apply_report(1, &["real server 10.1.0.1:80 of tcp:10.0.0.1:80"]);
    reporting_director(&app, "web", "lb1", &failed).await;
    let page = browser.page("/clusters/web/directors").await;
    let html = &page.text;
    let lb1 = element_text(html, "article", "id", "director-lb1");
    for expected in [
        "online, error",
        "Applied generation 1 of 1",
        "Agent 0.1.0",
        "Kernel 6.1.0-test",
        "Token set",
        "add real server 10.1.0.1:80 of tcp:10.0.0.1:80: File exists (EEXIST)",
        "Rotate agent token",
    ] {
        assert!(lb1.contains(expected), "{expected:?} in {lb1}");
    }
    let lb0 = element_text(html, "article", "id", "director-lb0");
    assert!(lb0.contains("offline, never seen"), "{lb0}");
    assert!(lb0.contains("Token none"), "{lb0}");
    assert!(lb0.contains("Create agent token"), "{lb0}");
    // The one needing attention first.
    assert!(html.find("director-lb1").expect("lb1") < html.find("director-lb0").expect("lb0"));
    // Rotating goes through its confirmation page; creating the first token does not.
    assert!(links(html).contains(&"/clusters/web/directors/lb1/token".to_owned()));
    assert!(!has_form(html, "/clusters/web/directors/lb1/token"));
    assert!(has_form(html, "/clusters/web/directors/lb0/token"));
    assert!(links(html).contains(&"/clusters/web/directors/lb0/delete".to_owned()));
    assert!(text(html).contains("The cluster is at generation 1."));
    let add = text(form_html(html, "/clusters/web/directors"));
    assert!(add.contains("lowercase letters, digits and '-'"), "{add}");
}

#[tokio::test]
async fn ui_changes_pages_list_generations_with_their_diff() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let ids = pool_ids(&app, "web", service).await;
    app.patch_ok(
        &real_server_path("web", service, ids[0].1),
        &json!({"weight": 5}),
    )
    .await;
    let mut browser = Browser::new(&app);

    let list = browser.page("/clusters/web/changes").await;
    let html = &list.text;
    assert_eq!(row_heads(html), ["2", "1"], "newest first");
    let shown = text(html);
    assert!(shown.contains("The cluster is at generation 2."), "{shown}");
    assert!(shown.contains("API 1 real server changed"), "{shown}");
    assert!(shown.contains("API 1 service added"), "{shown}");
    assert!(links(html).contains(&"/clusters/web/changes/2".to_owned()));

    let detail = browser.page("/clusters/web/changes/2").await;
    let shown = text(&detail.text);
    assert!(shown.contains("Generation 2"), "{shown}");
    assert!(
        shown.contains("through the API: 1 real server changed."),
        "{shown}"
    );
    assert!(
        shown.contains("~ changed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 1 → 5"),
        "{shown}"
    );
    let first = browser.page("/clusters/web/changes/1").await;
    let shown = text(&first.text);
    assert!(
        shown.contains("+ added: service tcp:10.0.0.1:80"),
        "{shown}"
    );
    assert!(shown.contains("2 real servers"), "{shown}");

    let missing = browser.get("/clusters/web/changes/9").await;
    assert_html(&missing, 404);
    assert!(text(&missing.text).contains("Cluster web has no generation 9 in its history."));

    app.create_cluster("quiet").await;
    let quiet = browser.page("/clusters/quiet/changes").await;
    assert!(text(&quiet.text).contains("No changes yet."));
}

#[tokio::test]
async fn ui_changes_page_pages_older_generations() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let ids = pool_ids(&app, "web", service).await;
    for weight in 2..=60 {
        app.patch_ok(
            &real_server_path("web", service, ids[0].1),
            &json!({"weight": weight}),
        )
        .await;
    }
    let mut browser = Browser::new(&app);
    let newest = browser.page("/clusters/web/changes").await;
    let heads = row_heads(&newest.text);
    assert_eq!(heads.len(), 50);
    assert_eq!(heads[0], "60");
    let older = link_labelled(&newest.text, "Older").expect("an older page");
    assert_eq!(older, "/clusters/web/changes?before=11");
    let page = browser.page(&older).await;
    let heads = row_heads(&page.text);
    assert_eq!(heads.first().map(String::as_str), Some("10"));
    assert_eq!(heads.last().map(String::as_str), Some("1"));
    assert_eq!(link_labelled(&page.text, "Older"), None);
    assert_eq!(
        link_labelled(&page.text, "Newest").as_deref(),
        Some("/clusters/web/changes")
    );
}

#[tokio::test]
async fn ui_pool_editor_shows_the_pool_as_text() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let ids = pool_ids(&app, "web", service).await;
    app.patch_ok(
        &real_server_path("web", service, ids[1].1),
        &json!({"weight": 3, "state": "drained", "description": "rack \"b\""}),
    )
    .await;
    let mut browser = Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");
    let page = browser.page(&format!("{base}/pool")).await;
    assert_eq!(
        field(&page.text, &format!("{base}/pool"), "pool"),
        "10.1.0.1:80 weight=1 forwarding=masq\n\
         10.1.0.2:80 weight=3 forwarding=masq state=drained description=\"rack \\\"b\\\"\"\n"
    );
    assert!(text(&page.text).contains("Bulk edit: tcp:10.0.0.1:80"));
    assert!(
        !has_form(&page.text, &format!("{base}/pool/apply")),
        "no plan yet"
    );
}

#[tokio::test]
async fn ui_confirm_pages_name_what_goes_and_carry_its_etag() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let ids = pool_ids(&app, "web", service).await;
    app.create_director("web", "lb1").await;
    let mut browser = Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");

    let page = browser.page(&format!("{base}/delete")).await;
    let shown = text(&page.text);
    assert!(shown.contains("Delete service tcp:10.0.0.1:80?"), "{shown}");
    assert!(shown.contains("Its 2 real servers go with it."), "{shown}");
    let etag = app.get(&service_path("web", service)).await.etag();
    assert_eq!(field(&page.text, &format!("{base}/delete"), "etag"), etag);
    assert_eq!(link_labelled(&page.text, "Cancel"), Some(base.clone()));

    let rs = ids[0].1;
    let action = format!("{base}/real-servers/{rs}/delete");
    let page = browser.page(&action).await;
    assert!(text(&page.text).contains("Remove 10.1.0.1:80 from tcp:10.0.0.1:80?"));
    let etag = app.get(&real_server_path("web", service, rs)).await.etag();
    assert_eq!(field(&page.text, &action, "etag"), etag);

    let action = "/clusters/web/directors/lb1/delete";
    let page = browser.page(action).await;
    assert!(text(&page.text).contains("Remove director lb1 from web?"));
    let etag = app.get(&director_path("web", "lb1")).await.etag();
    assert_eq!(field(&page.text, action, "etag"), etag);
    assert_eq!(
        link_labelled(&page.text, "Cancel").as_deref(),
        Some("/clusters/web/directors")
    );

    assert_html(
        &browser
            .get(&format!("{base}/real-servers/999/delete"))
            .await,
        404,
    );
    assert_html(
        &browser.get("/clusters/web/directors/nope/delete").await,
        404,
    );
    assert_html(&browser.get("/clusters/web/services/999/delete").await, 404);
}

//! What protects the UI and what it answers for what it does not serve: CSRF, cross-site
//! POSTs, htmx's token header, HTML errors (JSON ones under `/api`), cached static files.

use crate::helpers::*;
use crate::ui_browser::*;

/// Cluster names, by the API.
async fn cluster_names(app: &TestApp) -> Vec<String> {
    let list = app.get("/api/v1/clusters").await.expect(200).clone();
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

#[track_caller]
fn assert_forbidden(resp: &Resp, why: &str) {
    assert_html(resp, 403);
    let shown = text(&resp.text);
    assert!(shown.contains("403 Forbidden"), "{shown}");
    assert!(shown.contains(why), "{why:?} in {shown}");
}

#[tokio::test]
async fn ui_a_post_without_the_right_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);
    let token = browser.token().await;

    // No token in the form.
    let name = [("name".to_owned(), "evil".to_owned())];
    let missing = browser.post_pairs("/clusters", &name).await;
    assert_forbidden(&missing, "security token is missing or stale");
    // A wrong one.
    let wrong = browser
        .post_pairs(
            "/clusters",
            &[
                ("_csrf".into(), "0".repeat(64)),
                ("name".into(), "evil".into()),
            ],
        )
        .await;
    assert_forbidden(&wrong, "security token is missing or stale");
    // The right token from a browser without the session cookie (another site's page
    // cannot read it, but suppose it learnt it).
    let mut stranger = Browser::new(&app);
    let cookieless = stranger
        .post_pairs(
            "/clusters",
            &[
                ("_csrf".into(), token.clone()),
                ("name".into(), "evil".into()),
            ],
        )
        .await;
    assert_forbidden(&cookieless, "sent no session cookie");
    assert_eq!(cluster_names(&app).await, ["web"]);

    // Destructive forms too.
    let delete = format!("/clusters/web/services/{service}/delete");
    let etag = app.get(&service_path("web", service)).await.etag();
    let refused = browser
        .post_pairs(&delete, &[("etag".into(), etag.clone())])
        .await;
    assert_forbidden(&refused, "security token");
    app.get(&service_path("web", service)).await.expect(200);

    // With the token, the same form works.
    let deleted = browser.post_form(&delete, &[("etag", &etag)]).await;
    assert_eq!(redirected(&deleted), "/clusters/web");
    app.get(&service_path("web", service))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn ui_a_post_from_another_origin_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let token = browser.token().await;
    let body = format!("_csrf={token}&name=evil");
    let foreign = browser
        .post_with_headers("/clusters", &body, &[("origin", "http://evil.example")])
        .await;
    assert_forbidden(&foreign, "came from another site");
    let null = browser
        .post_with_headers("/clusters", &body, &[("origin", "null")])
        .await;
    assert_html(&null, 403);
    assert!(cluster_names(&app).await.is_empty());

    // The same request from this origin works.
    let origin = browser.origin().to_owned();
    let same = browser
        .post_with_headers("/clusters", &body, &[("origin", &origin)])
        .await;
    assert_eq!(redirected(&same), "/clusters/evil/directors");
}

#[tokio::test]
async fn ui_htmx_posts_carry_the_token_in_a_header() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let token = browser.token().await;
    let created = browser
        .post_with_headers(
            "/clusters",
            "name=hx",
            &[("x-csrf-token", &token), ("hx-request", "true")],
        )
        .await;
    assert_eq!(redirected(&created), "/clusters/hx/directors");
    assert_eq!(cluster_names(&app).await, ["hx"]);

    // A stale header is refused even when the form's token is right.
    let body = format!("_csrf={token}&name=hx2");
    let stale = browser
        .post_with_headers("/clusters", &body, &[("x-csrf-token", &"f".repeat(64))])
        .await;
    assert_forbidden(&stale, "security token is stale");
    assert_eq!(cluster_names(&app).await, ["hx"]);
}

#[tokio::test]
async fn ui_unknown_pages_are_html_404s_and_unknown_api_paths_json() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);

    let paths = [
        "/nope",
        "/clusters/nope",
        "/clusters/web/services/999",
        "/clusters/web/directors/nope/delete",
        "/clusters/web/changes/999",
        "/static/app.00000000.css",
        "/clusters/web/nope",
    ];
    for path in paths {
        let resp = browser.get(path).await;
        assert_eq!(resp.status, 404, "{path}: {}", resp.text);
        if path.starts_with("/static/") {
            continue;
        }
        assert_html(&resp, 404);
        let shown = text(&resp.text);
        assert!(shown.contains("404 Not Found"), "{path}: {shown}");
        assert!(shown.contains("Back to the fleet"), "{path}: {shown}");
        for internal in [
            "sqlx",
            "panicked",
            "anyhow",
            "src/",
            "Error {",
            "RowNotFound",
        ] {
            assert!(
                !resp.text.contains(internal),
                "{path} shows {internal:?}: {shown}"
            );
        }
    }
    let nope = browser.get("/nope").await;
    assert!(text(&nope.text).contains("There is no page at this address."));
    let cluster = browser.get("/clusters/nope").await;
    assert!(
        text(&cluster.text).contains("nope"),
        "names what was not found"
    );

    // Under /api, problems stay JSON.
    for path in ["/api/v1/nope", "/api/nope", "/api/v1/clusters/nope"] {
        app.get(path).await.problem(404, "not_found");
    }
}

#[tokio::test]
async fn ui_a_malformed_address_is_an_html_page_too() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);
    // A service id that is not a number names no page: an HTML error page like any other
    // (404, or 400), not the path extractor's plain-text rejection.
    let mut wrong = Vec::new();
    for path in [
        "/clusters/web/services/abc",
        "/clusters/web/services/abc/pool",
        "/clusters/web/services/1/real-servers/x/delete",
        "/clusters/web/changes/latest",
    ] {
        let resp = browser.get(path).await;
        let html = resp.content_type.starts_with("text/html");
        if !(resp.status == 404 || resp.status == 400)
            || !html
            || resp.text.contains("Cannot parse")
        {
            wrong.push(format!(
                "{path}: {} {} {:?}",
                resp.status, resp.content_type, resp.text
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "not HTML error pages:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn ui_static_assets_are_served_hashed_and_immutable() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);
    let mut urls = Vec::new();
    for path in [
        "/".to_owned(),
        "/clusters/web".to_owned(),
        format!("/clusters/web/services/{service}"),
        "/nope".to_owned(),
    ] {
        let page = browser.get(&path).await;
        let html = &page.text;
        let css: Vec<String> = tags(html, "link")
            .filter(|t| attr(t, "rel").as_deref() == Some("stylesheet"))
            .filter_map(|t| attr(t, "href"))
            .collect();
        let js: Vec<String> = tags(html, "script")
            .filter_map(|t| attr(t, "src"))
            .collect();
        assert_eq!(css.len(), 1, "{path}: {css:?}");
        assert_eq!(js.len(), 2, "{path}: htmx and app.js: {js:?}");
        urls.extend(css.into_iter().chain(js));
    }
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 3, "every page links the same files: {urls:?}");
    for url in &urls {
        assert!(url.starts_with("/static/"), "{url}");
        let name = url.rsplit('/').next().unwrap_or_default();
        let hash = name.split('.').rev().nth(1).unwrap_or_default();
        assert_eq!(hash.len(), 8, "a content hash in {url}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");

        let resp = browser.get(url).await;
        assert_eq!(resp.status, 200, "{url}");
        let cache = resp
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(cache.contains("immutable"), "{url}: {cache:?}");
        assert!(cache.contains("max-age="), "{url}: {cache:?}");
        let expected = if url.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            resp.content_type.starts_with(expected),
            "{url}: {}",
            resp.content_type
        );
        assert!(!resp.text.is_empty());
        assert!(
            !resp.headers.contains_key("set-cookie"),
            "no session on static files"
        );
    }
}

/// Every `id` of a page, with those used more than once.
fn duplicate_ids(html: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    let mut rest = html;
    while let Some(at) = rest.find(" id=\"") {
        let from = &rest[at + 5..];
        let end = from.find('"').unwrap_or(from.len());
        *seen.entry(from[..end].to_owned()).or_default() += 1;
        rest = &from[end..];
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect()
}

#[tokio::test]
async fn ui_every_page_has_unique_element_ids() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_director("web", "lb1").await;
    let mut browser = Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");
    let mut duplicates = Vec::new();
    for path in [
        "/".to_owned(),
        "/new-cluster".to_owned(),
        "/clusters/web".to_owned(),
        "/clusters/web/services/new".to_owned(),
        base.clone(),
        format!("{base}/pool"),
        format!("{base}/delete"),
        "/clusters/web/directors".to_owned(),
        "/clusters/web/changes".to_owned(),
        "/clusters/web/changes/1".to_owned(),
    ] {
        let page = browser.page(&path).await;
        // A label's `for` and a field's `aria-describedby` must find their own element.
        let twice = duplicate_ids(&page.text);
        if !twice.is_empty() {
            duplicates.push(format!("{path}: {}", twice.join(", ")));
        }
    }
    assert!(
        duplicates.is_empty(),
        "ids used twice:\n{}",
        duplicates.join("\n")
    );
}

#[tokio::test]
async fn ui_text_people_typed_is_escaped_on_every_page() {
    let app = TestApp::spawn().await;
    let evil = "<script>alert(1)</script>";
    app.post(
        "/api/v1/clusters",
        &serde_json::json!({"name": "web", "description": evil}),
    )
    .await
    .expect(201);
    let mut spec = tcp_service(80);
    spec["name"] = evil.into();
    spec["description"] = evil.into();
    spec["real_servers"] = serde_json::json!([{
        "address": "10.1.0.1", "forwarding": "masq", "description": evil
    }]);
    let service = id(&app.create_service("web", &spec).await);
    app.post(
        &directors("web"),
        &serde_json::json!({"name": "lb1", "description": evil}),
    )
    .await
    .expect(201);
    let mut browser = Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");
    for path in [
        "/".to_owned(),
        "/live".to_owned(),
        "/clusters/web".to_owned(),
        "/clusters/web/live".to_owned(),
        base.clone(),
        format!("{base}/pool"),
        "/clusters/web/directors".to_owned(),
        "/clusters/web/changes/1".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.text.contains("<script>alert"),
            "{path}: {}",
            page.text
        );
        assert!(
            text(&page.text).contains(evil),
            "{path} shows the text as typed: {}",
            text(&page.text)
        );
    }
}

#[tokio::test]
async fn ui_a_method_a_page_does_not_take_is_an_html_405() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let resp = browser.get("/clusters").await;
    assert_html(&resp, 405);
    assert!(text(&resp.text).contains("This address does not take that kind of request."));
    // Under /api it stays a problem.
    app.send(app.request(reqwest::Method::PATCH, "/api/v1/clusters"))
        .await
        .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn ui_a_post_that_is_not_a_form_is_an_html_page_too() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let token = browser.token().await;
    let resp = browser
        .post_with_headers(
            "/clusters",
            r#"{"name": "web"}"#,
            &[
                ("x-csrf-token", &token),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert!(
        (400..500).contains(&resp.status) && resp.content_type.starts_with("text/html"),
        "an HTML error page, not the form extractor's plain-text rejection: {} {} {:?}",
        resp.status,
        resp.content_type,
        resp.text
    );
    assert!(cluster_names(&app).await.is_empty());
}

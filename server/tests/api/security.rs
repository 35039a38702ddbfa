//! What a browser page on another site, or a hostile client, cannot do without logging in:
//! change anything cross-site, reach the server under a foreign host name (DNS rebinding),
//! keep a revoked token's long-poll, hold a connection with half a request; and the
//! security headers on every answer.

use std::time::Duration;

use lvs_server::http::listen::Timeouts;
use lvs_server::ServeOptions;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::ui_browser::Browser;

const EVIL: &str = "http://evil.example";

/// The ways a browser says a request comes from another site.
fn cross_site_headers(app: &TestApp) -> Vec<Vec<(&'static str, String)>> {
    vec![
        vec![("origin", EVIL.to_owned())],
        vec![("sec-fetch-site", "cross-site".to_owned())],
        // Another port of the same host is another origin.
        vec![(
            "origin",
            format!("http://127.0.0.1:{}", app.addr.port() + 1),
        )],
        vec![
            ("origin", format!("http://{}", app.addr)),
            ("sec-fetch-site", "same-site".to_owned()),
        ],
    ]
}

async fn send_with(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> Resp {
    let mut request = app.request(method, path);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    app.send(request).await
}

/// Cluster `web` with its one service and a real server 10.1.0.9:80 added to it, for the
/// requests to change; the real server and its path.
async fn real_server_to_change(app: &TestApp) -> (Value, String) {
    let service = cluster_with_service(app, "web").await;
    let server = app
        .create_real_server("web", service, &masq_server(9, 80))
        .await;
    let path = real_server_path("web", service, id(&server));
    (server, path)
}

#[tokio::test]
async fn api_changes_sent_cross_site_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (server, server_path) = real_server_to_change(&app).await;
    let token = app.create_agent("web", "lb1").await;
    let (document, etag) = app.desired_state("web").await;

    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, format!("{server_path}/drain"), None),
        (Method::POST, token_path("web", "lb1"), None),
        (Method::DELETE, token_path("web", "lb1"), None),
        (Method::DELETE, server_path.clone(), None),
        (Method::DELETE, cluster_path("web"), None),
        (
            Method::PUT,
            desired_state("web"),
            Some(json!({"services": []})),
        ),
        (
            Method::POST,
            "/api/v1/clusters".into(),
            Some(json!({"name": "evil"})),
        ),
    ];
    for headers in cross_site_headers(&app) {
        for (method, path, body) in &attempts {
            let resp = send_with(&app, method.clone(), path, &headers, body.as_ref()).await;
            let problem = resp.problem(403, "cross_site_request");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("another site"),
                "{method} {path} {headers:?}: {}",
                resp.text
            );
        }
    }
    // Nothing changed: same document, same server weight, the token still works.
    let (after, after_etag) = app.desired_state("web").await;
    assert_eq!(after, document);
    assert_eq!(after_etag, etag);
    assert_eq!(
        app.get(&server_path).await.expect(200)["weight"],
        server["weight"]
    );
    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
    app.get(&cluster_path("evil")).await.expect(404);
}

#[tokio::test]
async fn api_changes_from_this_origin_or_without_browser_headers_pass() {
    let app = TestApp::spawn().await;
    let (_, server_path) = real_server_to_change(&app).await;
    // curl, scripts, agents: no Origin, no Sec-Fetch-Site.
    send_with(
        &app,
        Method::POST,
        &format!("{server_path}/drain"),
        &[],
        None,
    )
    .await
    .expect(200);
    // This server's own page (the API explorer).
    let own = [
        ("origin", format!("http://{}", app.addr)),
        ("sec-fetch-site", "same-origin".to_owned()),
    ];
    send_with(
        &app,
        Method::POST,
        &format!("{server_path}/restore"),
        &own,
        None,
    )
    .await
    .expect(200);
    // Typed into the address bar or a bookmark: `none`. Reads pass from anywhere.
    let typed = [("sec-fetch-site", "none".to_owned())];
    app.create_director("web", "lb1").await;
    send_with(&app, Method::POST, &token_path("web", "lb1"), &typed, None)
        .await
        .expect(201);
    let evil = [
        ("origin", EVIL.to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
    ];
    send_with(&app, Method::GET, &cluster_path("web"), &evil, None)
        .await
        .expect(200);
}

/// Every path of the OpenAPI document, its parameters filled in.
fn spec_operations(spec: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("path item").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            operations.push((method, concrete.clone()));
        }
    }
    operations
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_cross_site_request() {
    let app = TestApp::spawn().await;
    let spec = app.get("/api/openapi.json").await.expect(200).clone();
    let changes: Vec<(Method, String)> = spec_operations(&spec)
        .into_iter()
        .filter(|(method, _)| !matches!(*method, Method::GET | Method::HEAD))
        .collect();
    assert!(
        changes.len() > 20,
        "the spec lists the API's changes: {changes:?}"
    );
    // The UI's forms and the paths nobody serves.
    let ui = [
        "/clusters",
        "/clusters/web",
        "/clusters/web/services",
        "/clusters/web/services/1",
        "/clusters/web/services/1/real-servers",
        "/clusters/web/services/1/real-servers/1/weight",
        "/clusters/web/services/1/real-servers/1/drain",
        "/clusters/web/services/1/pool",
        "/clusters/web/services/1/pool/apply",
        "/clusters/web/services/1/health-check",
        "/clusters/web/directors",
        "/clusters/web/directors/lb1/token",
        "/clusters/web/directors/lb1/delete",
        "/clusters/web/changes/1/revert",
        "/no/such/page",
        "/api/v1/no-such-resource",
    ];
    let unserved = ui.iter().map(|p| (Method::POST, (*p).to_owned()));
    let patches = ["/clusters/web", "/api/v1/clusters/web"]
        .iter()
        .map(|p| (Method::PATCH, (*p).to_owned()));
    let evil = [("origin", EVIL.to_owned())];
    for (method, path) in changes.into_iter().chain(unserved).chain(patches) {
        let resp = send_with(&app, method.clone(), &path, &evil, None).await;
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text);
        if path.starts_with("/api/") {
            resp.problem(403, "cross_site_request");
        } else {
            assert!(
                resp.content_type.starts_with("text/html"),
                "{method} {path}"
            );
            assert!(
                resp.text.contains("came from another site"),
                "{}",
                resp.text
            );
        }
    }
}

#[tokio::test]
async fn ui_forms_sent_cross_site_are_refused_even_with_the_session_token() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let mut browser = Browser::new(&app);
    let csrf = browser.token().await;
    let body = format!("_csrf={csrf}");
    for headers in [[("sec-fetch-site", "cross-site")], [("origin", EVIL)]] {
        let resp = browser
            .post_with_headers("/clusters/web/directors/lb1/token", &body, &headers)
            .await;
        assert_eq!(resp.status, 403, "{}", resp.text);
    }
    // The token was not rotated.
    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
}

async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("answered and closed").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_foreign_host_is_refused_but_probes_answer() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let port = app.addr.port();
    for host in [format!("evil.example:{port}"), "rebind.example".to_owned()] {
        let resp = raw_request(
            app.addr,
            &format!("GET /api/v1/clusters HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n", app.admin_token()),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 421"), "{resp}");
        assert!(resp.contains("unknown_host"), "{resp}");
        assert!(
            resp.contains(&host) && resp.contains("--allowed-hosts"),
            "{resp}"
        );
        assert!(!resp.contains("\"web\""), "{resp}");
        let page = raw_request(
            app.addr,
            &format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(page.starts_with("HTTP/1.1 421"), "{page}");
        for probe in ["/healthz", "/readyz"] {
            let resp = raw_request(
                app.addr,
                &format!("GET {probe} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert!(resp.starts_with("HTTP/1.1 200"), "{probe}: {resp}");
        }
    }
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".into(),
    ] {
        let resp = raw_request(
            app.addr,
            &format!("GET /api/v1/clusters HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n", app.admin_token()),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{host}: {resp}");
    }
}

#[tokio::test]
async fn allowed_hosts_replace_the_defaults() {
    let app = TestApp::spawn_with_options(ServeOptions {
        allowed_hosts: vec!["lvs.example.org".into()],
        ..ServeOptions::default()
    })
    .await;
    let ask = |host: &str| {
        format!("GET /api/v1/clusters HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n", app.admin_token())
    };
    let named = raw_request(app.addr, &ask("LVS.example.org:8080")).await;
    assert!(named.starts_with("HTTP/1.1 200"), "{named}");
    let local = raw_request(app.addr, &ask("127.0.0.1")).await;
    assert!(local.starts_with("HTTP/1.1 421"), "{local}");
}

#[tokio::test]
async fn a_long_poll_ends_with_401_when_its_token_is_revoked_replaced_or_deleted() {
    let app = TestApp::spawn().await;
    for how in ["revoke", "replace", "delete director", "delete cluster"] {
        let cluster = how.replace(' ', "-");
        cluster_with_service(&app, &cluster).await;
        let token = app.create_agent(&cluster, "lb1").await;
        let generation = app.generation(&cluster).await;
        let poll = format!("{AGENT_DESIRED_STATE}?after={generation}&timeout=60");
        let waiting = {
            let request = app.request(Method::GET, &poll).bearer_auth(&token);
            tokio::spawn(async move { read(request.send().await.expect("sent")).await })
        };
        // Most likely waiting by now; if not, it is refused when it starts, as it must be.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let token_path = token_path(&cluster, "lb1");
        match how {
            "revoke" => drop(app.delete(&token_path, None).await.expect(204).clone()),
            "replace" => drop(app.create_token(&cluster, "lb1").await),
            "delete director" => {
                let path = director_path(&cluster, "lb1");
                drop(app.delete(&path, None).await.expect(204).clone());
            }
            _ => drop(
                app.delete(&format!("{}?force=true", cluster_path(&cluster)), None)
                    .await
                    .expect(204)
                    .clone(),
            ),
        }
        // A change that follows is never sent to the revoked token's poll.
        if how != "delete cluster" {
            let service = app.create_service(&cluster, &tcp_service(8443)).await;
            assert!(id(&service) > 0);
        }
        // Well within the poll's own 60 s.
        let resp = tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .unwrap_or_else(|_| panic!("{how}: the long-poll ends at once"))
            .expect("the poll task");
        resp.problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn a_half_sent_request_header_is_cut_off() {
    let app = TestApp::spawn_with_options(ServeOptions {
        timeouts: Timeouts {
            header: Duration::from_millis(300),
            body: Duration::from_millis(300),
        },
        ..ServeOptions::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(b"GET /api/v1/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write");
    let mut answer = Vec::new();
    // Closed long before this generous bound (a server without the timeout never closes).
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the connection is closed").ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "{answer}");

    // A body that stops half way is cut off too, and stores nothing.
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    let head = "POST /api/v1/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \
        application/json\r\nContent-Length: 100\r\n\r\n{\"name\": \"sl";
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the connection is closed").ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    app.get(&cluster_path("sl")).await.expect(404);
    // The server still answers.
    app.get("/healthz").await.expect(200);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.create_director("web", "lb1").await;
    let mut browser = Browser::new(&app);
    let page = browser.page("/").await;
    let stylesheet = page
        .text
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.ends_with(".css"))
        .expect("a stylesheet")
        .to_owned();
    let evil = [("origin", EVIL.to_owned())];
    let answers = [
        app.get("/api/v1/clusters").await,
        app.get("/api/v1/no-such-thing").await,
        app.get("/healthz").await,
        app.get("/clusters/web").await,
        app.get(&stylesheet).await,
        app.get("/api/docs").await,
        send_with(&app, Method::POST, "/api/v1/clusters", &evil, None).await,
    ];
    for resp in &answers {
        let header = |name: &str| {
            resp.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{}", resp.text);
        assert_eq!(header("x-frame-options"), "DENY");
        assert_eq!(header("referrer-policy"), "same-origin");
        let policy = header("content-security-policy");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe-eval"), "{policy}");
    }
    // The UI's policy allows no inline style; only the explorer's bundled Swagger UI needs it.
    let ui_policy = answers[3].headers["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(ui_policy.contains("style-src 'self';"), "{ui_policy}");
    // The UI has no inline script or style the policy would block.
    for attribute in ["<script>", " style=", " onclick=", " onload=", " onsubmit="] {
        assert!(
            !page.text.contains(attribute),
            "{attribute} in the fleet page"
        );
    }

    // Responses that carry a token are never stored.
    let created = app.post_empty(&token_path("web", "lb1"), None).await;
    created.expect(201);
    assert_eq!(created.headers["cache-control"], "no-store");
    let csrf = browser.token().await;
    let shown = browser
        .post_form(
            "/clusters/web/directors/lb1/token",
            &[("_csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert!(shown.text.contains("lvsa_"));
    assert_eq!(shown.headers["cache-control"], "no-store");
}

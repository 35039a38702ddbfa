//! Access control that cannot be forgotten: every operation of the OpenAPI document and
//! every page and form the UI links to is walked without credentials (401, or the sign-in
//! page), and with roles below what it needs (403). A new endpoint that forgets to say
//! who may use it is admin-only by default, and fails here if it is public by mistake.
//! Also: tokens (scopes, expiry, revocation), sign-in (failures, throttling), sign-out,
//! session expiry, and the author of every change.

use std::collections::BTreeSet;

use lvs_server::access::SessionPolicy;
use lvs_server::ServeOptions;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::Browser;

/// The operations anyone may call.
const PUBLIC: &[&str] = &["/healthz", "/readyz"];
/// What an operator may change (the rest of the changes are an admin's).
fn operator_may(method: &Method, path: &str) -> bool {
    *method != Method::GET && path.starts_with("/api/v1/clusters/{cluster}/services")
}
/// Reads only admins may make.
const ADMIN_READS: &[&str] = &["/api/v1/users", "/api/v1/users/{user}", "/api/v1/audit"];
/// Pages only admins may read (they reveal who uses the server), with the pages under them.
const UI_ADMIN_READS: &[&str] = &["/audit", "/users"];
/// Pages that only lead to a change (its form, plan or confirmation), by their ends: reading
/// them needs the change's role.
const UI_CHANGE_PAGES: &[&str] = &[
    "/delete",
    "/revert",
    "/pool",
    "/new",
    "/new-cluster",
    "/revoke",
    "/token",
];
/// Changes anyone signed in may ask for (bounded to its own by the handler).
const SELF_SERVICE: &[&str] = &[
    "/api/v1/api-tokens",
    "/api/v1/api-tokens/{id}",
    "/api/v1/account/password",
];
/// The UI's forms anyone signed in may post: its own account's.
const UI_SELF_SERVICE: &str = "/account/";

/// Every (method, path template) of the document.
fn operations() -> Vec<(Method, String)> {
    let document: Value =
        serde_json::to_value(lvs_server::api::openapi()).expect("the document as JSON");
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "patch", "delete"] {
            if item.get(method).is_some() {
                let method =
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
                found.push((method, path.clone()));
            }
        }
    }
    assert!(found.len() > 40, "the document lists its operations");
    found
}

/// `template` with its parameters filled in with objects that exist.
fn concrete(template: &str, service: i64, server: i64) -> String {
    template
        .replace("{cluster}", "web")
        .replace("{service}", &service.to_string())
        .replace("{id}", &server.to_string())
        .replace("{director}", "lb1")
        .replace("{generation}", "1")
        .replace("{user}", "admin")
        .replace("{host}", "rs1")
}

async fn issue(app: &TestApp, body: Value) -> String {
    let issued = app.post("/api/v1/api-tokens", &body).await;
    issued.expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

async fn call(app: &TestApp, token: Option<&str>, method: &Method, path: &str) -> Resp {
    let mut request = app.anonymous().request(method.clone(), app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    read(request.send().await.expect("an answer")).await
}

#[tokio::test]
async fn every_operation_needs_the_role_it_says() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.post("/api/v1/clusters/web/directors", &json!({"name": "lb1"}))
        .await
        .expect(201);
    app.create_cluster("other").await;
    app.post(
        "/api/v1/real-server-hosts",
        &json!({"name": "rs1", "addresses": ["10.1.0.9"]}),
    )
    .await
    .expect(201);
    let servers = app.get(&real_servers("web", service)).await;
    let server = id(&servers.expect(200)["items"][0]);
    let account = |role: &str, clusters: &[&str]| {
        json!({"name": role, "role": role, "service_account": format!("walk-{role}{}", clusters.iter().map(|c| format!("-{c}")).collect::<String>()),
               "clusters": clusters})
    };
    let viewer = issue(&app, account("viewer", &[])).await;
    let elsewhere = issue(&app, account("operator", &["other"])).await;
    let operator = issue(&app, account("operator", &["web"])).await;

    for (method, template) in operations() {
        let path = concrete(&template, service, server);
        let what = format!("{method} {template}");
        let public = PUBLIC.contains(&template.as_str());
        let agent = template.starts_with("/api/v1/agent/");
        let reads = method == Method::GET;

        let anonymous = call(&app, None, &method, &path).await;
        if public {
            assert!(
                anonymous.status < 400,
                "{what} is public: {}",
                anonymous.text
            );
            continue;
        }
        anonymous.problem(401, "unauthorized");
        if agent {
            // An API token is not an agent's.
            call(&app, Some(&operator), &method, &path)
                .await
                .problem(401, "unauthorized");
            continue;
        }

        let as_viewer = call(&app, Some(&viewer), &method, &path).await;
        let viewer_may = (reads && !ADMIN_READS.contains(&template.as_str()))
            || SELF_SERVICE.contains(&template.as_str());
        if viewer_may {
            assert!(
                as_viewer.status != 401 && as_viewer.status != 403,
                "a viewer may {what}: {} {}",
                as_viewer.status,
                as_viewer.text
            );
        } else {
            as_viewer.problem(403, "forbidden");
        }

        if operator_may(&method, &template) {
            call(&app, Some(&elsewhere), &method, &path)
                .await
                .problem(403, "forbidden");
            let granted = call(&app, Some(&operator), &method, &path).await;
            assert!(
                granted.status != 401 && granted.status != 403,
                "an operator of web may {what}: {} {}",
                granted.status,
                granted.text
            );
        } else if !viewer_may {
            call(&app, Some(&operator), &method, &path)
                .await
                .problem(403, "forbidden");
        }
    }
}

/// The path an attribute's value (`piece` starts with it) names on this server's UI.
fn local(piece: &str) -> Option<String> {
    let target = piece.split('"').next().unwrap_or("");
    let ui = target.starts_with('/')
        && !target.starts_with("//")
        && !target.starts_with("/static/")
        && !target.starts_with("/api/");
    ui.then(|| target.split('#').next().unwrap_or("").replace("&amp;", "&"))
}

/// Every link and form action of the pages an admin sees, as templates of what it reached.
async fn ui_routes(app: &TestApp) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut browser = Browser::new(app);
    let mut pages: BTreeSet<String> = BTreeSet::new();
    let mut forms: BTreeSet<String> = BTreeSet::new();
    let mut queue = vec!["/".to_owned()];
    while let Some(page) = queue.pop() {
        if !pages.insert(page.clone()) || pages.len() > 200 {
            continue;
        }
        let resp = browser.get(&page).await;
        if resp.status != 200 || !resp.content_type.starts_with("text/html") {
            continue;
        }
        // Links, and what htmx loads into a page.
        let pieces = resp.text.split("href=\"").skip(1);
        for piece in pieces.chain(resp.text.split("hx-get=\"").skip(1)) {
            let target = local(piece);
            if let Some(target) = target.filter(|t| !pages.contains(t)) {
                queue.push(target);
            }
        }
        // Forms that change something: `<form method="post" ... action="...">`; a GET
        // form's action (the search, a pager's jump) is a page, as submitted empty.
        for tag in resp.text.split("<form").skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            if !tag.contains("method=\"post\"") {
                let action = tag.split("action=\"").nth(1).and_then(local);
                if let Some(action) = action.filter(|a| !pages.contains(a)) {
                    queue.push(action);
                }
                continue;
            }
            if let Some(action) = tag.split("action=\"").nth(1).and_then(local) {
                forms.insert(action);
            }
        }
    }
    (pages, forms)
}

#[tokio::test]
async fn every_page_and_form_needs_a_session_and_its_role() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.post("/api/v1/clusters/web/directors", &json!({"name": "lb1"}))
        .await
        .expect(201);
    // With a token, so its page offers the rotation's confirmation.
    app.post_empty("/api/v1/clusters/web/directors/lb1/token", None)
        .await
        .expect(201);
    // A real-server host with a token, for its pages and forms.
    app.post(
        "/api/v1/real-server-hosts",
        &json!({"name": "rs1", "addresses": ["10.1.0.1"]}),
    )
    .await
    .expect(201);
    app.post_empty("/api/v1/real-server-hosts/rs1/token", None)
        .await
        .expect(201);
    let (pages, forms) = ui_routes(&app).await;
    assert!(pages.len() > 8, "the walk reached the pages: {pages:?}");
    assert!(forms.len() > 8, "and their forms: {forms:?}");
    assert!(
        forms
            .iter()
            .any(|f| f.contains(&format!("/services/{service}/"))),
        "{forms:?}"
    );
    // The cluster's settings: a page every role reads, a form only admins may post.
    assert!(pages.contains("/clusters/web/settings"), "{pages:?}");
    assert!(forms.contains("/clusters/web/settings"), "{forms:?}");
    // A director's page, and a change's rollout (loaded into pages by htmx).
    for page in [
        "/clusters/web/directors/lb1",
        "/clusters/web/changes/1/rollout?detail",
    ] {
        assert!(pages.contains(page), "{page}: {pages:?}");
    }
    // The fleet-wide search, from every page's header.
    assert!(pages.contains("/search"), "{pages:?}");
    // Real-server hosts: a page every role reads, its forms and confirmations an admin's.
    for page in [
        "/real-server-hosts",
        "/real-server-hosts/rs1/delete",
        "/real-server-hosts/rs1/token",
        "/real-server-hosts/rs1/token/revoke",
        "/clusters/web/directors/lb1/token",
    ] {
        assert!(pages.contains(page), "{page}: {pages:?}");
    }
    for form in [
        "/real-server-hosts",
        "/real-server-hosts/rs1/token",
        "/real-server-hosts/rs1/token/revoke",
        "/real-server-hosts/rs1/delete",
    ] {
        assert!(forms.contains(form), "{form}: {forms:?}");
    }

    let mut anonymous = Browser::anonymous(&app);
    for page in pages.iter().filter(|p| !p.starts_with("/login")) {
        let resp = anonymous.get(page).await;
        assert_eq!(resp.status, 303, "GET {page} without a session");
        let location = resp.location.clone().unwrap_or_default();
        assert!(
            location.starts_with("/login?next="),
            "GET {page}: {location}"
        );
    }
    for form in forms.iter().filter(|f| !f.starts_with("/login")) {
        let resp = anonymous.post_form(form, &[]).await;
        assert_eq!(resp.status, 303, "POST {form} without a session");
        assert!(resp
            .location
            .clone()
            .unwrap_or_default()
            .starts_with("/login"));
    }

    // A viewer reads every page but the admins' and changes nothing but its own session.
    assert!(pages.contains("/audit"), "admins are shown the audit log");
    let viewer = app.session_of("walk-viewer", "viewer").await;
    let mut as_viewer = Browser::with_session(&app, Some(&viewer));
    for page in &pages {
        let resp = as_viewer.get(page).await;
        let path = page.split('?').next().unwrap_or_default();
        let admins_only = UI_ADMIN_READS
            .iter()
            .any(|read| path == *read || path.starts_with(&format!("{read}/")));
        if admins_only {
            assert_eq!(resp.status, 403, "only admins read {page}");
            continue;
        }
        if UI_CHANGE_PAGES.iter().any(|end| path.ends_with(end)) {
            assert_eq!(resp.status, 403, "a viewer is not shown {page}");
            continue;
        }
        assert!(
            resp.status == 200 || resp.status == 303,
            "a viewer reads {page}: {}",
            resp.status
        );
        // The UI shows a viewer no form it would be refused: only signing out and its own
        // account's.
        let offered: Vec<&str> = resp
            .text
            .split("<form")
            .skip(1)
            .map(|tag| tag.split('>').next().unwrap_or_default())
            .filter(|tag| {
                tag.contains("method=\"post\"")
                    && !tag.contains("action=\"/logout\"")
                    && !tag.contains(&format!("action=\"{UI_SELF_SERVICE}"))
            })
            .collect();
        assert!(
            offered.is_empty(),
            "a viewer is offered {offered:?} on {page}"
        );
    }
    assert!(
        pages.contains("/account") && pages.contains("/users"),
        "{pages:?}"
    );
    for form in forms
        .iter()
        .filter(|f| *f != "/logout" && !f.starts_with("/login"))
    {
        let resp = as_viewer.post_form(form, &[]).await;
        if form.starts_with(UI_SELF_SERVICE) {
            assert!(
                resp.status != 401 && resp.status != 403,
                "a viewer may POST {form}: {} {}",
                resp.status,
                resp.text
            );
            continue;
        }
        assert_eq!(
            resp.status, 403,
            "a viewer may not POST {form}: {}",
            resp.text
        );
    }
}

#[tokio::test]
async fn tokens_are_scoped_expire_and_are_refused_once_revoked() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let issued = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "deploy", "role": "viewer", "service_account": "ci",
                    "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let token = issued.expect(201)["token"].as_str().unwrap().to_owned();
    let id = id(&issued.body);
    assert_eq!(
        call(&app, Some(&token), &Method::GET, "/api/v1/clusters")
            .await
            .status,
        200
    );
    app.delete(&format!("/api/v1/api-tokens/{id}"), None)
        .await
        .expect(204);
    let revoked = call(&app, Some(&token), &Method::GET, "/api/v1/clusters").await;
    assert!(revoked.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap()
        .contains("unknown"));

    // Past its expiry it is refused.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let short = issue(
        &app,
        json!({"name": "short", "role": "viewer", "service_account": "ci", "expires_at": soon}),
    )
    .await;
    assert_eq!(
        call(&app, Some(&short), &Method::GET, "/api/v1/clusters")
            .await
            .status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = call(&app, Some(&short), &Method::GET, "/api/v1/clusters").await;
    assert!(expired.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // Bad requests name their field; a token cannot do more than its user.
    let fields = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "Bad Name", "role": "viewer", "service_account": "ci"}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["name"]);
    let fields = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "x", "role": "admin", "service_account": "ci", "clusters": ["web"]}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["clusters"]);
    let fields = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "x", "role": "viewer", "service_account": "ci", "expires_at": "soon"}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["expires_at"]);
    let fields = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "x", "role": "operator", "service_account": "ci", "clusters": ["nope"]}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["clusters"]);
    let viewer = issue(
        &app,
        json!({"name": "v", "role": "viewer", "service_account": "ci"}),
    )
    .await;
    let escalate = app
        .send(
            app.request(Method::POST, "/api/v1/api-tokens")
                .bearer_auth(&viewer)
                .json(&json!({"name": "up", "role": "admin", "service_account": "ci"})),
        )
        .await;
    escalate.problem(403, "forbidden");

    // An agent token is no key to the admin API.
    app.post("/api/v1/clusters/web/directors", &json!({"name": "lb1"}))
        .await
        .expect(201);
    let agent = app
        .post_empty("/api/v1/clusters/web/directors/lb1/token", None)
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = call(&app, Some(&agent), &Method::GET, "/api/v1/clusters").await;
    assert!(refused.problem(401, "unauthorized")["detail"]
        .as_str()
        .unwrap()
        .contains("agent token"));
}

#[tokio::test]
async fn signing_in_is_throttled_and_audited_and_changes_name_their_author() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut browser = Browser::anonymous(&app);
    let sign_in = |password: &'static str| {
        vec![
            ("username", "admin"),
            ("password", password),
            ("next", "/clusters/web"),
        ]
    };
    let wrong = browser
        .post_form("/login", &sign_in("not the password"))
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text.contains("Wrong user name or password."));
    let unknown = browser
        .post_form(
            "/login",
            &[("username", "nobody"), ("password", "not the password")],
        )
        .await;
    assert_eq!(unknown.status, 401);
    assert!(
        unknown.text.contains("Wrong user name or password."),
        "one message for both"
    );
    // The third failure from this address starts the waits.
    browser.post_form("/login", &sign_in("still not it")).await;
    let throttled = browser
        .post_form("/login", &sign_in(lvs_testkit::server::ADMIN_PASSWORD))
        .await;
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    assert!(throttled.headers.contains_key("retry-after"));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let signed_in = browser
        .post_form("/login", &sign_in(lvs_testkit::server::ADMIN_PASSWORD))
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    assert_eq!(signed_in.location.as_deref(), Some("/clusters/web"));

    // A change made in the UI names the user and the address.
    let page = browser.page("/clusters/web/services/new").await;
    assert_eq!(page.status, 200);
    let audit = app.get("/api/v1/audit?limit=50").await.expect(200).clone();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"login"), "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| **a == "login_failed").count(),
        3,
        "{actions:?}"
    );
    assert!(actions.contains(&"change"), "{actions:?}");
    let by_nobody = app
        .get("/api/v1/audit?actor=nobody")
        .await
        .expect(200)
        .clone();
    assert_eq!(by_nobody["items"][0]["action"], "login_failed");

    // Signing out ends the session for good.
    browser.post_form("/logout", &[]).await;
    assert_eq!(browser.get("/").await.status, 303);
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = TestApp::spawn_with_options(ServeOptions {
        sessions: SessionPolicy {
            idle: std::time::Duration::from_millis(800),
            lifetime: std::time::Duration::from_secs(3600),
        },
        ..ServeOptions::default()
    })
    .await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.get("/").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let after = browser.get("/").await;
    assert_eq!(after.status, 303, "an idle session has ended");
}

/// The audit log page: newest first, filtered by actor and by day, for admins only.
#[tokio::test]
async fn the_audit_page_lists_and_filters_entries() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut anonymous = Browser::anonymous(&app);
    let failed = anonymous
        .post_form("/login", &[("username", "mallory"), ("password", "guess")])
        .await;
    assert_eq!(failed.status, 401);

    let mut browser = Browser::new(&app);
    let all = crate::ui_browser::text(&browser.page("/audit").await.text);
    assert!(all.contains("mallory login failed"), "{all}");
    assert!(
        all.contains("web generation 1"),
        "changes link to their page: {all}"
    );

    let mallory = browser.page("/audit?actor=mallory").await;
    let rows = mallory.text.matches("<th scope=\"row\">").count();
    assert_eq!(rows, 1, "only mallory's entry: {}", mallory.text);

    // A day in the future has nothing yet; today has everything; a wrong date is named.
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().expect("a tomorrow");
    let later = browser.page(&format!("/audit?since={tomorrow}")).await;
    assert!(crate::ui_browser::text(&later.text).contains("No entries match."));
    let up_to_today = browser
        .page(&format!("/audit?until={today}&actor=mallory"))
        .await;
    assert_eq!(up_to_today.text.matches("<th scope=\"row\">").count(), 1);
    let wrong = browser.page("/audit?since=yesterday").await;
    assert_eq!(wrong.status, 200);
    assert!(
        crate::ui_browser::text(&wrong.text)
            .contains("\"yesterday\" is not a date such as 2026-12-31"),
        "{}",
        wrong.text
    );
    assert!(wrong.text.contains("aria-invalid=\"true\""));

    let viewer = app.session_of("audit-viewer", "viewer").await;
    let refused = Browser::with_session(&app, Some(&viewer))
        .get("/audit")
        .await;
    assert_eq!(refused.status, 403);
}

/// The UI offers each role the forms it may use: an operator of the cluster edits its
/// services, an operator of another cluster and a viewer read them.
#[tokio::test]
async fn the_service_page_offers_edits_to_its_operators_only() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_cluster("other").await;
    let operator = app.session_of("web-operator", "operator").await;
    let elsewhere = app.session_of("other-operator", "operator").await;
    for (user, cluster) in [("web-operator", "web"), ("other-operator", "other")] {
        sql_execute(
            &app,
            &format!(
                "INSERT INTO user_grants (user_id, cluster_id)
                 SELECT u.id, c.id FROM users u, clusters c
                 WHERE u.name = '{user}' AND c.name = '{cluster}'"
            ),
        )
        .await;
    }
    let page = format!("/clusters/web/services/{service}");
    let forms = |html: &str| crate::ui_browser::tags(html, "form").count();

    let granted = Browser::with_session(&app, Some(&operator))
        .page(&page)
        .await;
    assert!(granted.text.contains("Save settings"), "the operator edits");
    assert!(granted.text.contains("/weight\""));
    assert!(granted.text.contains("Bulk edit with plan"));
    let as_operator = forms(&granted.text);

    for session in [&elsewhere, &app.session_of("reader", "viewer").await] {
        let read = Browser::with_session(&app, Some(session)).page(&page).await;
        assert_eq!(read.status, 200);
        assert!(!read.text.contains("Save settings"));
        assert!(!read.text.contains("/weight\""));
        assert!(!read.text.contains("Delete service"));
        assert_eq!(
            forms(&read.text),
            2,
            "only Sign out and the search box: {}",
            read.text
        );
        assert!(as_operator > 5);
        // The settings are still shown, read only.
        assert!(read
            .text
            .contains("<fieldset class=\"stacked read-only\" disabled>"));
    }
}

/// Every kind of change leaves an audit entry naming its actor, the token it used, the way
/// in and the client's address.
#[tokio::test]
async fn every_kind_of_change_is_audited_with_its_actor() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.patch_ok(&cluster_path("web"), &json!({"description": "shop"}))
        .await;
    app.create_director("web", "lb1").await;
    app.patch_ok(
        &director_path("web", "lb1"),
        &json!({"description": "rack 1"}),
    )
    .await;
    app.create_token("web", "lb1").await;
    app.delete(&token_path("web", "lb1"), None)
        .await
        .expect(204);
    app.create_service("web", &tcp_service(80)).await;
    let issued = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "ci", "role": "viewer", "service_account": "ci"}),
        )
        .await;
    let token = id(issued.expect(201));
    app.delete(&format!("/api/v1/api-tokens/{token}"), None)
        .await
        .expect(204);
    app.delete(&director_path("web", "lb1"), None)
        .await
        .expect(204);
    app.delete(&format!("{}?force=true", cluster_path("web")), None)
        .await
        .expect(204);

    let audit = app.get("/api/v1/audit?limit=100").await.expect(200).clone();
    let mut entries = audit["items"].as_array().expect("items").clone();
    // The oldest: the tests' own token, issued as `lvs-server tokens add` does.
    let setup = entries.pop().expect("the setup's entry");
    assert_eq!(
        (&setup["action"], &setup["actor_kind"], &setup["source"]),
        (&json!("api_token_created"), &json!("cli"), &json!("cli"))
    );
    let mut actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().expect("an action"))
        .collect();
    actions.reverse();
    assert_eq!(
        actions,
        [
            "cluster_added",
            "cluster_edited",
            "director_added",
            "director_edited",
            "agent_token_created",
            "agent_token_revoked",
            "change",
            "api_token_created",
            "api_token_revoked",
            "director_deleted",
            "cluster_deleted",
        ]
    );
    for entry in &entries {
        assert_eq!(entry["actor_kind"], "token", "{entry}");
        assert_eq!(entry["actor"], "tests", "{entry}");
        assert!(
            entry["token"].as_str().unwrap().starts_with("tests-"),
            "{entry}"
        );
        assert_eq!(entry["source"], "api", "{entry}");
        assert_eq!(entry["client"], "127.0.0.1", "{entry}");
    }
    let change = &entries[entries.len() - 7];
    assert_eq!(change["cluster"], "web");
    assert_eq!(change["generation"], 1);
}

/// Behind a trusted proxy the client is the one it forwards for: changes record it, and the
/// sign-in throttle counts it; anyone else's X-Forwarded-For is ignored.
#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let options = ServeOptions {
        trusted_proxies: lvs_server::client::TrustedProxies::parse(&["127.0.0.1"]).unwrap(),
        ..ServeOptions::default()
    };
    let app = TestApp::spawn_with_options(options).await;
    let created = app
        .send(
            app.request(Method::POST, "/api/v1/clusters")
                .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
                .json(&json!({"name": "web"})),
        )
        .await;
    created.expect(201);
    let audit = app.get("/api/v1/audit?limit=1").await.expect(200).clone();
    assert_eq!(audit["items"][0]["client"], "203.0.113.9");

    // Three failures from one forwarded client, each for another name, start the waits of
    // that address; another client is free.
    let mut browser = Browser::anonymous(&app);
    for user in ["ann", "bob", "cy"] {
        assert_eq!(
            wrong_password_from(&mut browser, "203.0.113.9", user).await,
            401
        );
    }
    assert_eq!(
        wrong_password_from(&mut browser, "203.0.113.9", "dee").await,
        429
    );
    assert_eq!(
        wrong_password_from(&mut browser, "192.0.2.44", "eve").await,
        401,
        "another client"
    );
}

/// A wrong password for `user`, forwarded for `client`: the answer's status.
async fn wrong_password_from(browser: &mut Browser, client: &str, user: &str) -> u16 {
    let token = browser.token().await;
    let form = [
        ("_csrf", token.as_str()),
        ("username", user),
        ("password", "wrong"),
    ];
    let request = browser
        .request(Method::POST, "/login")
        .header("x-forwarded-for", client)
        .header("origin", browser.origin().to_owned())
        .form(&form);
    browser.send(request).await.status
}

/// Without `--trusted-proxies`, X-Forwarded-For is the client's own claim and ignored.
#[tokio::test]
async fn an_untrusted_forwarded_for_is_ignored() {
    let app = TestApp::spawn().await;
    app.send(
        app.request(Method::POST, "/api/v1/clusters")
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"name": "web"})),
    )
    .await
    .expect(201);
    let audit = app.get("/api/v1/audit?limit=1").await.expect(200).clone();
    assert_eq!(audit["items"][0]["client"], "127.0.0.1");
}

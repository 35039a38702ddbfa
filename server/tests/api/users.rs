//! Users over the API: added (a generated password shown once), read, changed (the last
//! admin stays one; a new role holds from the next request of every session and token),
//! given a new password (their sessions end), removed; and one's own password.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::Browser;

const NEW_PASSWORD: &str = "a new long password";

/// `body` sent with `method` to `path` as the holder of API token `token`.
async fn as_token(app: &TestApp, token: &str, method: Method, path: &str, body: &Value) -> Resp {
    let mut request = app.request(method.clone(), path).bearer_auth(token);
    if method != Method::GET && method != Method::DELETE {
        request = request.json(body);
    }
    app.send(request).await
}

/// An API token of user `user` with `role`, issued by the admin.
async fn token_of(app: &TestApp, user: &str, role: &str) -> String {
    let body = json!({"name": "cli", "role": role, "user": user});
    let issued = app.post("/api/v1/api-tokens", &body).await;
    issued.expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// The actions of the audit log, newest first, each with its actor.
async fn audit(app: &TestApp) -> Vec<(String, String)> {
    let log = app.get("/api/v1/audit?limit=200").await;
    log.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            let action = e["action"].as_str().expect("an action").to_owned();
            (action, e["actor"].as_str().expect("an actor").to_owned())
        })
        .collect()
}

async fn sign_in(app: &TestApp, user: &str, password: &str) -> Resp {
    let mut browser = Browser::anonymous(app);
    browser
        .post_form("/login", &[("username", user), ("password", password)])
        .await
}

#[tokio::test]
async fn users_are_added_read_changed_and_removed() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;

    let added = app
        .post(
            "/api/v1/users",
            &json!({"name": "alice", "role": "operator", "clusters": ["web"]}),
        )
        .await;
    let body = added.expect(201).clone();
    assert_eq!(added.location.as_deref(), Some("/api/v1/users/alice"));
    assert_eq!(added.headers["cache-control"], "no-store");
    let password = body["password"].as_str().expect("a generated password");
    assert_eq!(password.len(), 24);
    assert_eq!(body["clusters"], json!(["web"]));
    assert_eq!(sign_in(&app, "alice", password).await.status, 303);

    let typed = json!({"name": "bob", "role": "viewer", "password": "long enough password"});
    let bob = app.post("/api/v1/users", &typed).await;
    assert!(bob.expect(201).get("password").is_none(), "{}", bob.text);
    app.post("/api/v1/users", &typed)
        .await
        .problem(409, "already_exists");

    let alice = app.get("/api/v1/users/alice").await.expect(200).clone();
    assert_eq!(alice["role"], "operator");
    assert!(alice["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!alice.to_string().contains("argon2"), "{alice}");
    app.get("/api/v1/users/nobody")
        .await
        .problem(404, "not_found");
    let list = app.get("/api/v1/users").await.expect(200).clone();
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");

    for (body, field) in [
        (json!({"name": "Bad Name", "role": "viewer"}), "name"),
        (json!({"name": "x", "role": "root"}), "role"),
        (
            json!({"name": "x", "role": "viewer", "clusters": ["web"]}),
            "clusters",
        ),
        (
            json!({"name": "x", "role": "operator", "clusters": ["nope"]}),
            "clusters",
        ),
        (
            json!({"name": "x", "role": "viewer", "password": "short"}),
            "password",
        ),
    ] {
        let fields = app.post("/api/v1/users", &body).await.invalid_fields();
        assert_eq!(fields, [field], "{body}");
    }

    // Absent fields stay as they are; grants go with the operator role.
    let same = app.patch("/api/v1/users/bob", &json!({}), None).await;
    assert_eq!(same.expect(200)["role"], "viewer");
    let up = json!({"role": "operator", "clusters": ["web"]});
    let changed = app.patch("/api/v1/users/bob", &up, None).await;
    assert_eq!(changed.expect(200)["clusters"], json!(["web"]));
    let kept = app
        .patch("/api/v1/users/bob", &json!({"clusters": null}), None)
        .await;
    assert_eq!(kept.expect(200)["clusters"], json!(["web"]));
    let down = app
        .patch("/api/v1/users/bob", &json!({"role": "viewer"}), None)
        .await;
    assert_eq!(down.expect(200)["clusters"], json!([]));
    let fields = app
        .patch(
            "/api/v1/users/bob",
            &json!({"role": "admin", "clusters": ["web"]}),
            None,
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["clusters"]);
    let fields = app
        .patch("/api/v1/users/bob", &json!({"role": "boss"}), None)
        .await
        .invalid_fields();
    assert_eq!(fields, ["role"]);
    app.patch("/api/v1/users/nobody", &json!({}), None)
        .await
        .problem(404, "not_found");

    // The last admin stays one, and stays.
    let demote = app
        .patch("/api/v1/users/admin", &json!({"role": "viewer"}), None)
        .await;
    assert_eq!(demote.invalid_fields(), ["role"]);
    assert!(demote.text.contains("last admin"), "{}", demote.text);
    app.delete("/api/v1/users/admin", None)
        .await
        .problem(409, "last_admin");

    // A new password ends the user's sessions.
    let session = app.session_of("alice", "operator").await;
    let mut browser = Browser::with_session(&app, Some(&session));
    assert_eq!(browser.get("/").await.status, 200);
    let short = json!({"password": "short"});
    let fields = app
        .put("/api/v1/users/alice/password", &short, None)
        .await
        .invalid_fields();
    assert_eq!(fields, ["password"]);
    let reset = json!({"password": NEW_PASSWORD});
    app.put("/api/v1/users/alice/password", &reset, None)
        .await
        .expect(204);
    assert_eq!(browser.get("/").await.status, 303, "the session ended");
    assert_eq!(sign_in(&app, "alice", NEW_PASSWORD).await.status, 303);

    // Removing a user ends its sessions and its tokens.
    let token = token_of(&app, "alice", "operator").await;
    let clusters = as_token(&app, &token, Method::GET, "/api/v1/clusters", &json!({})).await;
    clusters.expect(200);
    app.delete("/api/v1/users/alice", None).await.expect(204);
    app.get("/api/v1/users/alice")
        .await
        .problem(404, "not_found");
    let refused = as_token(&app, &token, Method::GET, "/api/v1/clusters", &json!({})).await;
    refused.problem(401, "unauthorized");
    app.delete("/api/v1/users/alice", None)
        .await
        .problem(404, "not_found");

    let log = audit(&app).await;
    for action in [
        "user_added",
        "user_changed",
        "password_changed",
        "user_removed",
    ] {
        assert!(
            log.iter().any(|(a, actor)| a == action && actor == "tests"),
            "{action} by the caller: {log:?}"
        );
    }
}

#[tokio::test]
async fn only_admins_manage_users() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.session_of("olga", "operator").await;
    let operator = token_of(&app, "olga", "operator").await;
    let body = json!({"name": "x", "role": "viewer"});
    for (method, path) in [
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/users/admin"),
        (Method::POST, "/api/v1/users"),
        (Method::PATCH, "/api/v1/users/olga"),
        (Method::PUT, "/api/v1/users/olga/password"),
        (Method::DELETE, "/api/v1/users/admin"),
    ] {
        as_token(&app, &operator, method, path, &body)
            .await
            .problem(403, "forbidden");
    }
}

#[tokio::test]
async fn a_new_role_holds_from_the_next_request_of_sessions_and_tokens() {
    let app = TestApp::spawn().await;
    let session = app.session_of("carol", "admin").await;
    let token = token_of(&app, "carol", "admin").await;
    let mut browser = Browser::with_session(&app, Some(&session));
    assert!(browser.page("/").await.text.contains("carol (admin)"));
    let cluster = |name: &str| json!({"name": name});
    as_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/clusters",
        &cluster("c1"),
    )
    .await
    .expect(201);

    app.patch("/api/v1/users/carol", &json!({"role": "viewer"}), None)
        .await
        .expect(200);
    as_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/clusters",
        &cluster("c2"),
    )
    .await
    .problem(403, "forbidden");
    assert!(browser.page("/").await.text.contains("carol (viewer)"));
    let refused = browser.post_form("/clusters", &[("name", "c3")]).await;
    assert_eq!(refused.status, 403);

    // Its token was lowered for good: made an admin again, the user's token stays a viewer's.
    let tokens = app.get("/api/v1/api-tokens").await.expect(200).clone();
    let carols = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["user"] == "carol")
        .expect("carol's token");
    assert_eq!(carols["role"], "viewer");
    app.patch("/api/v1/users/carol", &json!({"role": "admin"}), None)
        .await
        .expect(200);
    as_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/clusters",
        &cluster("c4"),
    )
    .await
    .problem(403, "forbidden");
    assert!(browser.page("/").await.text.contains("carol (admin)"));
}

#[tokio::test]
async fn ones_own_password_changes_with_the_current_one() {
    let app = TestApp::spawn().await;
    let session = app.session_of("dave", "viewer").await;
    let token = token_of(&app, "dave", "viewer").await;
    let path = "/api/v1/account/password";
    let change = |current: &str, new: &str| json!({"current_password": current, "password": new});

    let wrong = as_token(
        &app,
        &token,
        Method::PUT,
        path,
        &change("not my password", NEW_PASSWORD),
    )
    .await;
    assert_eq!(wrong.invalid_fields(), ["current_password"]);
    let current = lvs_testkit::server::ADMIN_PASSWORD;
    let short = as_token(&app, &token, Method::PUT, path, &change(current, "short")).await;
    assert_eq!(short.invalid_fields(), ["password"]);
    // The tests' admin token is a service account's: it has no password.
    app.put(path, &change(current, NEW_PASSWORD), None)
        .await
        .problem(409, "no_password");

    as_token(
        &app,
        &token,
        Method::PUT,
        path,
        &change(current, NEW_PASSWORD),
    )
    .await
    .expect(204);
    let mut browser = Browser::with_session(&app, Some(&session));
    assert_eq!(browser.get("/").await.status, 303, "its sessions ended");
    as_token(&app, &token, Method::GET, "/api/v1/clusters", &json!({}))
        .await
        .expect(200);
    assert_eq!(sign_in(&app, "dave", NEW_PASSWORD).await.status, 303);
    assert_eq!(sign_in(&app, "dave", current).await.status, 401);
    let log = audit(&app).await;
    assert!(
        log.iter()
            .any(|(a, actor)| a == "password_changed" && actor == "dave"),
        "{log:?}"
    );
}

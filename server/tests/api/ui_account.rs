//! `/account` and `/users` in a browser: one's own API tokens (shown once, listed, revoked)
//! and password; an admin adding, changing and removing users.

use serde_json::Value;

use crate::helpers::*;
use crate::ui_browser::*;

const NEW_PASSWORD: &str = "a new long password";

/// The secret a page shows once, with the page's promise not to show it again.
#[track_caller]
fn shown_once(resp: &Resp) -> String {
    assert_html(resp, 200);
    assert_eq!(resp.headers["cache-control"], "no-store");
    assert!(text(&resp.text).contains("will not be shown again"));
    attr(&tag_where(&resp.text, "input", "id", "secret"), "value").expect("the secret")
}

async fn api_status(app: &TestApp, token: &str) -> u16 {
    let request = app.anonymous().get(app.url("/api/v1/clusters"));
    read(request.bearer_auth(token).send().await.expect("an answer"))
        .await
        .status
}

async fn audit_actions(app: &TestApp, actor: &str) -> Vec<String> {
    let log = app.get(&format!("/api/v1/audit?actor={actor}")).await;
    log.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e: &Value| e["action"].as_str().expect("an action").to_owned())
        .collect()
}

#[tokio::test]
async fn own_tokens_are_shown_once_listed_and_revoked() {
    let app = TestApp::spawn().await;
    let session = app.session_of("erin", "operator").await;
    let mut browser = Browser::with_session(&app, Some(&session));
    let home = browser.page("/").await;
    assert_eq!(
        link_labelled(&home.text, "Account").as_deref(),
        Some("/account")
    );
    assert_eq!(link_labelled(&home.text, "Users"), None);

    let page = browser.page("/account").await;
    let shown = text(&page.text);
    assert!(
        shown.contains("erin") && shown.contains("operator"),
        "{shown}"
    );
    assert!(shown.contains("You have no API tokens."), "{shown}");
    let form = form_html(&page.text, "/account/tokens");
    assert!(form.contains("value=\"operator\"") && !form.contains("value=\"admin\""));

    let above = browser
        .submit_refused(
            &page.text,
            "/account/tokens",
            &[("name", "x"), ("role", "admin")],
        )
        .await;
    assert!(
        above.text.contains("cannot exceed your own role"),
        "{}",
        text(&above.text)
    );
    let when = browser
        .submit_refused(
            &page.text,
            "/account/tokens",
            &[("name", "x"), ("expires_at", "soon")],
        )
        .await;
    assert!(when.text.contains("aria-invalid"), "{}", text(&when.text));

    let typed = [
        ("name", "deploy"),
        ("role", "viewer"),
        ("expires_at", "30d"),
    ];
    let issued = browser.submit(&page.text, "/account/tokens", &typed).await;
    let token = shown_once(&issued);
    assert!(token.starts_with("lvst_"), "{token}");
    assert_eq!(api_status(&app, &token).await, 200);

    let page = browser.page("/account").await;
    let shown = text(&page.text);
    assert!(
        shown.contains("deploy") && shown.contains("viewer"),
        "{shown}"
    );
    let revoke = tags(&page.text, "form")
        .filter_map(|t| attr(t, "action"))
        .find(|a| a.ends_with("/revoke"))
        .expect("a revoke button");
    let done = browser.submit(&page.text, &revoke, &[]).await;
    assert_eq!(redirected(&done), "/account");
    let after = browser.follow(&done).await;
    assert!(flash(&after.text).unwrap().contains("revoked"));
    assert!(text(&after.text).contains("You have no API tokens."));
    assert_eq!(api_status(&app, &token).await, 401);
    let actions = audit_actions(&app, "erin").await;
    assert!(
        actions.contains(&"api_token_created".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"api_token_revoked".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn ones_own_password_changes_in_the_browser() {
    let app = TestApp::spawn().await;
    let session = app.session_of("fay", "viewer").await;
    let mut browser = Browser::with_session(&app, Some(&session));
    let page = browser.page("/account").await;
    let action = "/account/password";
    let current = lvs_testkit::server::ADMIN_PASSWORD;
    let typed = |current: &'static str, again: &'static str| {
        [
            ("current_password", current),
            ("password", NEW_PASSWORD),
            ("password_again", again),
        ]
    };
    let wrong = browser
        .submit_refused(&page.text, action, &typed("not my password", NEW_PASSWORD))
        .await;
    assert!(wrong.text.contains("is not your current password"));
    let mismatch = browser
        .submit_refused(
            &page.text,
            action,
            &typed(current, "something else entirely"),
        )
        .await;
    assert!(mismatch.text.contains("does not match the new password"));

    let changed = browser
        .submit(&page.text, action, &typed(current, NEW_PASSWORD))
        .await;
    assert!(redirected(&changed).starts_with("/login"));
    assert_eq!(browser.get("/").await.status, 303, "signed out");
    let mut again = Browser::anonymous(&app);
    let signed_in = again
        .post_form("/login", &[("username", "fay"), ("password", NEW_PASSWORD)])
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    assert!(audit_actions(&app, "fay")
        .await
        .contains(&"password_changed".to_owned()));
}

#[tokio::test]
async fn admins_add_change_and_remove_users_in_the_browser() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);
    let home = browser.page("/").await;
    assert_eq!(
        link_labelled(&home.text, "Users").as_deref(),
        Some("/users")
    );

    let page = browser.page("/users").await;
    let refused = browser
        .submit_refused(
            &page.text,
            "/users",
            &[("name", "gus"), ("role", "viewer"), ("clusters", "web")],
        )
        .await;
    assert!(refused.text.contains("only operators are granted clusters"));
    let typed = [("name", "gus"), ("role", "operator"), ("clusters", "web")];
    let added = browser.submit(&page.text, "/users", &typed).await;
    let password = shown_once(&added);
    let mut gus = Browser::anonymous(&app);
    let signed_in = gus
        .post_form("/login", &[("username", "gus"), ("password", &password)])
        .await;
    assert_eq!(signed_in.status, 303);
    assert!(gus.page("/").await.text.contains("gus (operator)"));

    let list = browser.page("/users").await;
    assert!(text(&list.text).contains("gus"));
    let user = browser.page("/users/gus").await;
    assert_eq!(field(&user.text, "/users/gus", "clusters"), "web");
    let bad = browser
        .submit_refused(&user.text, "/users/gus", &[("role", "viewer")])
        .await;
    assert!(bad.text.contains("aria-invalid"));
    let to = browser
        .submit(
            &user.text,
            "/users/gus",
            &[("role", "viewer"), ("clusters", "")],
        )
        .await;
    assert_eq!(redirected(&to), "/users/gus");
    assert!(gus.page("/").await.text.contains("gus (viewer)"), "at once");

    let user = browser.page("/users/gus").await;
    let typed = browser
        .submit(
            &user.text,
            "/users/gus/password",
            &[("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(redirected(&typed), "/users/gus");
    assert_eq!(gus.get("/").await.status, 303, "its sessions ended");
    let generated = browser.submit(&user.text, "/users/gus/password", &[]).await;
    assert_eq!(shown_once(&generated).len(), 24);

    let confirm = browser.page("/users/gus/delete").await;
    let removed = browser
        .submit(&confirm.text, "/users/gus/delete", &[])
        .await;
    assert_eq!(redirected(&removed), "/users");
    let after = browser.follow(&removed).await;
    assert!(flash(&after.text).unwrap().contains("removed"));
    assert!(!after.text.contains("href=\"/users/gus\""));

    // The last admin stays.
    let confirm = browser.page("/users/admin/delete").await;
    let kept = browser
        .submit(&confirm.text, "/users/admin/delete", &[])
        .await;
    let back = browser.follow(&kept).await;
    assert!(flash(&back.text).unwrap().contains("last admin"));

    // Viewers see no user.
    let viewer = app.session_of("hal", "viewer").await;
    let mut hal = Browser::with_session(&app, Some(&viewer));
    assert_eq!(hal.get("/users").await.status, 403);
    assert_eq!(hal.get("/users/admin").await.status, 403);
    let actions = audit_actions(&app, "admin").await;
    for action in [
        "user_added",
        "user_changed",
        "password_changed",
        "user_removed",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
}

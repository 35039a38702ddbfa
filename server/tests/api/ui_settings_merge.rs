//! The service settings form after a colleague changed the service: fields only I changed
//! are saved, theirs are kept, and a field of mine that would undo theirs is marked with
//! who and when, and saved only once I choose to keep theirs or use mine.

use serde_json::Value;

use crate::helpers::*;
use crate::ui_browser::*;

async fn stored(app: &TestApp, service: i64) -> Value {
    app.get(&service_path("web", service))
        .await
        .expect(200)
        .clone()
}

/// User `alice` saves the settings form of the service at `base` with `typed`; returns
/// the generation her change made.
async fn alice_saves(app: &TestApp, base: &str, typed: &[(&str, &str)]) -> u64 {
    let session = app.session_of("alice", "admin").await;
    let mut alice = Browser::with_session(app, Some(&session));
    let page = alice.page(base).await;
    let saved = alice.submit(&page.text, base, typed).await;
    assert_eq!(redirected(&saved), base);
    app.generation("web").await
}

#[tokio::test]
async fn ui_settings_a_colleagues_change_and_my_unrelated_field_merge() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let page = browser.page(&base).await;
    assert_eq!(
        field(&page.text, &base, "generation"),
        app.generation("web").await.to_string()
    );
    alice_saves(&app, &base, &[("description", "theirs")]).await;

    // My stale form still says the old description; I change only the scheduler.
    let saved = browser
        .submit(&page.text, &base, &[("scheduler", "rr")])
        .await;
    assert_eq!(redirected(&saved), base);
    let service = stored(&app, service).await;
    assert_eq!(service["scheduler"], "rr");
    assert_eq!(service["description"], "theirs", "their change is kept");
}

#[tokio::test]
async fn ui_settings_a_field_that_would_undo_theirs_is_saved_only_as_chosen() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let page = browser.page(&base).await;
    let theirs = alice_saves(&app, &base, &[("scheduler", "sh"), ("name", "shop")]).await;

    // Mine sets the scheduler to rr (over their sh) and the description.
    let typed = [("scheduler", "rr"), ("description", "mine")];
    let marked = browser.submit(&page.text, &base, &typed).await;
    assert_html(&marked, 409);
    assert_eq!(app.generation("web").await, theirs, "nothing saved");
    let form = form_html(&marked.text, &base);
    let note = element_text(form, "div", "id", "merge-note");
    assert!(
        note.starts_with("alice changed these settings at ")
            && note.contains(&format!("(generation {theirs})")),
        "{note}"
    );
    assert!(links(form).contains(&format!("/clusters/web/changes/{theirs}")));
    let choice = element_text(form, "fieldset", "id", "choose-scheduler");
    assert!(
        choice.contains("Keep theirs: sh") && choice.contains("Use mine: rr"),
        "{choice}"
    );
    assert!(
        !form.contains("id=\"choose-name\"") && !form.contains("id=\"choose-description\""),
        "only one side changed those"
    );
    assert!(form.contains("id=\"e-scheduler\""), "the field is marked");
    assert_eq!(
        field(&marked.text, &base, "scheduler"),
        "rr",
        "my input kept"
    );

    // Saving again without choosing still saves nothing.
    let again = browser.submit(&marked.text, &base, &[]).await;
    assert_html(&again, 409);
    assert_eq!(app.generation("web").await, theirs);

    // Keeping theirs saves my description beside their scheduler and name.
    let saved = browser
        .submit(&marked.text, &base, &[("choose_scheduler", "theirs")])
        .await;
    assert_eq!(redirected(&saved), base);
    let now = stored(&app, service).await;
    assert_eq!(
        (&now["scheduler"], &now["name"], &now["description"]),
        (&"sh".into(), &"shop".into(), &"mine".into())
    );
}

#[tokio::test]
async fn ui_settings_choosing_mine_applies_mine() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let page = browser.page(&base).await;
    alice_saves(&app, &base, &[("scheduler", "sh")]).await;
    let marked = browser
        .submit(&page.text, &base, &[("scheduler", "rr")])
        .await;
    assert_html(&marked, 409);
    let saved = browser
        .submit(&marked.text, &base, &[("choose_scheduler", "mine")])
        .await;
    assert_eq!(redirected(&saved), base);
    assert_eq!(stored(&app, service).await["scheduler"], "rr");
}

#[tokio::test]
async fn ui_settings_from_a_generation_that_cannot_be_rebuilt_mark_every_difference() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let page = browser.page(&base).await;
    alice_saves(&app, &base, &[("scheduler", "sh")]).await;
    // A form from before the service existed: what changed since cannot be told.
    let typed = [("generation", "0"), ("name", "mine")];
    let marked = browser.submit(&page.text, &base, &typed).await;
    assert_html(&marked, 409);
    let note = element_text(&marked.text, "div", "id", "merge-note");
    assert!(
        note.contains("what changed since cannot be told from your edits"),
        "{note}"
    );
    let form = form_html(&marked.text, &base);
    assert!(form.contains("id=\"choose-scheduler\"") && form.contains("id=\"choose-name\""));
    assert_eq!(stored(&app, service).await["name"], "", "nothing saved");
}

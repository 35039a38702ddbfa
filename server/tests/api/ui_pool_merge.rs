//! The bulk pool editor after a colleague changed the pool: the text is merged with their
//! change, and a line of it that would undo theirs is marked, naming who and when, and
//! applied only when ticked.

use serde_json::Value;

use crate::helpers::*;
use crate::ui_browser::*;
use crate::ui_pool::plan_lines;

/// The pool by the API: `(key, weight, state)`, in key order.
async fn pool(app: &TestApp, service: i64) -> Vec<(String, i64, String)> {
    let list = app
        .get(&real_servers("web", service))
        .await
        .expect(200)
        .clone();
    let mut pool: Vec<(String, i64, String)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|rs: &Value| {
            (
                rs["key"].as_str().expect("key").to_owned(),
                rs["weight"].as_i64().expect("weight"),
                rs["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect();
    pool.sort();
    pool
}

fn entry(key: &str, weight: i64, state: &str) -> (String, i64, String) {
    (key.to_owned(), weight, state.to_owned())
}

/// User `alice` (an operator) replaces the pool with `text` in her own browser; returns
/// the generation her change made.
async fn alice_applies(app: &TestApp, base: &str, text: &str) -> u64 {
    let session = app.session_of("alice", "admin").await;
    let mut alice = Browser::with_session(app, Some(&session));
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let editor = alice.page(&pool_path).await;
    let plan = alice
        .submit(&editor.text, &pool_path, &[("pool", text)])
        .await;
    assert_html(&plan, 200);
    let applied = alice.submit(&plan.text, &apply_path, &[]).await;
    assert_eq!(redirected(&applied), base);
    app.generation("web").await
}

/// The marked lines' texts, in order.
fn marked(html: &str) -> Vec<String> {
    if !html.contains("id=\"marked-lines\"") {
        return Vec::new();
    }
    let set = element_text(html, "fieldset", "id", "marked-lines");
    let mut lines = Vec::new();
    let mut rest = &html[html.find("id=\"marked-lines\"").unwrap_or(0)..];
    let end = rest.find("</fieldset>").unwrap_or(rest.len());
    rest = &rest[..end];
    while let Some(start) = rest.find("<li class=\"marked-line\">") {
        let from = &rest[start..];
        let close = from.find("</li>").expect("a closed item");
        lines.push(text(&from[..close]));
        rest = &from[close..];
    }
    assert!(!lines.is_empty(), "{set}");
    lines
}

/// The apply form's fields with the marked lines of `keys` ticked.
fn ticking(html: &str, apply_path: &str, keys: &[&str]) -> Vec<(String, String)> {
    let mut pairs = form_fields(html, apply_path);
    pairs.extend(
        keys.iter()
            .map(|k| ("use_mine".to_owned(), (*k).to_owned())),
    );
    pairs
}

#[tokio::test]
async fn ui_pool_a_colleagues_change_and_my_unrelated_edit_merge_without_marks() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let editor = browser.page(&pool_path).await;
    let loaded_at = app.generation("web").await;
    assert_eq!(
        field(&editor.text, &pool_path, "generation"),
        loaded_at.to_string()
    );

    // Alice reweights 10.1.0.2 while my editor is open.
    alice_applies(
        &app,
        &base,
        "10.1.0.1:80 weight=1 forwarding=masq\n10.1.0.2:80 weight=7 forwarding=masq\n",
    )
    .await;

    // My edit, from the text as I loaded it: 10.1.0.1 reweighted, 10.1.0.3 added.
    let mine = "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq\n10.1.0.3:80 weight=2 forwarding=masq\n";
    let plan = browser
        .submit(&editor.text, &pool_path, &[("pool", mine)])
        .await;
    assert_html(&plan, 200);
    let note = element_text(&plan.text, "div", "id", "merge-note");
    assert!(
        note.contains("Someone changed this pool after you loaded it")
            && note.contains("none of your lines undoes theirs"),
        "{note}"
    );
    assert_eq!(marked(&plan.text), Vec::<String>::new());
    let lines = plan_lines(&plan.text);
    assert_eq!(lines.len(), 2, "their weight is not undone: {lines:?}");
    assert!(lines.iter().all(|l| !l.contains("10.1.0.2")), "{lines:?}");

    let applied = browser.submit(&plan.text, &apply_path, &[]).await;
    assert_eq!(redirected(&applied), base);
    assert_eq!(
        pool(&app, service).await,
        [
            entry("10.1.0.1:80", 5, "active"),
            entry("10.1.0.2:80", 7, "active"),
            entry("10.1.0.3:80", 2, "active"),
        ]
    );
}

#[tokio::test]
async fn ui_pool_my_stale_lines_that_would_undo_theirs_are_marked_and_kept_unless_ticked() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let editor = browser.page(&pool_path).await;
    // My plan: 10.1.0.1 reweighted to 5, 10.1.0.2 removed, 10.1.0.3 added.
    let mine = "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.3:80 weight=2 forwarding=masq\n";
    let plan = browser
        .submit(&editor.text, &pool_path, &[("pool", mine)])
        .await;
    assert_html(&plan, 200);
    assert!(!plan.text.contains("merge-note"), "nobody changed it yet");

    // Meanwhile alice reweights 10.1.0.1 to 9 and drains 10.1.0.2.
    let theirs = alice_applies(
        &app,
        &base,
        "10.1.0.1:80 weight=9 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq state=drained\n",
    )
    .await;

    let conflict = browser.submit(&plan.text, &apply_path, &[]).await;
    assert_html(&conflict, 409);
    assert_eq!(pool(&app, service).await.len(), 2, "nothing applied");
    let marks = marked(&conflict.text);
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(
        marks[0].starts_with("alice changed 10.1.0.1:80 at ")
            && marks[0].contains(&format!("(generation {theirs}): weight 1 → 9."))
            && marks[0].ends_with("Use mine instead: weight 9 → 5"),
        "{marks:?}"
    );
    assert!(
        marks[1].contains("alice changed 10.1.0.2:80")
            && marks[1].contains(": state active → drained.")
            && marks[1].ends_with("Use mine instead: remove it"),
        "{marks:?}"
    );
    let change = format!("/clusters/web/changes/{theirs}");
    assert!(
        links(&conflict.text).contains(&change),
        "who links to the change"
    );
    // The plan keeps theirs; only my unmarked line (the new server) is in it.
    let lines = plan_lines(&conflict.text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("+ added: real server 10.1.0.3:80"));
    assert_eq!(field(&conflict.text, &apply_path, "pool"), mine.trim());

    // Applying without ticking keeps both of alice's changes.
    let applied = browser.submit(&conflict.text, &apply_path, &[]).await;
    assert_eq!(redirected(&applied), base);
    assert_eq!(
        pool(&app, service).await,
        [
            entry("10.1.0.1:80", 9, "active"),
            entry("10.1.0.2:80", 1, "drained"),
            entry("10.1.0.3:80", 2, "active"),
        ]
    );
}

#[tokio::test]
async fn ui_pool_ticking_a_marked_line_applies_mine_and_only_that_one() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let editor = browser.page(&pool_path).await;

    // Alice reweights 10.1.0.1 and removes 10.1.0.2 while my editor is open.
    alice_applies(&app, &base, "10.1.0.1:80 weight=9 forwarding=masq\n").await;

    // My stale text reweights both: the plan step already merges and marks them.
    let mine = "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.2:80 weight=3 forwarding=masq\n";
    let plan = browser
        .submit(&editor.text, &pool_path, &[("pool", mine)])
        .await;
    assert_html(&plan, 200);
    let marks = marked(&plan.text);
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert!(
        marks[1].contains("alice changed 10.1.0.2:80")
            && marks[1].contains(": removed it.")
            && marks[1].contains("Use mine instead: add it back as 10.1.0.2:80 weight=3"),
        "{marks:?}"
    );
    assert!(text(&plan.text).contains("The pool already matches, unless you tick a marked line."));

    // Ticking the removed server's line applies it; the other keeps alice's weight.
    let pairs = ticking(&plan.text, &apply_path, &["10.1.0.2:80"]);
    let applied = browser.post_pairs(&apply_path, &pairs).await;
    assert_eq!(redirected(&applied), base);
    assert_eq!(
        pool(&app, service).await,
        [
            entry("10.1.0.1:80", 9, "active"),
            entry("10.1.0.2:80", 3, "active"),
        ]
    );
}

#[tokio::test]
async fn ui_pool_a_tick_made_against_an_older_pool_is_not_applied() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let editor = browser.page(&pool_path).await;
    alice_applies(
        &app,
        &base,
        "10.1.0.1:80 weight=9 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq\n",
    )
    .await;
    let mine = "10.1.0.1:80 weight=5 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq\n";
    let plan = browser
        .submit(&editor.text, &pool_path, &[("pool", mine)])
        .await;
    assert_eq!(marked(&plan.text).len(), 1);

    // Alice changes the same line again before I apply my tick: I am asked again.
    alice_applies(
        &app,
        &base,
        "10.1.0.1:80 weight=11 forwarding=masq\n10.1.0.2:80 weight=1 forwarding=masq\n",
    )
    .await;
    let pairs = ticking(&plan.text, &apply_path, &["10.1.0.1:80"]);
    let again = browser.post_pairs(&apply_path, &pairs).await;
    assert_html(&again, 409);
    let marks = marked(&again.text);
    assert!(marks[0].contains("weight 1 → 11"), "{marks:?}");
    assert!(
        !form_fields(&again.text, &apply_path)
            .iter()
            .any(|(name, _)| name == "use_mine"),
        "the new plan's line is not ticked"
    );
    assert_eq!(
        pool(&app, service).await[0],
        entry("10.1.0.1:80", 11, "active")
    );
}

//! The bulk pool editor: a plan shows the diff and changes nothing; applying it applies
//! exactly that, and only if nobody changed the pool in between.

use serde_json::Value;

use crate::helpers::*;
use crate::ui_browser::*;
use crate::ui_pages::row_heads;

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

/// The plan's diff lines, as read.
pub fn plan_lines(html: &str) -> Vec<String> {
    let Some(at) = html.find("<ul class=\"diff\">") else {
        return Vec::new();
    };
    let list = &html[at..];
    let end = list.find("</ul>").expect("a closed list");
    let mut lines = Vec::new();
    let mut rest = &list[..end];
    while let Some(start) = rest.find("<li") {
        let from = &rest[start..];
        let close = from.find("</li>").expect("a closed item");
        lines.push(text(&from[..close]));
        rest = &from[close..];
    }
    lines
}

/// 10.1.0.1 weight 1 -> 5, 10.1.0.2 removed, 10.1.0.3 added.
const EDIT: &str = "# the new pool\n10.1.0.1:80 weight=5 forwarding=masq\n\n10.1.0.3 weight=2 forwarding=masq description=\"rack c\"\n";

/// The pool after applying [`EDIT`] to the one [`cluster_with_service`] makes.
fn applied_edit() -> [(String, i64, String); 2] {
    [
        entry("10.1.0.1:80", 5, "active"),
        entry("10.1.0.3:80", 2, "active"),
    ]
}

/// Submits `text` from the pool `editor` for a plan, which must be shown (200).
async fn submit_plan(browser: &mut Browser, editor: &Resp, pool_path: &str, text: &str) -> Resp {
    let plan = browser
        .submit(&editor.text, pool_path, &[("pool", text)])
        .await;
    assert_html(&plan, 200);
    plan
}

/// Submits `text` from the pool `editor`, which must be refused; the page and the errors it
/// lists.
async fn submit_bad_pool(
    browser: &mut Browser,
    editor: &Resp,
    pool_path: &str,
    text: &str,
) -> (Resp, String) {
    let refused = browser
        .submit_refused(&editor.text, pool_path, &[("pool", text)])
        .await;
    let shown = element_text(&refused.text, "div", "id", "pool-errors");
    (refused, shown)
}

#[tokio::test]
async fn ui_pool_plan_shows_the_diff_and_changes_nothing_then_apply_applies_it() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let before = pool(&app, service).await;
    let generation = app.generation("web").await;

    let editor = browser.page(&pool_path).await;
    let plan = submit_plan(&mut browser, &editor, &pool_path, EDIT).await;
    let shown = text(&plan.text);
    assert!(
        shown.contains("Plan: 1 real server added, 1 real server removed, 1 real server changed"),
        "{shown}"
    );
    let lines = plan_lines(&plan.text);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.contains(
            &"~ changed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 1 → 5".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"− removed: real server 10.1.0.2:80 of tcp:10.0.0.1:80: forwarding masq; \
              state active; weight 1"
                .to_owned()
        ),
        "{lines:?}"
    );
    let added = lines
        .iter()
        .find(|l| l.starts_with("+ added: real server 10.1.0.3:80 of tcp:10.0.0.1:80: "))
        .unwrap_or_else(|| panic!("an added line: {lines:?}"));
    assert!(
        added.contains("weight 2") && added.contains("description rack c"),
        "{added}"
    );
    // The editor keeps the text; the plan carries it with the pool's ETag.
    assert_eq!(field(&plan.text, &pool_path, "pool"), EDIT.trim());
    assert_eq!(field(&plan.text, &apply_path, "pool"), EDIT.trim());
    assert!(field(&plan.text, &apply_path, "pool_etag").starts_with('"'));
    // Nothing changed.
    assert_eq!(pool(&app, service).await, before);
    assert_eq!(app.generation("web").await, generation);

    let applied = browser.submit(&plan.text, &apply_path, &[]).await;
    assert_eq!(redirected(&applied), base);
    assert_eq!(pool(&app, service).await, applied_edit());
    assert_eq!(app.generation("web").await, generation + 1, "one change");
    let page = browser.follow(&applied).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some(
            "Generation 2: pool of tcp:10.0.0.1:80 updated: 1 real server added, 1 real server \
             removed, 1 real server changed."
        )
    );

    // The change page shows the same diff, made in the web UI.
    let changes = browser.page("/clusters/web/changes").await;
    assert_eq!(row_heads(&changes.text)[0], (generation + 1).to_string());
    assert!(text(&changes.text)
        .contains("web UI 1 real server added, 1 real server removed, 1 real server changed"));
    let detail = browser
        .page(&format!("/clusters/web/changes/{}", generation + 1))
        .await;
    let mut recorded = plan_lines(&detail.text);
    let mut planned = lines.clone();
    recorded.sort();
    planned.sort();
    assert_eq!(recorded, planned, "the change is the plan");

    // Planning the pool as it is: nothing to apply.
    let editor = browser.page(&pool_path).await;
    let text_now = field(&editor.text, &pool_path, "pool");
    let plan = submit_plan(&mut browser, &editor, &pool_path, &text_now).await;
    assert!(text(&plan.text).contains("The pool already matches: nothing to apply."));
    assert!(!has_form(&plan.text, &apply_path));
}

#[tokio::test]
async fn ui_pool_bad_lines_are_reported_by_number_and_change_nothing() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let before = pool(&app, service).await;
    let editor = browser.page(&pool_path).await;

    // Lines that do not read.
    let bad = "10.1.0.1:80 weight=x\nweb1 weight=1\n10.1.0.2:80 wieght=1\n";
    let (refused, shown) = submit_bad_pool(&mut browser, &editor, &pool_path, bad).await;
    assert!(
        shown.starts_with("Nothing was changed. Fix these lines:"),
        "{shown}"
    );
    assert!(
        shown.contains("Line 1: weight must be a whole number, not \"x\""),
        "{shown}"
    );
    assert!(
        shown.contains(
            "Line 2: \"web1\" is not an address such as 10.1.0.1, 10.1.0.1:80 or [2001:db8::1]:80"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("Line 3: unknown field \"wieght\""),
        "{shown}"
    );
    assert_eq!(
        field(&refused.text, &pool_path, "pool"),
        bad.trim(),
        "the text is kept"
    );
    let textarea = tag_where(&refused.text, "textarea", "id", "f-pool");
    assert_eq!(attr(&textarea, "aria-invalid").as_deref(), Some("true"));
    assert!(!has_form(&refused.text, &apply_path), "no plan to apply");

    // Lines that read but that the model refuses, by line and address.
    let bad = "10.1.0.1:80 weight=1 forwarding=masq\n# a comment\n10.1.0.3:80 weight=70000 forwarding=masq\n";
    let (_, shown) = submit_bad_pool(&mut browser, &editor, &pool_path, bad).await;
    assert!(
        shown.contains("Line 3 (10.1.0.3): weight: must be between 0 and 65535, not 70000"),
        "{shown}"
    );

    let duplicate = "10.1.0.1:80 weight=1 forwarding=masq\n10.1.0.1:80 weight=2 forwarding=masq\n";
    let (_, shown) = submit_bad_pool(&mut browser, &editor, &pool_path, duplicate).await;
    assert!(
        shown.contains("Line 2 (10.1.0.1): duplicate real server 10.1.0.1:80"),
        "{shown}"
    );

    // Applying bad text (a hand-made POST) is refused the same way.
    let refused = browser
        .post_form(&apply_path, &[("pool", "web1"), ("pool_etag", "\"x\"")])
        .await;
    assert_html(&refused, 422);
    assert!(text(&refused.text).contains("Line 1: \"web1\" is not an address"));
    assert_eq!(pool(&app, service).await, before);
    assert_eq!(app.generation("web").await, 1);
}

#[tokio::test]
async fn ui_pool_apply_after_someone_else_changed_it_plans_again() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));

    let editor = browser.page(&pool_path).await;
    let plan = submit_plan(&mut browser, &editor, &pool_path, EDIT).await;
    let planned_etag = field(&plan.text, &apply_path, "pool_etag");

    // Someone else adds 10.1.0.4, which the plan does not touch (lines of mine that
    // would undo their changes are `ui_pool_merge`'s).
    app.create_real_server("web", service, &masq_server(4, 80))
        .await;
    let theirs = pool(&app, service).await;
    let generation = app.generation("web").await;

    let conflict = browser.submit(&plan.text, &apply_path, &[]).await;
    assert_html(&conflict, 409);
    let shown = text(&conflict.text);
    assert!(
        shown.contains(
            "Someone changed this pool after your plan was made, so nothing was applied."
        ),
        "{shown}"
    );
    assert_eq!(pool(&app, service).await, theirs, "nothing applied");
    assert_eq!(app.generation("web").await, generation);
    // The new plan is against the pool as it is now.
    let lines = plan_lines(&conflict.text);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.contains(
            &"~ changed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 1 → 5".to_owned()
        ),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("10.1.0.4")),
        "their server stays: {lines:?}"
    );
    let new_etag = field(&conflict.text, &apply_path, "pool_etag");
    assert_ne!(new_etag, planned_etag);
    assert_eq!(field(&conflict.text, &apply_path, "pool"), EDIT.trim());

    // Confirming the new plan applies it, beside their server.
    let applied = browser.submit(&conflict.text, &apply_path, &[]).await;
    assert_eq!(redirected(&applied), base);
    let mut wanted = applied_edit().to_vec();
    wanted.push(entry("10.1.0.4:80", 1, "active"));
    assert_eq!(pool(&app, service).await, wanted);
}

/// Pools of more real servers than one multi-row statement takes (500): every row kept.
#[tokio::test]
async fn ui_pool_of_a_thousand_real_servers_is_applied_exactly() {
    let (app, mut browser, _, base) = service_in_browser().await;
    let (pool_path, apply_path) = (format!("{base}/pool"), format!("{base}/pool/apply"));
    let address = |n: usize| format!("10.1.{}.{}", n / 250, n % 250 + 1);
    // Grows, changes every weight, shrinks, grows again.
    for (count, weight) in [(1200, 1), (1200, 2), (300, 3), (800, 4)] {
        let wanted: Vec<(String, i64, String)> = (0..count)
            .map(|n| (address(n), weight + (n % 7) as i64, format!("n{n}")))
            .collect();
        let text: String = wanted
            .iter()
            .map(|(a, w, d)| format!("{a}:80 weight={w} forwarding=masq description=\"{d}\"\n"))
            .collect();
        let editor = browser.page(&pool_path).await;
        let plan = submit_plan(&mut browser, &editor, &pool_path, &text).await;
        let applied = browser.submit(&plan.text, &apply_path, &[]).await;
        assert_eq!(redirected(&applied), base);

        let (state, _) = app.desired_state("web").await;
        let mut got: Vec<(String, i64, String)> = state["services"][0]["real_servers"]
            .as_array()
            .expect("real servers")
            .iter()
            .map(|rs| {
                (
                    rs["address"].as_str().expect("address").to_owned(),
                    rs["weight"].as_i64().expect("weight"),
                    rs["description"].as_str().expect("description").to_owned(),
                )
            })
            .collect();
        let mut wanted = wanted;
        got.sort();
        wanted.sort();
        assert!(got == wanted, "the pool of {count} after applying differs");
    }
}

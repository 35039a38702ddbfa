//! "Revert to this" on the Changes pages: the plan first (a dry run, changing nothing),
//! then the confirmation, applied only if the cluster is still at the plan's generation.

use serde_json::json;

use crate::helpers::*;
use crate::revert::{at_generation, web_at_generation_3};
use crate::ui_browser::*;
use crate::ui_pool::plan_lines;

fn plan_path(to: &str) -> String {
    format!("/clusters/web/changes/{to}/revert")
}

/// The desired state of `web` by the API, as `(document, generation)`.
async fn state_and_generation(app: &TestApp) -> (serde_json::Value, u64) {
    let (document, _) = app.desired_state("web").await;
    let generation = app.generation("web").await;
    (document, generation)
}

#[tokio::test]
async fn ui_revert_shows_the_plan_then_applies_it_as_a_new_generation() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;
    let mut browser = Browser::new(&app);

    // Every generation but the current one offers the revert, in the list and on its page.
    let list = browser.page("/clusters/web/changes").await;
    assert_eq!(
        link_labelled(&list.text, "Revert to this (generation 1)").as_deref(),
        Some(plan_path("1").as_str())
    );
    assert!(link_labelled(&list.text, "Revert to this (generation 2)").is_some());
    assert!(
        !links(&list.text).contains(&plan_path("3")),
        "no revert to the current generation"
    );
    let older = browser.page("/clusters/web/changes/1").await;
    assert_eq!(
        link_labelled(&older.text, "Revert to this (generation 1)").as_deref(),
        Some(plan_path("1").as_str())
    );
    let current = browser.page("/clusters/web/changes/3").await;
    assert!(!links(&current.text).contains(&plan_path("3")));
    assert!(text(&current.text).contains("This is the cluster's current generation."));

    // The plan: what changes, and from which generation to which; nothing written.
    let plan = browser.page(&plan_path("1")).await;
    let shown = text(&plan.text);
    assert!(shown.contains("Revert to generation 1"), "{shown}");
    assert!(
        shown.contains("Plan: 1 real server removed, 1 real server changed"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "Cluster web goes from generation 3 to generation 4, with the desired state of \
             generation 1"
        ),
        "{shown}"
    );
    let mut lines = plan_lines(&plan.text);
    lines.sort();
    assert_eq!(
        lines,
        [
            "~ changed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 7 → 1",
            "− removed: real server 10.1.0.3:80 of tcp:10.0.0.1:80: forwarding masq; state \
             active; weight 1",
        ]
    );
    let action = plan_path("1");
    assert_eq!(field(&plan.text, &action, "from_generation"), "3");
    let form = form_html(&plan.text, &action);
    let button = tag_where(form, "button", "type", "submit");
    assert_eq!(
        attr(&button, "class").as_deref(),
        Some("danger"),
        "{button}"
    );
    assert!(text(form).contains("Revert to generation 1"), "{form}");
    assert_eq!(state_and_generation(&app).await, (documents[2].clone(), 3));

    // Confirmed: generation 4 holds generation 1's state, made in the web UI.
    let applied = browser.submit(&plan.text, &action, &[]).await;
    assert_eq!(redirected(&applied), "/clusters/web/changes/4");
    let page = browser.follow(&applied).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 4: reverted to generation 1's desired state.")
    );
    let shown = text(&page.text);
    assert!(shown.contains("Generation 4"), "{shown}");
    assert!(shown.contains("through the web UI"), "{shown}");
    let mut recorded = plan_lines(&page.text);
    recorded.sort();
    assert_eq!(recorded, lines, "the change is the plan");
    assert_eq!(
        state_and_generation(&app).await,
        (at_generation(documents[0].clone(), 4), 4)
    );

    // The same confirmation again is stale now: nothing is reverted twice.
    let again = browser.submit(&plan.text, &action, &[]).await;
    assert_html(&again, 409);
    assert_eq!(app.generation("web").await, 4);
}

#[tokio::test]
async fn ui_revert_after_someone_else_changed_the_cluster_shows_the_new_plan() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;
    let mut browser = Browser::new(&app);
    let action = plan_path("2");
    let plan = browser.page(&action).await;
    assert_eq!(field(&plan.text, &action, "from_generation"), "3");

    // Someone else sets 10.1.0.2's weight: generation 4.
    let service = id(&app.get(&services("web")).await.expect(200)["items"][0]);
    let servers = app.get(&real_servers("web", service)).await;
    let second = id(&servers.expect(200)["items"][1]);
    app.patch_ok(
        &real_server_path("web", service, second),
        &json!({"weight": 4}),
    )
    .await;
    let theirs = app.desired_state("web").await.0;

    let conflict = browser.submit(&plan.text, &action, &[]).await;
    assert_html(&conflict, 409);
    let shown = text(&conflict.text);
    assert!(
        shown.contains(
            "Someone else changed the cluster after your plan was made, so nothing was \
             reverted."
        ),
        "{shown}"
    );
    assert_eq!(
        state_and_generation(&app).await,
        (theirs, 4),
        "nothing reverted"
    );
    // The new plan is against generation 4, and undoes their change too.
    assert!(
        shown.contains("goes from generation 4 to generation 5"),
        "{shown}"
    );
    let mut lines = plan_lines(&conflict.text);
    lines.sort();
    assert_eq!(
        lines,
        [
            "~ changed: real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 7 → 1",
            "~ changed: real server 10.1.0.2:80 of tcp:10.0.0.1:80: weight 4 → 1",
        ]
    );
    assert_eq!(field(&conflict.text, &action, "from_generation"), "4");

    // Confirming the new plan applies it.
    let applied = browser.submit(&conflict.text, &action, &[]).await;
    assert_eq!(redirected(&applied), "/clusters/web/changes/5");
    assert_eq!(
        state_and_generation(&app).await,
        (at_generation(documents[1].clone(), 5), 5)
    );
}

#[tokio::test]
async fn ui_revert_to_the_state_the_cluster_has_offers_nothing_to_confirm() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let servers = app.get(&real_servers("web", service)).await;
    let first = real_server_path("web", service, id(&servers.expect(200)["items"][0]));
    // A weight set and set back: generation 3's state is generation 1's.
    for weight in [5, 1] {
        app.patch_ok(&first, &json!({"weight": weight})).await;
    }
    let before = state_and_generation(&app).await;
    assert_eq!(before.1, 3);
    let mut browser = Browser::new(&app);

    let action = plan_path("1");
    let plan = browser.page(&action).await;
    let shown = text(&plan.text);
    assert!(shown.contains("Plan: no change"), "{shown}");
    assert!(
        shown.contains(
            "The desired state of web already equals that of generation 1: nothing to revert."
        ),
        "{shown}"
    );
    assert!(
        !has_form(&plan.text, &action),
        "no button for an empty plan"
    );

    // A hand-made confirmation writes nothing either.
    let resp = browser
        .post_form(&action, &[("from_generation", "3")])
        .await;
    assert_eq!(redirected(&resp), "/clusters/web/changes");
    let page = browser.follow(&resp).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Nothing to revert: the desired state already equals generation 1's.")
    );
    assert_eq!(state_and_generation(&app).await, before);
}

#[tokio::test]
async fn ui_revert_to_a_generation_it_cannot_reach_is_a_page_saying_why() {
    let app = TestApp::spawn().await;
    let documents = web_at_generation_3(&app).await;
    let mut browser = Browser::new(&app);

    for (to, reason) in [
        (
            "0",
            "to: generation 0 is the cluster before any desired state was set",
        ),
        (
            "4",
            "to: generation 4 does not exist: cluster web is at generation 3.",
        ),
        ("3", "to: cluster web is at generation 3 already."),
    ] {
        let resp = browser.get(&plan_path(to)).await;
        assert_html(&resp, 422);
        let shown = text(&resp.text);
        assert!(
            shown.contains(&format!("Revert to generation {to}")),
            "{shown}"
        );
        let refusal = element_text(&resp.text, "div", "id", "revert-refusal");
        assert!(
            refusal.starts_with(&format!(
                "Cluster web cannot be reverted to generation {to}: {reason}"
            )),
            "{to}: {refusal}"
        );
        assert!(!has_form(&resp.text, &plan_path(to)), "{to}: no button");
        assert_eq!(
            link_labelled(&resp.text, "Back to the changes").as_deref(),
            Some("/clusters/web/changes")
        );
        // Confirming by hand is refused the same way, and writes nothing.
        let posted = browser
            .post_form(&plan_path(to), &[("from_generation", "3")])
            .await;
        assert_html(&posted, 422);
        assert!(text(&posted.text).contains(reason), "{to}");
    }

    // Not a generation at all: the field named.
    let resp = browser.get(&plan_path("latest")).await;
    assert_html(&resp, 400);
    assert!(
        text(&resp.text)
            .contains("to: the generation to revert to must be a whole number, not \"latest\"."),
        "{}",
        text(&resp.text)
    );
    // The confirmation without, or with a bad, generation the plan was made against: the
    // field named, nothing written, the plan against the cluster now shown again.
    for (fields, reason) in [
        (
            &[][..],
            "from_generation: missing: the form carries the generation its plan was made against.",
        ),
        (
            &[("from_generation", "three")][..],
            "from_generation: must be a whole number, not \"three\".",
        ),
    ] {
        let resp = browser.post_form(&plan_path("1"), fields).await;
        assert_html(&resp, 422);
        let shown = text(&resp.text);
        assert!(
            shown.contains(&format!("Nothing was reverted: {reason}")),
            "{shown}"
        );
        assert_eq!(field(&resp.text, &plan_path("1"), "from_generation"), "3");
    }
    let resp = browser
        .post_form(
            "/clusters/web/changes/-1/revert",
            &[("from_generation", "3")],
        )
        .await;
    assert_html(&resp, 400);
    assert!(text(&resp.text).contains("to: the generation to revert to must be a whole number"));

    // Generations committed before the server kept what revert needs (as the migration
    // marks an existing cluster's): the reason, not a server error.
    sql_execute(
        &app,
        "UPDATE clusters SET revertable_from = 2 WHERE name = 'web'",
    )
    .await;
    let resp = browser.get(&plan_path("1")).await;
    assert_html(&resp, 409);
    let refusal = element_text(&resp.text, "div", "id", "revert-refusal");
    assert!(
        refusal.contains("the oldest generation it can revert to is 2."),
        "{refusal}"
    );
    assert_eq!(
        state_and_generation(&app).await,
        (documents[2].clone(), 3),
        "nothing was written"
    );

    let missing = browser.get("/clusters/nowhere/changes/1/revert").await;
    assert_html(&missing, 404);
}

#[tokio::test]
async fn ui_revert_beyond_retention_is_a_page_saying_why() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    // 1,002 generations: revert reaches back to generation 2.
    for i in 0..1002 {
        app.patch_ok(&cluster_path("web"), &json!({"timeouts": {"tcp": 100 + i}}))
            .await;
    }
    let mut browser = Browser::new(&app);
    let resp = browser.get(&plan_path("1")).await;
    assert_html(&resp, 409);
    let refusal = element_text(&resp.text, "div", "id", "revert-refusal");
    assert!(
        refusal.contains("to: generation 1 is beyond retention"),
        "{refusal}"
    );
    assert!(!has_form(&resp.text, &plan_path("1")));
    let reachable = browser.page(&plan_path("2")).await;
    assert!(has_form(&reachable.text, &plan_path("2")));
}

#[tokio::test]
async fn ui_revert_without_the_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    web_at_generation_3(&app).await;
    let mut browser = Browser::new(&app);
    let plan = browser.page(&plan_path("1")).await;
    let pairs: Vec<(String, String)> = form_fields(&plan.text, &plan_path("1"))
        .into_iter()
        .filter(|(name, _)| name != "_csrf")
        .collect();
    assert_eq!(pairs, [("from_generation".to_owned(), "3".to_owned())]);
    let resp = browser.post_pairs(&plan_path("1"), &pairs).await;
    assert_html(&resp, 403);
    assert!(text(&resp.text).contains("security token is missing or stale"));
    assert_eq!(app.generation("web").await, 3);
}

//! Did my change reach the kernels? The confirmation after an edit names its generation and
//! loads which directors applied it, refreshed until none is left; the change's page lists
//! every director; a director's page says what it has not applied and since when.

use crate::helpers::*;
use crate::ui_browser::*;
use crate::ui_pages::pool_ids;

#[tokio::test]
async fn ui_an_edit_names_its_generation_and_follows_its_rollout() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let lb1 = app.create_agent("web", "lb1").await;
    let lb2 = app.create_agent("web", "lb2").await;
    app.agent_report(&lb1, &apply_report(1, &[])).await;
    app.agent_report(&lb2, &apply_report(1, &[])).await;
    let rs = pool_ids(&app, "web", service).await[0].1;

    let page = browser.page(&base).await;
    let drained = browser
        .submit(&page.text, &format!("{base}/real-servers/{rs}/drain"), &[])
        .await;
    let page = browser.follow(&drained).await;
    let flash = flash(&page.text).unwrap_or_default();
    assert!(flash.starts_with("Generation 2: "), "{flash}");
    // The page loads the rollout in place, and links to it for a browser without scripts.
    let placeholder = tag_where(&page.text, "div", "id", "rollout-2");
    assert_eq!(
        attr(&placeholder, "hx-get").as_deref(),
        Some("/clusters/web/changes/2/rollout")
    );
    assert!(links(&page.text).contains(&"/clusters/web/changes/2".to_owned()));

    // lb1 applies it; lb2 is still at 1 and its last report failed.
    app.agent_report(&lb1, &apply_report(2, &[])).await;
    app.agent_report(&lb2, &apply_report(1, &["service tcp:10.0.0.1:80"]))
        .await;
    let fragment = browser.get("/clusters/web/changes/2/rollout").await;
    assert_fragment(&fragment);
    let shown = text(&fragment.text);
    assert!(
        shown.contains("1 of 2 directors applied generation 2."),
        "{shown}"
    );
    assert!(
        shown.contains("lb2 applying (at generation 1, last seen"),
        "{shown}"
    );
    assert!(shown.contains("its last report failed: add service tcp:10.0.0.1:80"));
    let panel = tag_where(&fragment.text, "div", "id", "rollout-2");
    assert_eq!(
        attr(&panel, "hx-get").as_deref(),
        Some("/clusters/web/changes/2/rollout"),
        "it refreshes while a director is left"
    );

    // The director's page: what it lacks, since when, linked; its error.
    let director = browser.page("/clusters/web/directors/lb2").await;
    assert_html(&director, 200);
    let shown = text(&director.text);
    assert!(shown.contains("Not applied: 1 generation"), "{shown}");
    assert!(shown.contains("Behind since 20"), "{shown}");
    assert!(shown.contains("File exists"), "{shown}");
    assert!(links(&director.text).contains(&"/clusters/web/changes/2".to_owned()));
    // The fleet and directors pages link to it.
    let fleet = browser.page("/").await;
    assert!(links(&fleet.text).contains(&"/clusters/web/directors/lb2".to_owned()));
    let directors = browser.page("/clusters/web/directors").await;
    assert!(links(&directors.text).contains(&"/clusters/web/directors/lb2".to_owned()));

    // lb2 catches up: done, and the panel stops asking.
    app.agent_report(&lb2, &apply_report(2, &[])).await;
    let fragment = browser.get("/clusters/web/changes/2/rollout").await;
    let shown = text(&fragment.text);
    assert!(
        shown.contains("Applied by all its directors (2 of 2)."),
        "{shown}"
    );
    let panel = tag_where(&fragment.text, "div", "id", "rollout-2");
    assert_eq!(attr(&panel, "hx-get"), None, "{panel}");
    let director = browser.page("/clusters/web/directors/lb2").await;
    assert!(!text(&director.text).contains("Not applied"));

    // The change's page and the list.
    let change = browser.page("/clusters/web/changes/2").await;
    let shown = text(&change.text);
    assert!(
        shown.contains("Applied by all its directors (2 of 2)."),
        "{shown}"
    );
    assert!(links(&change.text).contains(&"/clusters/web/directors/lb1".to_owned()));
    let list = browser.page("/clusters/web/changes").await;
    assert!(text(&list.text).contains("2 of 2 directors"));

    // An edit that changes nothing says so, and has no rollout to follow.
    let page = browser.page(&base).await;
    let weight = format!("{base}/real-servers/{rs}/weight");
    let same = browser
        .submit(&page.text, &weight, &[("weight", "1")])
        .await;
    let page = browser.follow(&same).await;
    let flash = crate::ui_browser::flash(&page.text).unwrap_or_default();
    assert!(
        flash.ends_with("It already was, so nothing changed."),
        "{flash}"
    );
    assert!(!page.text.contains("/rollout"));
}

#[tokio::test]
async fn ui_unknown_directors_and_generations_are_404() {
    let (_app, mut browser, _service, _base) = service_in_browser().await;
    let missing = browser.get("/clusters/web/directors/nope").await;
    assert_html(&missing, 404);
    let cluster = browser.get("/clusters/nope/changes/1/rollout").await;
    assert_eq!(cluster.status, 404);
    // A generation not made yet has no director done, and says so.
    let future = browser.get("/clusters/web/changes/9/rollout").await;
    assert_fragment(&future);
    assert!(text(&future.text).contains("The cluster has no directors yet"));
}

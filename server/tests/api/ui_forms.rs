//! The UI's forms over HTTP, submitted as a browser without JavaScript submits them: a
//! change answers with a redirect and a flash message shown once, a refused form answers
//! with the form again (the input kept, each bad field marked with the model's reason),
//! and what was written is checked through the REST API.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;
use crate::ui_pages::{pool_ids, row_heads};

/// The input `id` inside the form posting to `action`, as a tag.
#[track_caller]
fn input_in(html: &str, action: &str, id: &str) -> String {
    tag_where(form_html(html, action), "input", "id", id)
}

/// The field error `<p class="field-error" id="...">` inside the form posting to `action`.
#[track_caller]
fn error_in(html: &str, action: &str, id: &str) -> String {
    element_text(form_html(html, action), "p", "id", id)
}

/// Asserts the input `id` inside the form posting to `action` marked invalid, described by
/// its error, and showing `value`; returns its tag.
#[track_caller]
fn assert_invalid(html: &str, action: &str, id: &str, value: &str) -> String {
    let tag = input_in(html, action, id);
    assert_eq!(attr(&tag, "aria-invalid").as_deref(), Some("true"), "{tag}");
    assert!(attr(&tag, "aria-describedby").is_some(), "{tag}");
    assert_eq!(
        attr(&tag, "value").as_deref(),
        Some(value),
        "the typed value is kept: {tag}"
    );
    tag
}

async fn api(app: &TestApp, path: &str) -> Value {
    app.get(path).await.expect(200).clone()
}

#[tokio::test]
async fn ui_create_cluster_redirects_with_a_flash_shown_once() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let form = browser.page("/new-cluster").await;
    let typed = [
        ("name", "edge"),
        ("description", "edge balancers"),
        ("timeouts.tcp", "600"),
    ];
    let created = browser.submit(&form.text, "/clusters", &typed).await;
    assert_eq!(redirected(&created), "/clusters/edge/directors");
    let cluster = api(&app, &cluster_path("edge")).await;
    assert_eq!(cluster["description"], "edge balancers");
    assert_eq!(
        cluster["timeouts"],
        json!({"tcp": 600, "tcpfin": null, "udp": null})
    );

    // A live fragment polled meanwhile leaves the message for the page.
    let fragment = browser
        .send(
            browser
                .request(reqwest::Method::GET, "/clusters/edge/live")
                .header("HX-Request", "true"),
        )
        .await;
    assert_fragment(&fragment);
    assert!(!fragment.text.contains("created"), "{}", fragment.text);

    let next = browser.follow(&created).await;
    assert_eq!(
        flash(&next.text).as_deref(),
        Some("Cluster edge created. Add its directors, then its services.")
    );
    assert!(text(&next.text).contains("Directors of edge"));
    let after = browser.page("/clusters/edge/directors").await;
    assert_eq!(flash(&after.text), None, "a flash is shown once");
    let fleet = browser.page("/").await;
    assert_eq!(flash(&fleet.text), None);
    assert!(text(&fleet.text).contains("edge"));
}

#[tokio::test]
async fn ui_create_cluster_marks_an_invalid_name_and_keeps_the_input() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let form = browser.page("/new-cluster").await;
    let typed = [("name", "Bad Name!"), ("description", "x <b>y</b>")];
    let refused = browser
        .submit_refused(&form.text, "/clusters", &typed)
        .await;
    let html = &refused.text;
    assert_invalid(html, "/clusters", "f-name", "Bad Name!");
    assert_eq!(
        element_text(html, "p", "id", "e-name"),
        "may contain only lowercase letters, digits and '-'"
    );
    let description = input_in(html, "/clusters", "f-description");
    assert_eq!(attr(&description, "value").as_deref(), Some("x <b>y</b>"));
    assert_eq!(attr(&description, "aria-invalid"), None);
    assert!(!html.contains("<b>y</b>"), "typed text is escaped");

    // A timeout that is not a number.
    let refused = browser
        .submit_refused(
            &form.text,
            "/clusters",
            &[("name", "edge"), ("timeouts.udp", "soon")],
        )
        .await;
    assert_invalid(&refused.text, "/clusters", "f-timeouts.udp", "soon");
    assert_eq!(
        element_text(&refused.text, "p", "id", "e-timeouts.udp"),
        "must be a whole number, not \"soon\""
    );
    // With a bad name too, both are reported at once.
    let refused = browser
        .submit_refused(
            &form.text,
            "/clusters",
            &[("name", "Edge!"), ("timeouts.udp", "soon")],
        )
        .await;
    assert_invalid(&refused.text, "/clusters", "f-name", "Edge!");
    assert_invalid(&refused.text, "/clusters", "f-timeouts.udp", "soon");
    let refused = browser
        .submit_refused(
            &form.text,
            "/clusters",
            &[("name", "edge"), ("timeouts.tcp", "0")],
        )
        .await;
    assert_invalid(&refused.text, "/clusters", "f-timeouts.tcp", "0");

    // A name taken: a message about the form.
    app.create_cluster("web").await;
    let refused = browser
        .submit_refused(&form.text, "/clusters", &[("name", "web")])
        .await;
    let alert = element_text(&refused.text, "div", "role", "alert");
    assert_eq!(alert, "Cluster web already exists.");

    let clusters = api(&app, "/api/v1/clusters").await;
    let names: Vec<&str> = clusters["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["web"], "nothing else was created");
}

#[tokio::test]
async fn ui_create_service_valid_invalid_and_duplicate() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);
    let action = "/clusters/web/services";
    let form = browser.page("/clusters/web/services/new").await;

    let typed = [("address", "10.0.0.1"), ("port", "80"), ("name", "shop")];
    let created = browser.submit(&form.text, action, &typed).await;
    let location = redirected(&created);
    let services = app.all_services("web").await;
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["key"], "tcp:10.0.0.1:80");
    assert_eq!(services[0]["name"], "shop");
    assert_eq!(services[0]["scheduler"], "wlc");
    assert_eq!(
        location,
        format!("/clusters/web/services/{}", id(&services[0]))
    );
    let page = browser.follow(&created).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 1: service tcp:10.0.0.1:80 created. Add its real servers below.")
    );

    // A port that is not a number.
    let refused = browser
        .submit_refused(
            &form.text,
            action,
            &[("address", "10.0.0.2"), ("port", "abc")],
        )
        .await;
    assert_invalid(&refused.text, action, "f-port", "abc");
    assert_eq!(
        error_in(&refused.text, action, "e-port"),
        "must be a whole number, not \"abc\""
    );
    assert_eq!(field(&refused.text, action, "address"), "10.0.0.2");

    // A port out of range: the model's message.
    let refused = browser
        .submit_refused(
            &form.text,
            action,
            &[("address", "10.0.0.2"), ("port", "70000")],
        )
        .await;
    assert_invalid(&refused.text, action, "f-port", "70000");
    assert_eq!(
        error_in(&refused.text, action, "e-port"),
        "must be between 1 and 65535, not 70000"
    );

    // A firewall-mark service without its mark.
    let typed = [("protocol", "fwmark"), ("fwmark", ""), ("family", "ipv6")];
    let refused = browser.submit_refused(&form.text, action, &typed).await;
    assert_invalid(&refused.text, action, "f-fwmark", "");
    assert_eq!(
        error_in(&refused.text, action, "e-fwmark"),
        "required for a firewall-mark service"
    );
    assert_eq!(field(&refused.text, action, "protocol"), "fwmark");
    assert_eq!(field(&refused.text, action, "family"), "ipv6");

    // The same service again: a message about the form, the input kept.
    let typed = [("address", "10.0.0.1"), ("port", "80"), ("name", "again")];
    let refused = browser.submit_refused(&form.text, action, &typed).await;
    assert_eq!(
        element_text(&refused.text, "div", "role", "alert"),
        "Service tcp:10.0.0.1:80 in cluster web already exists."
    );
    assert_eq!(field(&refused.text, action, "name"), "again");

    assert_eq!(
        app.all_services("web").await.len(),
        1,
        "nothing else was created"
    );
    assert_eq!(app.generation("web").await, 1);
}

#[tokio::test]
async fn ui_save_settings_and_refuse_a_stale_form() {
    let (app, mut browser, service, base) = service_in_browser().await;

    let page = browser.page(&base).await;
    let saved = browser
        .submit(&page.text, &base, &[("scheduler", "rr"), ("name", "shop")])
        .await;
    assert_eq!(redirected(&saved), base);
    let stored = api(&app, &service_path("web", service)).await;
    assert_eq!(stored["scheduler"], "rr");
    assert_eq!(stored["name"], "shop");
    assert_eq!(
        pool_ids(&app, "web", service).await.len(),
        2,
        "the pool is untouched"
    );
    let page = browser.follow(&saved).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 2: service tcp:10.0.0.1:80 saved.")
    );

    // Someone else saves meanwhile: this form is refused, and theirs stays.
    app.patch_ok(
        &service_path("web", service),
        &json!({"description": "theirs"}),
    )
    .await;
    let generation = app.generation("web").await;
    // Mine would undo their description: nothing is saved until I choose (the merge
    // itself is `ui_settings_merge`'s).
    let refused = browser
        .submit(
            &page.text,
            &base,
            &[("scheduler", "sh"), ("description", "mine")],
        )
        .await;
    assert_html(&refused, 409);
    let alert = element_text(form_html(&refused.text, &base), "div", "role", "alert");
    assert!(
        alert.starts_with(
            "Someone changed these settings after you loaded them, so nothing was saved."
        ),
        "{alert}"
    );
    assert!(alert.contains("Reload"), "{alert}");
    assert_eq!(
        link_labelled(form_html(&refused.text, &base), "Reload"),
        Some(base.clone())
    );
    assert_eq!(
        field(&refused.text, &base, "scheduler"),
        "sh",
        "the typed values are kept"
    );
    assert_eq!(field(&refused.text, &base, "description"), "mine");
    let stored = api(&app, &service_path("web", service)).await;
    assert_eq!(stored["scheduler"], "rr");
    assert_eq!(stored["description"], "theirs");
    assert_eq!(
        app.generation("web").await,
        generation,
        "nothing was written"
    );

    // Reloading gives a form that saves.
    let page = browser.page(&base).await;
    assert_eq!(field(&page.text, &base, "description"), "theirs");
    let saved = browser
        .submit(&page.text, &base, &[("scheduler", "sh")])
        .await;
    redirected(&saved);
    assert_eq!(
        api(&app, &service_path("web", service)).await["scheduler"],
        "sh"
    );

    // An invalid value is marked on the settings form.
    let page = browser.page(&base).await;
    let refused = browser
        .submit_refused(&page.text, &base, &[("port", "0")])
        .await;
    assert_invalid(&refused.text, &base, "f-port", "0");

    // A flag of another scheduler is marked at the flags, not at the scheduler.
    let page = browser.page(&base).await;
    let typed = [("scheduler", "wrr"), ("scheduler_flags", "sh-port")];
    let refused = browser.submit_refused(&page.text, &base, &typed).await;
    assert_eq!(
        error_in(&refused.text, &base, "e-scheduler_flags"),
        "flag sh-port does not apply to scheduler wrr"
    );
    assert!(
        !form_html(&refused.text, &base).contains(r#"id="e-scheduler""#),
        "the scheduler itself is fine"
    );
}

#[tokio::test]
async fn ui_add_real_server_valid_invalid_and_duplicate() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/real-servers");

    let page = browser.page(&base).await;
    let typed = [
        ("address", "10.1.0.3"),
        ("weight", "2"),
        ("description", "rack c"),
    ];
    let added = browser.submit(&page.text, &action, &typed).await;
    assert_eq!(redirected(&added), base);
    let pool = pool_ids(&app, "web", service).await;
    let (key, rs) = pool.last().expect("a real server").clone();
    assert_eq!(key, "10.1.0.3:80", "the service's port by default");
    let stored = api(&app, &real_server_path("web", service, rs)).await;
    assert_eq!(stored["weight"], 2);
    assert_eq!(stored["forwarding"], "masq");
    assert_eq!(stored["description"], "rack c");
    let page = browser.follow(&added).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some(
            "Generation 2: real server 10.1.0.3:80 added. Directors send it connections once \
             they apply it."
        )
    );
    assert!(row_heads(&page.text).contains(&"10.1.0.3:80".to_owned()));

    // An address that is not one.
    let typed = [("address", "10.1.0.999"), ("port", "8080")];
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert_invalid(&refused.text, &action, "rs-f-address", "10.1.0.999");
    assert!(!error_in(&refused.text, &action, "rs-e-address").is_empty());
    assert_eq!(field(&refused.text, &action, "port"), "8080");
    assert!(
        tag_where(&refused.text, "details", "id", "add-rs").contains(" open"),
        "the add form is open to show its errors"
    );

    // A weight out of range.
    let typed = [("address", "10.1.0.4"), ("weight", "70000")];
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert_invalid(&refused.text, &action, "rs-f-weight", "70000");
    assert_eq!(
        error_in(&refused.text, &action, "rs-e-weight"),
        "must be between 0 and 65535, not 70000"
    );

    // One that is already there.
    let refused = browser
        .submit_refused(&page.text, &action, &[("address", "10.1.0.1")])
        .await;
    assert_eq!(
        element_text(form_html(&refused.text, &action), "div", "role", "alert"),
        "Real server 10.1.0.1:80 in service tcp:10.0.0.1:80 already exists."
    );
    assert_eq!(pool_ids(&app, "web", service).await.len(), 3);
}

#[tokio::test]
async fn ui_weight_edit_valid_out_of_range_and_stale() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let ids = pool_ids(&app, "web", service).await;
    let (first, other) = (ids[0].1, ids[1].1);
    let action = format!("{base}/real-servers/{first}/weight");

    let page = browser.page(&base).await;
    let set = browser
        .submit(&page.text, &action, &[("weight", "7")])
        .await;
    assert_eq!(redirected(&set), base);
    assert_eq!(
        api(&app, &real_server_path("web", service, first)).await["weight"],
        7
    );
    let page = browser.follow(&set).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 2: weight of 10.1.0.1:80 set to 7.")
    );
    assert_eq!(field(&page.text, &action, "weight"), "7");

    // Out of range: the error under that row's input, the typed value kept.
    let refused = browser
        .submit_refused(&page.text, &action, &[("weight", "70000")])
        .await;
    let input = assert_invalid(&refused.text, &action, &format!("w-{first}"), "70000");
    assert_eq!(
        attr(&input, "aria-describedby"),
        Some(format!("we-{first}"))
    );
    assert_eq!(
        error_in(&refused.text, &action, &format!("we-{first}")),
        "must be between 0 and 65535, not 70000"
    );
    let other_action = format!("{base}/real-servers/{other}/weight");
    let untouched = input_in(&refused.text, &other_action, &format!("w-{other}"));
    assert_eq!(attr(&untouched, "aria-invalid"), None);
    assert_eq!(attr(&untouched, "value").as_deref(), Some("1"));
    // Not a number, or nothing.
    let refused = browser
        .submit_refused(&page.text, &action, &[("weight", "heavy")])
        .await;
    assert_invalid(&refused.text, &action, &format!("w-{first}"), "heavy");
    let refused = browser
        .submit_refused(&page.text, &action, &[("weight", "")])
        .await;
    assert!(error_in(&refused.text, &action, &format!("we-{first}")).starts_with("required"));
    assert_eq!(
        api(&app, &real_server_path("web", service, first)).await["weight"],
        7
    );

    // Someone else changed it since the page was loaded.
    app.patch_ok(
        &real_server_path("web", service, first),
        &json!({"weight": 9}),
    )
    .await;
    let refused = browser
        .submit_refused(&page.text, &action, &[("weight", "4")])
        .await;
    let form = form_html(&refused.text, &action);
    let message = text(form);
    assert!(
        message.contains("Someone else changed this since you opened the page; nothing was saved."),
        "{message}"
    );
    assert_eq!(link_labelled(form, "Reload"), Some(base.clone()));
    assert_eq!(field(&refused.text, &action, "weight"), "4");
    assert_eq!(
        api(&app, &real_server_path("web", service, first)).await["weight"],
        9
    );
}

#[tokio::test]
async fn ui_drain_and_restore_a_real_server() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let rs = pool_ids(&app, "web", service).await[0].1;
    let drain = format!("{base}/real-servers/{rs}/drain");
    let restore = format!("{base}/real-servers/{rs}/restore");

    let page = browser.page(&base).await;
    let drained = browser.submit(&page.text, &drain, &[]).await;
    assert_eq!(redirected(&drained), base);
    let stored = api(&app, &real_server_path("web", service, rs)).await;
    assert_eq!(stored["state"], "drained");
    assert_eq!(stored["weight"], 1, "the weight is remembered");
    let page = browser.follow(&drained).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some(
            "Generation 2: 10.1.0.1:80 drained. Directors stop sending it new connections as \
             they apply this; its open ones finish."
        )
    );
    assert!(text(&element_text(&page.text, "tr", "id", &format!("rs-{rs}"))).contains("drained"));
    assert!(has_form(&page.text, &restore) && !has_form(&page.text, &drain));

    let restored = browser.submit(&page.text, &restore, &[]).await;
    assert_eq!(redirected(&restored), base);
    assert_eq!(
        api(&app, &real_server_path("web", service, rs)).await["state"],
        "active"
    );
    let page = browser.follow(&restored).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 3: 10.1.0.1:80 restored to weight 1.")
    );

    // A stale button does nothing and says so.
    app.patch_ok(&real_server_path("web", service, rs), &json!({"weight": 3}))
        .await;
    let stale = browser.submit(&page.text, &drain, &[]).await;
    assert_eq!(redirected(&stale), base);
    let page = browser.follow(&stale).await;
    let message = flash(&page.text).expect("a message");
    assert!(
        message.starts_with("Someone else changed this real server"),
        "{message}"
    );
    assert!(tag_where(&page.text, "div", "role", "status").contains("alert error"));
    assert_eq!(
        api(&app, &real_server_path("web", service, rs)).await["state"],
        "active"
    );
}

#[tokio::test]
async fn ui_remove_a_real_server_through_its_confirm_page() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let rs = pool_ids(&app, "web", service).await[0].1;

    let service_page = browser.page(&base).await;
    let confirm_path = format!("{base}/real-servers/{rs}/delete");
    assert!(links(&service_page.text).contains(&confirm_path));
    let confirm = browser.page(&confirm_path).await;
    let removed = browser.submit(&confirm.text, &confirm_path, &[]).await;
    assert_eq!(redirected(&removed), base);
    app.get(&real_server_path("web", service, rs))
        .await
        .problem(404, "not_found");
    assert_eq!(pool_ids(&app, "web", service).await.len(), 1);
    let page = browser.follow(&removed).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some(
            "Generation 2: real server removed. Directors drain it and delete it from the \
             kernel as they apply this."
        )
    );
    assert!(!row_heads(&page.text).contains(&"10.1.0.1:80".to_owned()));
}

#[tokio::test]
async fn ui_delete_a_service_through_its_confirm_page() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/delete");

    // A confirm page left open while someone edits the service deletes nothing.
    let stale = browser.page(&action).await;
    app.patch_ok(&service_path("web", service), &json!({"name": "edited"}))
        .await;
    let refused = browser.submit(&stale.text, &action, &[]).await;
    assert_eq!(redirected(&refused), base);
    let page = browser.follow(&refused).await;
    assert!(flash(&page.text).is_some_and(|f| f.starts_with("Someone else changed this service")));
    api(&app, &service_path("web", service)).await;

    let confirm = browser.page(&action).await;
    let deleted = browser.submit(&confirm.text, &action, &[]).await;
    assert_eq!(redirected(&deleted), "/clusters/web");
    app.get(&service_path("web", service))
        .await
        .problem(404, "not_found");
    let page = browser.follow(&deleted).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some(
            "Generation 3: service deleted. Directors drain it and delete it from the kernel \
             as they apply this."
        )
    );
    assert!(text(&page.text).contains("No services yet."));
    assert_html(&browser.get(&base).await, 404);
}

/// The `lvsa_` token shown on a token page.
#[track_caller]
fn shown_token(html: &str) -> String {
    let token = attr(&tag_where(html, "input", "id", "token"), "value").expect("a token");
    assert!(token.starts_with("lvsa_") && token.len() == 69, "{token}");
    token
}

#[tokio::test]
async fn ui_add_director_shows_its_token_once_then_rotate_and_remove() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let mut browser = Browser::new(&app);
    let action = "/clusters/web/directors";

    let page = browser.page(action).await;
    let typed = [("name", "lb1"), ("description", "rack 1")];
    let added = browser.submit(&page.text, action, &typed).await;
    assert_html(&added, 200);
    assert_eq!(
        added
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let token = shown_token(&added.text);
    assert_eq!(
        count(&added.text, &token),
        2,
        "in the field and in the command"
    );
    let shown = text(&added.text);
    assert!(shown.contains("Director lb1 was added to web."), "{shown}");
    let command = format!(
        "lvs-agent --server {} --token-file /etc/lvs-agent/token",
        browser.origin()
    );
    assert!(shown.contains(&command), "{command:?} in {shown}");
    let director = api(&app, &director_path("web", "lb1")).await;
    assert_eq!(director["description"], "rack 1");
    assert!(director["token_created_at"].is_string());

    // The token works for the agent, and is never shown again.
    let state = app.agent_get(AGENT_DESIRED_STATE, &token).await;
    assert_eq!(state.expect(200)["cluster"], "web");
    let page = browser.page(action).await;
    assert!(!page.text.contains(&token));
    assert!(text(&element_text(&page.text, "article", "id", "director-lb1")).contains("Token set"));

    // Rotating, through its confirmation page: showing it changes nothing.
    let rotate = "/clusters/web/directors/lb1/token";
    let confirm = browser.page(rotate).await;
    let asked = text(&confirm.text);
    for expected in [
        "Rotate the agent token of director lb1 in web?",
        "the running agent is refused until it is given the new token",
        "The new token is shown once",
    ] {
        assert!(asked.contains(expected), "{expected:?} in {asked}");
    }
    app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
    let rotated = browser.submit(&confirm.text, rotate, &[]).await;
    assert_html(&rotated, 200);
    assert_eq!(
        rotated
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let new_token = shown_token(&rotated.text);
    assert_ne!(new_token, token);
    assert!(text(&rotated.text).contains("any token the agent had before no longer works"));
    app.agent_get(AGENT_DESIRED_STATE, &token)
        .await
        .problem(401, "unauthorized");
    app.agent_get(AGENT_DESIRED_STATE, &new_token)
        .await
        .expect(200);

    // A bad name, and a name taken.
    let refused = browser
        .submit_refused(&page.text, action, &[("name", "LB 2")])
        .await;
    assert_invalid(&refused.text, action, "f-name", "LB 2");
    assert_eq!(
        error_in(&refused.text, action, "e-name"),
        "may contain only lowercase letters, digits and '-'"
    );
    let refused = browser
        .submit_refused(&page.text, action, &[("name", "lb1")])
        .await;
    assert_eq!(
        element_text(form_html(&refused.text, action), "div", "role", "alert"),
        "Director lb1 in cluster web already exists."
    );
    assert!(!refused.text.contains("lvsa_"));

    // Removing it through its confirm page.
    let confirm_path = "/clusters/web/directors/lb1/delete";
    let confirm = browser.page(confirm_path).await;
    let removed = browser.submit(&confirm.text, confirm_path, &[]).await;
    assert_eq!(redirected(&removed), action);
    app.get(&director_path("web", "lb1"))
        .await
        .problem(404, "not_found");
    app.agent_get(AGENT_DESIRED_STATE, &new_token)
        .await
        .problem(401, "unauthorized");
    let page = browser.follow(&removed).await;
    assert_eq!(flash(&page.text).as_deref(), Some("Director lb1 removed."));
    assert!(text(&page.text).contains("No directors yet."));
}

#[tokio::test]
async fn ui_edits_show_up_as_web_ui_generations() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);

    // 1: a service.
    let form = browser.page("/clusters/web/services/new").await;
    let typed = [("address", "10.0.0.1"), ("port", "80")];
    let created = browser
        .submit(&form.text, "/clusters/web/services", &typed)
        .await;
    let base = redirected(&created);
    // 2: a real server.
    let action = format!("{base}/real-servers");
    browser
        .submit_from(&base, &action, &[("address", "10.1.0.1")])
        .await;
    let service = app.all_services("web").await[0]["id"].as_i64().expect("id");
    let rs = pool_ids(&app, "web", service).await[0].1;
    // 3: its weight.
    let action = format!("{base}/real-servers/{rs}/weight");
    browser
        .submit_from(&base, &action, &[("weight", "5")])
        .await;
    // 4, 5: drained and restored.
    let drain = format!("{base}/real-servers/{rs}/drain");
    browser.submit_from(&base, &drain, &[]).await;
    let restore = format!("{base}/real-servers/{rs}/restore");
    browser.submit_from(&base, &restore, &[]).await;
    // 6: settings.
    browser
        .submit_from(&base, &base, &[("scheduler", "rr")])
        .await;
    // An API change between them.
    app.patch_ok(&real_server_path("web", service, rs), &json!({"weight": 6}))
        .await;
    // 8: removed.
    let confirm_path = format!("{base}/real-servers/{rs}/delete");
    browser.submit_from(&confirm_path, &confirm_path, &[]).await;
    // 9: the service deleted.
    let confirm_path = format!("{base}/delete");
    browser.submit_from(&confirm_path, &confirm_path, &[]).await;

    let changes = api(&app, "/api/v1/clusters/web/changes?limit=100").await;
    let sources: Vec<&str> = changes["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["source"].as_str())
        .collect();
    assert_eq!(
        sources,
        ["ui", "ui", "api", "ui", "ui", "ui", "ui", "ui", "ui"]
    );

    let page = browser.page("/clusters/web/changes").await;
    let shown = text(&page.text);
    let rows: Vec<String> = row_heads(&page.text);
    assert_eq!(rows, ["9", "8", "7", "6", "5", "4", "3", "2", "1"]);
    for expected in [
        "web UI 1 service removed",
        "web UI 1 real server removed",
        "API 1 real server changed",
        "web UI 1 service changed",
        "web UI 1 real server changed",
        "web UI 1 real server added",
        "web UI 1 service added",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    let detail = browser.page("/clusters/web/changes/3").await;
    let shown = text(&detail.text);
    assert!(
        shown.contains("through the web UI: 1 real server changed."),
        "{shown}"
    );
    assert!(
        shown.contains("real server 10.1.0.1:80 of tcp:10.0.0.1:80: weight 1 → 5"),
        "{shown}"
    );
    let detail = browser.page("/clusters/web/changes/6").await;
    assert!(text(&detail.text).contains("service tcp:10.0.0.1:80: scheduler wlc → rr"));
}

#[tokio::test]
async fn ui_saving_settings_unchanged_changes_nothing_for_every_kind_of_service() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let specs = [
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 443, "scheduler": "wrr",
               "persistence_timeout": 300, "persistence_netmask": "255.255.255.0",
               "name": "shop", "description": "tls"}),
        json!({"protocol": "udp", "address": "10.0.0.1", "port": 53, "scheduler": "sh",
               "scheduler_flags": ["sh-fallback", "sh-port"], "one_packet": true}),
        json!({"protocol": "tcp", "address": "2001:db8::1", "port": 80, "scheduler": "mh",
               "scheduler_flags": ["mh-port"], "persistence_timeout": 60,
               "persistence_netmask": 64}),
        json!({"fwmark": 7, "family": "ipv6", "scheduler": "rr"}),
        json!({"fwmark": 8, "family": "ipv4", "persistence_timeout": 300,
               "mark_rules": [{"protocol": "tcp", "address": "192.0.2.10", "ports": [80, "8000-8100"]},
                              {"protocol": "udp", "address": "192.0.2.10", "ports": [53]}]}),
        json!({"protocol": "udp", "address": "10.0.0.5", "port": 5060,
               "persistence_timeout": 120, "persistence_engine": "sip"}),
        // Health settings the form does not show are kept.
        json!({"protocol": "tcp", "address": "10.0.0.9", "port": 80,
               "health_check": {"kind": "http", "path": "/up"}, "min_healthy": 2,
               "sorry_server": {"address": "10.9.0.1", "forwarding": "masq"}}),
    ];
    let mut browser = Browser::new(&app);
    for spec in specs {
        let service = id(&app.create_service("web", &spec).await);
        let before = api(&app, &service_path("web", service)).await;
        let generation = app.generation("web").await;
        let base = format!("/clusters/web/services/{service}");
        let page = browser.page(&base).await;
        let saved = browser.submit(&page.text, &base, &[]).await;
        assert_eq!(redirected(&saved), base, "{spec}: {}", text(&saved.text));
        let after = api(&app, &service_path("web", service)).await;
        assert_eq!(after, before, "the form reads back what it showed: {spec}");
        assert_eq!(app.generation("web").await, generation, "{spec}");
    }
}

#[tokio::test]
async fn ui_add_a_tunnelled_real_server() {
    let (app, mut browser, service, base) = service_in_browser().await;
    let action = format!("{base}/real-servers");
    let page = browser.page(&base).await;

    // GUE needs its port: the model says so under that field.
    let typed = [
        ("address", "10.2.0.1"),
        ("forwarding", "tunnel"),
        ("tunnel_type", "gue"),
    ];
    let refused = browser.submit_refused(&page.text, &action, &typed).await;
    assert_invalid(&refused.text, &action, "rs-f-tunnel_port", "");
    assert!(!error_in(&refused.text, &action, "rs-e-tunnel_port").is_empty());
    assert_eq!(field(&refused.text, &action, "forwarding"), "tunnel");
    assert_eq!(field(&refused.text, &action, "tunnel_type"), "gue");

    let typed = [
        ("address", "10.2.0.1"),
        ("forwarding", "tunnel"),
        ("tunnel_type", "gue"),
        ("tunnel_port", "6080"),
        ("tunnel_checksum", "csum"),
        ("upper_threshold", "100"),
        ("lower_threshold", "50"),
    ];
    let added = browser.submit(&page.text, &action, &typed).await;
    assert_eq!(redirected(&added), base);
    let (_, rs) = pool_ids(&app, "web", service)
        .await
        .into_iter()
        .find(|(key, _)| key == "10.2.0.1:80")
        .expect("added");
    let stored = api(&app, &real_server_path("web", service, rs)).await;
    assert_eq!(stored["forwarding"], "tunnel");
    assert_eq!(stored["tunnel_type"], "gue");
    assert_eq!(stored["tunnel_port"], 6080);
    assert_eq!(stored["tunnel_checksum"], "csum");
    assert_eq!(stored["upper_threshold"], 100);
    assert_eq!(stored["lower_threshold"], 50);
    let page = browser.follow(&added).await;
    let row = element_text(&page.text, "tr", "id", &format!("rs-{rs}"));
    assert!(row.contains("10.2.0.1:80 tunnel"), "{row}");
    assert!(row.contains("50–100"), "{row}");
}

//! Two people edit one service: the admin's bulk edit, made from a page loaded before the
//! operator changed a weight, is merged with the operator's change. The admin's line that
//! would undo it is marked with the operator's name; applying without ticking it keeps
//! theirs, ticking it applies mine. Then the same for the settings form, field by field.

use fantoccini::elements::Element;
use serde_json::json;

use crate::app::{screenshot_dir, App};
use crate::driver::{text, value, Browser};

const SERVICE: &str = "tcp:192.0.2.30:80";
const OPERATOR_PASSWORD: &str = "a long enough password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_bulk_edit_marks_the_line_that_would_undo_a_colleagues_weight() {
    crate::within_limit(run()).await;
}

async fn run() {
    let app = App::start().await;
    let shots = screenshot_dir();
    app.post("/api/v1/clusters", &json!({"name": "shop"}), None, 201)
        .await;
    let service = app
        .post(
            "/api/v1/clusters/shop/services",
            &json!({"protocol": "tcp", "address": "192.0.2.30", "port": 80,
                    "real_servers": [{"address": "10.3.0.1", "forwarding": "masq"},
                                     {"address": "10.3.0.2", "forwarding": "masq"}]}),
            None,
            201,
        )
        .await;
    let service_path = format!("/clusters/shop/services/{}", service["id"]);
    app.post(
        "/api/v1/users",
        &json!({"name": "olivia", "role": "operator", "clusters": ["shop"],
                "password": OPERATOR_PASSWORD}),
        None,
        201,
    )
    .await;
    let me = Browser::start(app.base.clone()).await;
    me.goto(&service_path).await;
    me.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;
    let olivia = Browser::start(app.base.clone()).await;
    olivia.goto(&service_path).await;
    olivia.sign_in("olivia", OPERATOR_PASSWORD).await;

    // I open the bulk editor; olivia sets 10.3.0.1's weight to 7 meanwhile.
    let mine = "10.3.0.1:80 weight=3 forwarding=masq\n10.3.0.2:80 weight=1 forwarding=masq\n10.3.0.3:80 weight=1 forwarding=masq";
    open_editor(&me, &service_path).await;
    set_weight(&olivia, &service_path, "10.3.0.1:80", "7").await;
    let marked = plan(&me, mine).await;
    assert!(
        marked.starts_with("olivia changed 10.3.0.1:80 at ")
            && marked.contains(": weight 1 → 7.")
            && marked.ends_with("Use mine instead: weight 7 → 3"),
        "{marked}"
    );
    me.screenshots(&shots, "pool-merge").await;

    // Applied without ticking: my new server is added, olivia's weight stays.
    let form = me.find("main form[action$='/pool/apply']").await;
    me.press(&form, "Apply this plan").await;
    me.expect_page(SERVICE, 200).await;
    assert_eq!(
        me.committed().await,
        format!("pool of {SERVICE} updated: 1 real server added.")
    );
    assert_eq!(weight(&me, "10.3.0.1:80").await, "7");

    // Again, stale once more: this time I tick my line, and mine applies.
    open_editor(&me, &service_path).await;
    set_weight(&olivia, &service_path, "10.3.0.1:80", "8").await;
    let marked = plan(&me, mine).await;
    assert!(marked.contains(": weight 7 → 8."), "{marked}");
    let form = me.find("main form[action$='/pool/apply']").await;
    me.field(&form, "Use mine instead: weight 8 → 3")
        .await
        .click()
        .await
        .expect("tick the marked line");
    me.press(&form, "Apply this plan").await;
    me.expect_page(SERVICE, 200).await;
    assert_eq!(
        me.committed().await,
        format!("pool of {SERVICE} updated: 1 real server changed.")
    );
    assert_eq!(weight(&me, "10.3.0.1:80").await, "3");

    // The settings: olivia sets the scheduler while my page is open; my stale form would
    // set it back, so it is marked for me to choose, and my description waits with it.
    me.goto(&service_path).await;
    me.expect_page(SERVICE, 200).await;
    olivia.goto(&service_path).await;
    olivia.expect_page(SERVICE, 200).await;
    let theirs = settings_form(&olivia, &service_path).await;
    olivia.choose(&theirs, "Scheduler", "rr").await;
    olivia.press(&theirs, "Save settings").await;
    olivia.expect_page(SERVICE, 200).await;
    let form = settings_form(&me, &service_path).await;
    me.choose(&form, "Scheduler", "sh").await;
    me.fill(&form, "Description", "mine").await;
    me.press(&form, "Save settings").await;
    me.expect_page(SERVICE, 409).await;
    let choice = text(&me.find("#choose-scheduler").await).await;
    assert!(
        choice.contains("Keep theirs: rr") && choice.contains("Use mine: sh"),
        "{choice}"
    );
    let note = text(&me.find("#merge-note").await).await;
    assert!(
        note.starts_with("olivia changed these settings at "),
        "{note}"
    );
    me.screenshots(&shots, "settings-merge").await;
    let form = settings_form(&me, &service_path).await;
    me.field(&form, "Keep theirs: rr")
        .await
        .click()
        .await
        .expect("keep their scheduler");
    me.press(&form, "Save settings").await;
    me.expect_page(SERVICE, 200).await;
    assert_eq!(me.committed().await, format!("service {SERVICE} saved."));
    let form = settings_form(&me, &service_path).await;
    assert_eq!(value(&me.field(&form, "Scheduler").await).await, "rr");
    assert_eq!(value(&me.field(&form, "Description").await).await, "mine");

    // The change history names both of us.
    me.goto("/clusters/shop/changes").await;
    me.expect_page("Changes to shop", 200).await;
    let rows = me.find_all("main table tbody tr").await;
    assert!(text(&rows[0]).await.contains("admin from"));
    assert!(text(&rows[1]).await.contains("olivia from"));
    olivia.quit().await;
    me.quit().await;
}

async fn settings_form(b: &Browser, service_path: &str) -> Element {
    b.find(&format!("main form[action='{service_path}']")).await
}

async fn open_editor(b: &Browser, service_path: &str) {
    b.goto(service_path).await;
    b.expect_page(SERVICE, 200).await;
    b.follow(&b.find("main").await, "Bulk edit with plan").await;
    b.expect_page(&format!("Bulk edit: {SERVICE}"), 200).await;
}

/// Types `text` into the open editor and asks for the plan; returns the one marked line.
async fn plan(b: &Browser, text_typed: &str) -> String {
    let editor = b.find("main form[action$='/pool']").await;
    b.fill(&editor, "Real servers, one per line", text_typed)
        .await;
    b.press(&editor, "Show the plan").await;
    b.expect_page(&format!("Bulk edit: {SERVICE}"), 200).await;
    let note = text(&b.find("#merge-note").await).await;
    assert!(
        note.contains("Someone changed this pool after you loaded it"),
        "{note}"
    );
    let lines = b.find_all("#marked-lines li").await;
    assert_eq!(lines.len(), 1, "one marked line");
    text(&lines[0]).await
}

/// Sets a real server's weight on the service page, as olivia does.
async fn set_weight(b: &Browser, service_path: &str, key: &str, weight: &str) {
    b.goto(service_path).await;
    b.expect_page(SERVICE, 200).await;
    let row = pool_row(b, key).await;
    b.fill(&row, &format!("Weight of {key}"), weight).await;
    b.press(&row, "Set").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(
        b.committed().await,
        format!("weight of {key} set to {weight}.")
    );
}

async fn weight(b: &Browser, key: &str) -> String {
    let row = pool_row(b, key).await;
    value(&b.field(&row, &format!("Weight of {key}")).await).await
}

async fn pool_row(b: &Browser, key: &str) -> Element {
    let xpath = format!(".//table[@id='pool']//tr[th[normalize-space()='{key}']]");
    b.within(&b.find("main").await, &xpath).await
}

//! Two people, two roles: an operator signs in and changes a weight; the history names it;
//! an admin finds the change in the audit log by the operator's name and reverts it from
//! the Changes page.

use serde_json::json;

use crate::app::{screenshot_dir, App};
use crate::driver::{text, value, Browser};

const SERVICE: &str = "tcp:192.0.2.20:80";
const OPERATOR_PASSWORD: &str = "a long enough password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_change_is_audited_and_an_admin_reverts_it() {
    crate::within_limit(run()).await;
}

async fn run() {
    let app = App::start().await;
    let shots = screenshot_dir();
    // What an admin's setup script does: a cluster, a service, and the operator's account.
    app.post("/api/v1/clusters", &json!({"name": "shop"}), None, 201)
        .await;
    let service = app
        .post(
            "/api/v1/clusters/shop/services",
            &json!({"protocol": "tcp", "address": "192.0.2.20", "port": 80,
                    "real_servers": [{"address": "10.2.0.1", "forwarding": "masq"},
                                     {"address": "10.2.0.2", "forwarding": "masq"}]}),
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

    // The operator changes a weight, and sees the change under its name.
    let b = Browser::start(app.base.clone()).await;
    b.goto(&service_path).await;
    b.sign_in("olivia", OPERATOR_PASSWORD).await;
    b.expect_page(SERVICE, 200).await;
    let nav = b.find("header nav").await;
    assert!(
        !text(&nav).await.contains("Audit log"),
        "the audit log is for admins"
    );
    let row = pool_row(&b, "10.2.0.1:80").await;
    b.fill(&row, "Weight of 10.2.0.1:80", "7").await;
    b.press(&row, "Set").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(b.committed().await, "weight of 10.2.0.1:80 set to 7.");
    let tabs = b.find("nav[aria-label='Cluster shop']").await;
    b.follow(&tabs, "Changes").await;
    b.expect_page("Changes to shop", 200).await;
    let newest = text(&b.find("main table tbody tr").await).await;
    assert!(
        newest.starts_with("2 ") && newest.contains("olivia from 127.0.0.1 web UI"),
        "{newest}"
    );
    assert!(
        !b.main_text().await.contains("Revert to this"),
        "reverting is an admin's"
    );
    let header = b.find("header.topbar").await;
    b.press(&header, "Sign out").await;
    b.expect_page("Sign in", 200).await;

    // The admin finds it in the audit log by the operator's name.
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;
    let nav = b.find("header nav").await;
    b.follow(&nav, "Audit log").await;
    b.expect_page("Audit log", 200).await;
    let filters = b.find("main form[role='search']").await;
    b.fill(&filters, "Actor", "olivia").await;
    b.press(&filters, "Filter").await;
    b.expect_page("Audit log", 200).await;
    let mut rows = Vec::new();
    for row in b.find_all("main table tbody tr").await {
        rows.push(text(&row).await);
    }
    assert_eq!(
        rows.len(),
        3,
        "olivia's sign-in, change, sign-out: {rows:?}"
    );
    assert!(rows[0].contains("olivia logout"), "{rows:?}");
    assert!(
        rows[1].contains("olivia change shop generation 2 web UI 127.0.0.1"),
        "{rows:?}"
    );
    assert!(rows[2].contains("olivia login"), "{rows:?}");
    let filters = b.find("main form[role='search']").await;
    assert_eq!(
        value(&b.field(&filters, "Actor").await).await,
        "olivia",
        "the filter stays filled in"
    );
    b.screenshots(&shots, "audit").await;

    // From the entry to the change, and back to the generation before it.
    let entry = b
        .within(
            &b.find("main").await,
            ".//tr[td[normalize-space()='change']]",
        )
        .await;
    b.follow(&entry, "shop generation 2").await;
    b.expect_page("Generation 2", 200).await;
    assert!(b
        .main_text()
        .await
        .contains("by olivia from 127.0.0.1 through the web UI"));
    let tabs = b.find("nav[aria-label='Cluster shop']").await;
    b.follow(&tabs, "Changes").await;
    let row = b
        .within(&b.find("main").await, ".//tr[th[normalize-space()='1']]")
        .await;
    b.follow(&row, "Revert to this (generation 1)").await;
    b.expect_page("Revert to generation 1", 200).await;
    let plan = b.find("section[aria-labelledby='plan-h']").await;
    b.press(&plan, "Revert to generation 1").await;
    b.expect_page("Generation 3", 200).await;
    assert_eq!(
        b.flash().await,
        "Generation 3: reverted to generation 1's desired state."
    );
    assert!(b
        .main_text()
        .await
        .contains("by admin from 127.0.0.1 through the web UI"));
    b.goto(&service_path).await;
    let row = pool_row(&b, "10.2.0.1:80").await;
    assert_eq!(
        value(&b.field(&row, "Weight of 10.2.0.1:80").await).await,
        "1",
        "the weight is back"
    );
    b.quit().await;
}

async fn pool_row(b: &Browser, key: &str) -> fantoccini::elements::Element {
    let xpath = format!(".//table[@id='pool']//tr[th[normalize-space()='{key}']]");
    b.within(&b.find("main").await, &xpath).await
}

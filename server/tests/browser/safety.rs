//! Safety on the pages: replacing an agent's token asks first and says what it stops; on a
//! phone a real server's controls fit the screen and deleting the service comes last; axe
//! finds what it is there to find, and the API explorer passes it whole.

use fantoccini::elements::Element;
use serde_json::{json, Value};

use crate::app::{screenshot_dir, App};
use crate::driver::{literal, value, Browser};

const ADMIN_PASSWORD: &str = lvs_testkit::server::ADMIN_PASSWORD;
const DESIRED_STATE: &str = "/api/v1/agent/desired-state";
const SERVICE: &str = "tcp:192.0.2.30:80";
/// The phone every layout must fit, in CSS pixels.
const PHONE: (u32, u32) = (390, 844);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_a_director_token_asks_first_and_refuses_the_old_token() {
    crate::within_limit(rotate_director_token()).await;
}

async fn rotate_director_token() {
    let app = App::start().await;
    app.post("/api/v1/clusters", &json!({"name": "edge"}), None, 201)
        .await;
    let directors = "/api/v1/clusters/edge/directors";
    app.post(directors, &json!({"name": "lb1"}), None, 201)
        .await;
    let created = app
        .post(&format!("{directors}/lb1/token"), &Value::Null, None, 201)
        .await;
    let old = created["token"].as_str().expect("a token").to_owned();
    app.agent_get(DESIRED_STATE, &old, 200).await;

    let b = Browser::start(app.base.clone()).await;
    b.goto("/clusters/edge/directors").await;
    b.sign_in("admin", ADMIN_PASSWORD).await;
    b.expect_page("Directors of edge", 200).await;
    let card = b.find("#director-lb1").await;
    b.follow(&card, "Rotate agent token").await;
    b.expect_page("Rotate the agent token of director lb1 in edge?", 200)
        .await;
    let asked = b.main_text().await;
    for expected in [
        "the running agent is refused until it is given the new token",
        "The new token is shown once",
    ] {
        assert!(asked.contains(expected), "{expected:?} in {asked}");
    }
    b.screenshots(&screenshot_dir(), "director-token-confirm")
        .await;
    // Being asked changed nothing.
    app.agent_get(DESIRED_STATE, &old, 200).await;

    let form = b.find("main form").await;
    b.press(&form, "Rotate agent token").await;
    b.expect_page("Agent token for lb1", 200).await;
    let new = value(&b.find("#token").await).await;
    assert!(new.starts_with("lvsa_") && new != old, "{new}");
    app.agent_get(DESIRED_STATE, &old, 401).await;
    app.agent_get(DESIRED_STATE, &new, 200).await;

    // Shown once: the directors page never shows it again.
    b.goto("/clusters/edge/directors").await;
    b.expect_page("Directors of edge", 200).await;
    let html = b
        .js("return document.documentElement.outerHTML;", vec![])
        .await;
    assert!(!html.as_str().unwrap_or_default().contains(&new));
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_a_real_servers_controls_fit_and_deleting_the_service_comes_last() {
    crate::within_limit(phone_layout()).await;
}

async fn phone_layout() {
    let app = App::start().await;
    app.post("/api/v1/clusters", &json!({"name": "shop"}), None, 201)
        .await;
    let service = app
        .post(
            "/api/v1/clusters/shop/services",
            &json!({"protocol": "tcp", "address": "192.0.2.30", "port": 80,
                    "real_servers": [
                        {"address": "10.2.0.1", "forwarding": "masq",
                         "description": "rack 4, second switch, behind the old firewall"},
                        {"address": "10.2.0.2", "forwarding": "masq"}]}),
            None,
            201,
        )
        .await;
    let service_path = format!("/clusters/shop/services/{}", service["id"]);

    let b = Browser::start(app.base.clone()).await;
    b.goto(&service_path).await;
    b.sign_in("admin", ADMIN_PASSWORD).await;
    b.viewport(PHONE.0, PHONE.1).await;
    b.expect_page(SERVICE, 200).await;
    let scroll_width = b
        .js("return document.documentElement.scrollWidth;", vec![])
        .await;
    assert!(
        scroll_width
            .as_u64()
            .is_some_and(|w| w <= u64::from(PHONE.0)),
        "the page is {scroll_width} px wide at {} px",
        PHONE.0
    );

    let key = "10.2.0.1:80";
    let row = pool_row(&b, key).await;
    let controls = [
        ("weight", b.field(&row, &format!("Weight of {key}")).await),
        ("set", button(&b, &row, "Set").await),
        ("drain", button(&b, &row, &format!("Drain {key}")).await),
        (
            "remove",
            b.within(
                &row,
                &format!(
                    ".//a[normalize-space()={}]",
                    literal(&format!("Remove {key}"))
                ),
            )
            .await,
        ),
    ];
    b.js(
        "arguments[0].scrollIntoView({ block: 'start' });",
        vec![element(&row)],
    )
    .await;
    for (name, control) in &controls {
        let rect = b
            .js(
                "const r = arguments[0].getBoundingClientRect(); \
                 return [r.left, r.right, r.top, r.bottom, window.scrollX];",
                vec![element(control)],
            )
            .await;
        let at = |i: usize| rect.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let (left, right, top, bottom, scroll_x) = (at(0), at(1), at(2), at(3), at(4));
        let (width, height) = (f64::from(PHONE.0), f64::from(PHONE.1));
        assert!(
            left >= 0.0 && right <= width && top >= 0.0 && bottom <= height && scroll_x == 0.0,
            "the {name} control of {key} at {}x{} px is at x {left}..{right}, y {top}..{bottom} \
             (page scrolled {scroll_x} px sideways)",
            PHONE.0,
            PHONE.1
        );
    }

    // Deleting the service is neither the page's first control nor before a real server's.
    let main = b.find("main").await;
    let delete = b
        .within(&main, ".//a[normalize-space()='Delete service']")
        .await;
    let first = b
        .js(
            "const c = document.querySelector('main :is(a[href], button, input:not([type=hidden]), \
             select, textarea, summary)'); return c.textContent.trim();",
            vec![],
        )
        .await;
    assert_ne!(first.as_str(), Some("Delete service"));
    let (_, remove) = &controls[3];
    let after = b
        .js(
            "return !!(arguments[0].compareDocumentPosition(arguments[1]) \
             & Node.DOCUMENT_POSITION_FOLLOWING);",
            vec![element(remove), element(&delete)],
        )
        .await;
    assert_eq!(
        after,
        Value::Bool(true),
        "Delete service comes after the real servers' controls"
    );
    b.screenshots(&screenshot_dir(), "service-phone").await;

    // The controls work at that width.
    b.viewport(PHONE.0, PHONE.1).await;
    let row = pool_row(&b, key).await;
    b.fill(&row, &format!("Weight of {key}"), "5").await;
    b.press(&row, "Set").await;
    b.expect_page(SERVICE, 200).await;
    assert_eq!(b.committed().await, format!("weight of {key} set to 5."));
    let row = pool_row(&b, key).await;
    b.press(&row, &format!("Drain {key}")).await;
    b.expect_page(SERVICE, 200).await;
    assert!(b.committed().await.starts_with(&format!("{key} drained")));
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axe_finds_a_nameless_button_and_passes_the_api_explorer() {
    crate::within_limit(explorer()).await;
}

async fn explorer() {
    let app = App::start().await;
    let b = Browser::start(app.base.clone()).await;

    // The check can fail: a button with no name is a critical violation.
    b.goto("/login").await;
    b.expect_page("Sign in", 200).await;
    b.js(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<button></button>');",
        vec![],
    )
    .await;
    let found = b.axe_violations().await;
    assert!(
        found
            .iter()
            .any(|v| v.starts_with("axe button-name (critical)")),
        "{found:?}"
    );

    // The explorer, with one operation open, its parameters and responses shown.
    b.goto("/api/docs").await;
    b.sign_in("admin", ADMIN_PASSWORD).await;
    b.goto("/api/docs").await;
    let operation = b.find("#operations-clusters-listClusters button").await;
    operation.click().await.expect("open an operation");
    b.find("#operations-clusters-listClusters .responses-wrapper")
        .await;
    // Our stylesheet and settings leave nothing in Swagger UI's own markup to except.
    b.axe("API explorer").await;
    // And once it has called the API (as the signed-in admin) and shows the answer.
    let execute = b
        .find("#operations-clusters-listClusters button.execute")
        .await;
    execute.click().await.expect("execute an operation");
    b.find("#operations-clusters-listClusters .live-responses-table")
        .await;
    b.axe("API explorer, an answer shown").await;
    b.screenshots(&screenshot_dir(), "api-explorer").await;
    b.quit().await;
}

async fn pool_row(b: &Browser, key: &str) -> Element {
    let xpath = format!(
        ".//table[@id='pool']//tr[th[normalize-space()={}]]",
        literal(key)
    );
    b.within(&b.find("main").await, &xpath).await
}

async fn button(b: &Browser, scope: &Element, label: &str) -> Element {
    b.within(
        scope,
        &format!(".//button[normalize-space()={}]", literal(label)),
    )
    .await
}

/// `element` as a script's argument.
fn element(element: &Element) -> Value {
    serde_json::to_value(element).expect("an element as JSON")
}

//! The UI without a mouse: Tab from the top of a page reaches the skip link first, then the
//! main navigation; the skip link moves on to the content; Enter submits a form.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;

use crate::app::App;
use crate::driver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_reaches_the_skip_link_the_navigation_and_submits_forms() {
    crate::within_limit(run()).await;
}

async fn run() {
    let app = App::start().await;
    let b = Browser::start(app.base.clone()).await;
    b.sign_in("admin", lvs_testkit::server::ADMIN_PASSWORD)
        .await;

    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    press(&b, Key::Tab).await;
    let skip = focused(&b).await;
    assert_eq!(
        (
            skip["tag"].as_str(),
            skip["text"].as_str(),
            skip["href"].as_str()
        ),
        (Some("a"), Some("Skip to content"), Some("#main")),
        "the first Tab reaches the skip link: {skip}"
    );
    assert!(
        skip["top"].as_f64().is_some_and(|t| t >= 0.0) && skip["visible"] == true,
        "the focused skip link is on screen: {skip}"
    );

    // On into the main navigation, in order.
    let mut order = Vec::new();
    for _ in 0..4 {
        press(&b, Key::Tab).await;
        let now = focused(&b).await;
        order.push(now["text"].as_str().unwrap_or_default().to_owned());
        if now["in_main_nav"] == true {
            break;
        }
    }
    assert_eq!(
        order,
        ["LVS Fleet", "Fleet"],
        "after the skip link: the brand, then the main navigation"
    );

    // The skip link takes the keyboard past the navigation, into the content.
    b.goto("/").await;
    b.expect_page("Fleet", 200).await;
    press(&b, Key::Tab).await;
    press(&b, Key::Enter).await;
    assert!(b.url().await.ends_with("#main"), "{}", b.url().await);
    press(&b, Key::Tab).await;
    let next = focused(&b).await;
    assert!(
        next["in_main"] == true,
        "Tab after the skip link lands in <main>: {next}"
    );
    assert_eq!(next["text"], "New cluster", "{next}");

    // Enter in a text field submits its form.
    press(&b, Key::Enter).await;
    b.expect_page("New cluster", 200).await;
    let form = b.find("main form").await;
    let name = b.field(&form, "Name").await;
    name.send_keys("edge").await.expect("type the name");
    let enter: char = Key::Enter.into();
    name.send_keys(&enter.to_string())
        .await
        .expect("press Enter");
    b.expect_page("Directors of edge", 200).await;
    assert_eq!(
        b.flash().await,
        "Cluster edge created. Add its directors, then its services."
    );

    b.quit().await;
}

/// Presses and releases `key` wherever the focus is.
async fn press(b: &Browser, key: Key) {
    let key: char = key.into();
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    b.client
        .perform_actions(actions)
        .await
        .expect("press a key");
}

/// What has the focus: tag, text, `href` attribute, where it is and whether it shows.
async fn focused(b: &Browser) -> Value {
    b.js(
        "const el = document.activeElement; \
         const r = el.getBoundingClientRect(); \
         const style = getComputedStyle(el); \
         return { tag: el.tagName.toLowerCase(), text: el.textContent.trim(), \
                  href: el.getAttribute('href'), top: r.top, \
                  visible: r.width > 1 && r.height > 1 && style.visibility !== 'hidden' \
                           && r.bottom > 0 && r.right > 0, \
                  in_main_nav: !!el.closest('nav[aria-label=\"Main\"]'), \
                  in_main: !!el.closest('main') };",
        vec![],
    )
    .await
}

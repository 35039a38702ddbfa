//! A cluster's settings page (description, timeouts, VIPs, IPVS sysctls) and the host
//! settings of the new-cluster form: shown as stored, saved through the edit layer with the
//! form's ETag, refused with each bad field marked and the input kept, read only below admin.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::ui_browser::*;

const PAGE: &str = "/clusters/web/settings";

/// Cluster `web` with timeouts and host settings set through the API.
async fn configured(app: &TestApp) {
    app.post(
        "/api/v1/clusters",
        &json!({
            "name": "web", "description": "shop",
            "timeouts": {"tcp": 900, "udp": 60},
            "host": {"vips": {"interface": "eth1", "create": false},
                     "sysctls": {"conn_reuse_mode": 2, "conntrack": true, "snat_reroute": false}}
        }),
    )
    .await
    .expect(201);
}

async fn host(app: &TestApp) -> Value {
    app.get(&cluster_path("web")).await.expect(200)["host"].clone()
}

/// The select `name` of the settings form, as a tag.
#[track_caller]
fn select(html: &str, name: &str) -> String {
    tag_where(form_html(html, PAGE), "select", "name", name)
}

#[tokio::test]
async fn ui_cluster_settings_page_shows_the_stored_settings() {
    let app = TestApp::spawn().await;
    configured(&app).await;
    let mut browser = Browser::new(&app);
    let cluster = browser.page("/clusters/web").await;
    assert_eq!(
        link_labelled(&cluster.text, "Settings").as_deref(),
        Some(PAGE),
        "a tab of the cluster's pages"
    );

    let page = browser.page(PAGE).await;
    let html = &page.text;
    let value = |name: &str| field(html, PAGE, name);
    assert_eq!(value("description"), "shop");
    assert_eq!(value("timeouts.tcp"), "900");
    assert_eq!(value("timeouts.tcpfin"), "");
    assert_eq!(value("timeouts.udp"), "60");
    assert_eq!(value("host.vips"), "existing");
    assert_eq!(value("host.vips.interface"), "eth1");
    assert_eq!(value("host.sysctls.conn_reuse_mode"), "2");
    assert_eq!(value("host.sysctls.conntrack"), "on");
    assert_eq!(value("host.sysctls.snat_reroute"), "off");
    assert_eq!(value("host.sysctls.sloppy_tcp"), "", "host default");
    assert!(!value("etag").is_empty());
    assert_eq!(value("generation"), "0");
    assert!(text(html).contains("Save settings"));

    // Each sysctl is labelled, and described by its hint.
    let sloppy = select(html, "host.sysctls.sloppy_tcp");
    let id = attr(&sloppy, "id").expect("an id");
    assert_eq!(element_text(html, "label", "for", &id), "sloppy_tcp");
    let hint = attr(&sloppy, "aria-describedby").expect("described");
    assert!(element_text(html, "small", "id", &hint).contains("not only a SYN"));
    let choices: Vec<String> = tags(form_html(html, PAGE), "input")
        .filter(|t| attr(t, "type").as_deref() == Some("radio"))
        .filter_map(|t| attr(t, "value"))
        .collect();
    assert_eq!(choices, ["none", "create", "existing"]);
    assert!(text(html).contains("Not managed (something else holds the VIPs"));
}

#[tokio::test]
async fn ui_cluster_settings_save_a_new_generation_shown_in_the_changes() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut browser = Browser::new(&app);
    let page = browser.page(PAGE).await;
    assert_eq!(field(&page.text, PAGE, "host.vips"), "none");
    let typed = [
        ("timeouts.tcp", "600"),
        ("host.vips", "create"),
        ("host.sysctls.conn_reuse_mode", "2"),
        ("host.sysctls.conntrack", "on"),
    ];
    let saved = browser.submit(&page.text, PAGE, &typed).await;
    assert_eq!(redirected(&saved), PAGE);
    assert_eq!(app.generation("web").await, 1);
    let page = browser.follow(&saved).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Generation 1: settings of cluster web saved.")
    );
    let stored = app.get(&cluster_path("web")).await.expect(200).clone();
    assert_eq!(stored["timeouts"]["tcp"], 600);
    assert_eq!(
        stored["host"]["vips"],
        json!({"interface": "lvs0", "create": true})
    );
    assert_eq!(stored["host"]["sysctls"]["conn_reuse_mode"], 2);
    assert_eq!(stored["host"]["sysctls"]["conntrack"], true);
    assert_eq!(stored["host"]["sysctls"]["sloppy_tcp"], Value::Null);
    assert_eq!(
        field(&page.text, PAGE, "host.vips"),
        "create",
        "shown as saved"
    );

    // The Changes pages say what moved.
    let changes = text(&browser.page("/clusters/web/changes").await.text);
    assert!(
        changes.contains("timeouts changed, host settings changed"),
        "{changes}"
    );
    let detail = text(&browser.page("/clusters/web/changes/1").await.text);
    assert!(
        detail.contains(
            "~ changed: host settings: VIPs not managed → dummy interface lvs0; \
             conn_reuse_mode host default → 2; conntrack host default → on"
        ),
        "{detail}"
    );
    assert!(
        detail.contains("~ changed: connection timeouts: tcp none → 600"),
        "{detail}"
    );

    // The description alone is no change of the desired state.
    let saved = browser
        .submit(&page.text, PAGE, &[("description", "edge")])
        .await;
    let page = browser.follow(&saved).await;
    assert_eq!(
        flash(&page.text).as_deref(),
        Some("Settings of cluster web saved.")
    );
    assert_eq!(app.generation("web").await, 1);
    assert_eq!(
        app.get(&cluster_path("web")).await.expect(200)["description"],
        "edge"
    );

    // Back to not managed, and every sysctl to the host's own.
    let mut typed = vec![("host.vips", "none")];
    typed.extend(cluster_sysctls().map(|name| (name, "")));
    let saved = browser.submit(&page.text, PAGE, &typed).await;
    redirected(&saved);
    assert_eq!(app.generation("web").await, 2);
    let host = host(&app).await;
    assert_eq!(host["vips"], Value::Null);
    assert!(host["sysctls"]
        .as_object()
        .expect("sysctls")
        .values()
        .all(Value::is_null));
}

fn cluster_sysctls() -> impl Iterator<Item = &'static str> {
    [
        "host.sysctls.conn_reuse_mode",
        "host.sysctls.expire_nodest_conn",
        "host.sysctls.expire_quiescent_template",
        "host.sysctls.sloppy_tcp",
        "host.sysctls.sloppy_sctp",
        "host.sysctls.conntrack",
        "host.sysctls.schedule_icmp",
        "host.sysctls.ignore_tunneled",
        "host.sysctls.snat_reroute",
    ]
    .into_iter()
}

#[tokio::test]
async fn ui_cluster_settings_mark_each_bad_field_and_keep_the_input() {
    let app = TestApp::spawn().await;
    configured(&app).await;
    let before = host(&app).await;
    let mut browser = Browser::new(&app);
    let page = browser.page(PAGE).await;
    let typed = [
        ("description", "typed"),
        ("host.vips", "create"),
        ("host.vips.interface", "eth0:1"),
        ("host.sysctls.sloppy_tcp", "on"),
        ("timeouts.udp", "45"),
    ];
    let refused = browser.submit_refused(&page.text, PAGE, &typed).await;
    let html = &refused.text;
    let interface = tag_where(
        form_html(html, PAGE),
        "input",
        "id",
        "f-host.vips.interface",
    );
    assert_eq!(attr(&interface, "aria-invalid").as_deref(), Some("true"));
    assert_eq!(attr(&interface, "value").as_deref(), Some("eth0:1"));
    let error = element_text(html, "p", "id", "e-host.vips.interface");
    assert!(error.starts_with("must not contain ':'"), "{error}");
    for (name, value) in typed {
        assert_eq!(field(html, PAGE, name), value, "{name} is kept");
    }
    assert!(
        !html.contains("role=\"alert\""),
        "no problem beyond the field"
    );

    // A sysctl out of range and a timeout that is not a number: both marked at once.
    let typed = [
        ("host.sysctls.conn_reuse_mode", "7"),
        ("timeouts.tcp", "soon"),
    ];
    let refused = browser.submit_refused(&page.text, PAGE, &typed).await;
    let html = &refused.text;
    let mode = select(html, "host.sysctls.conn_reuse_mode");
    assert_eq!(attr(&mode, "aria-invalid").as_deref(), Some("true"));
    assert!(attr(&mode, "aria-describedby")
        .is_some_and(|d| d.contains("e-host.sysctls.conn_reuse_mode")));
    assert_eq!(
        element_text(html, "p", "id", "e-host.sysctls.conn_reuse_mode"),
        "must be between 0 and 3, not 7"
    );
    assert_eq!(
        element_text(html, "p", "id", "e-timeouts.tcp"),
        "must be a whole number, not \"soon\""
    );
    assert_eq!(field(html, PAGE, "timeouts.tcp"), "soon");

    assert_eq!(host(&app).await, before, "nothing was written");
    assert_eq!(app.generation("web").await, 0);
}

#[tokio::test]
async fn ui_cluster_settings_refuse_a_stale_form() {
    let app = TestApp::spawn().await;
    configured(&app).await;
    let mut browser = Browser::new(&app);
    let page = browser.page(PAGE).await;
    app.patch_ok(
        &cluster_path("web"),
        &json!({"host": {"sysctls": {"sloppy_tcp": true}}}),
    )
    .await;
    let generation = app.generation("web").await;

    let typed = [("host.sysctls.conntrack", "off"), ("description", "mine")];
    let refused = browser.submit_refused(&page.text, PAGE, &typed).await;
    let alert = element_text(form_html(&refused.text, PAGE), "div", "role", "alert");
    assert!(
        alert
            .starts_with("Someone else changed this since you opened the page; nothing was saved."),
        "{alert}"
    );
    assert_eq!(
        link_labelled(form_html(&refused.text, PAGE), "Reload").as_deref(),
        Some(PAGE)
    );
    assert_eq!(field(&refused.text, PAGE, "host.sysctls.conntrack"), "off");
    assert_eq!(field(&refused.text, PAGE, "description"), "mine");
    let host = host(&app).await;
    assert_eq!(host["sysctls"]["conntrack"], true, "theirs stays");
    assert_eq!(host["sysctls"]["sloppy_tcp"], true);
    assert_eq!(app.generation("web").await, generation);

    // Reloading gives a form that saves over their change.
    let page = browser.page(PAGE).await;
    assert_eq!(field(&page.text, PAGE, "host.sysctls.sloppy_tcp"), "on");
    redirected(&browser.submit(&page.text, PAGE, &typed).await);
    assert_eq!(app.generation("web").await, generation + 1);
}

#[tokio::test]
async fn ui_cluster_settings_are_read_only_below_admin() {
    let app = TestApp::spawn().await;
    configured(&app).await;
    let operator = app.session_of("web-operator", "operator").await;
    sql_execute(
        &app,
        "INSERT INTO user_grants (user_id, cluster_id)
         SELECT u.id, c.id FROM users u, clusters c
         WHERE u.name = 'web-operator' AND c.name = 'web'",
    )
    .await;
    let viewer = app.session_of("reader", "viewer").await;
    let admin_page = Browser::new(&app).page(PAGE).await;

    for session in [&viewer, &operator] {
        let mut browser = Browser::with_session(&app, Some(session));
        let page = browser.page(PAGE).await;
        let html = &page.text;
        assert!(!has_form(html, PAGE), "no form to save");
        assert!(!text(html).contains("Save settings"));
        assert!(html.contains("<fieldset class=\"stacked read-only\" disabled>"));
        assert!(text(html).contains("Only an admin may change a cluster's settings."));
        // The settings are shown all the same.
        let interface = tag_where(html, "input", "id", "f-host.vips.interface");
        assert_eq!(attr(&interface, "value").as_deref(), Some("eth1"));

        // A form made elsewhere is refused before anything is read.
        let mut pairs = form_fields(&admin_page.text, PAGE);
        let token = browser.token().await;
        pairs.retain(|(name, _)| name != "_csrf");
        pairs.push(("_csrf".into(), token));
        pairs.push(("description".into(), "theirs".into()));
        let refused = browser.post_pairs(PAGE, &pairs).await;
        assert_html(&refused, 403);
    }
    let stored = app.get(&cluster_path("web")).await.expect(200).clone();
    assert_eq!(stored["description"], "shop");
}

#[tokio::test]
async fn ui_new_cluster_sets_where_the_vips_live() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let form = browser.page("/new-cluster").await;
    assert_eq!(field(&form.text, "/clusters", "host.vips"), "none");
    assert_eq!(
        field(&form.text, "/clusters", "host.vips.interface"),
        "lvs0"
    );

    // Not managed by default.
    let created = browser
        .submit(&form.text, "/clusters", &[("name", "plain")])
        .await;
    redirected(&created);
    let plain = app.get(&cluster_path("plain")).await.expect(200).clone();
    assert_eq!(plain["host"]["vips"], Value::Null);

    let typed = [
        ("name", "edge"),
        ("host.vips", "existing"),
        ("host.vips.interface", "a-much-too-long-name"),
    ];
    let refused = browser
        .submit_refused(&form.text, "/clusters", &typed)
        .await;
    let error = element_text(&refused.text, "p", "id", "e-host.vips.interface");
    assert!(error.starts_with("must be at most 15 bytes"), "{error}");
    assert_eq!(field(&refused.text, "/clusters", "host.vips"), "existing");

    let typed = [
        ("name", "edge"),
        ("host.vips", "existing"),
        ("host.vips.interface", "bond0"),
    ];
    redirected(&browser.submit(&form.text, "/clusters", &typed).await);
    let edge = app.get(&cluster_path("edge")).await.expect(200).clone();
    assert_eq!(
        edge["host"]["vips"],
        json!({"interface": "bond0", "create": false})
    );
    assert_eq!(
        app.generation("edge").await,
        0,
        "creating sets no desired state"
    );
}

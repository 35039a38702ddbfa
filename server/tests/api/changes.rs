//! `/api/v1/clusters/{cluster}/changes`: the history of every cluster's desired state.

use std::future::Future;

use lvs_model::{DesiredState, Diff};
use serde_json::{json, Value};

use crate::helpers::*;

fn changes_path(cluster: &str) -> String {
    format!("/api/v1/clusters/{cluster}/changes")
}

fn change_path(cluster: &str, generation: u64) -> String {
    format!("/api/v1/clusters/{cluster}/changes/{generation}")
}

/// Every change of a cluster, newest first, following cursors pages of `limit`.
async fn all_changes(app: &TestApp, cluster: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("{}?limit={limit}", changes_path(cluster));
    loop {
        let page = app.get(&path).await.expect(200).clone();
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("{}?limit={limit}&cursor={next}", changes_path(cluster)),
            None => return items,
        }
    }
}

fn state_of(document: Value) -> DesiredState {
    serde_json::from_value(document).expect("a served desired state is valid")
}

/// Runs `write`, checks that it recorded exactly one change, of the next generation, made by
/// `source`, whose diff is the model's diff between the desired states before and after it,
/// and returns that change with its diff.
async fn expect_one_change(
    app: &TestApp,
    cluster: &str,
    source: &str,
    write: impl Future<Output = ()>,
) -> Value {
    let (before, _) = app.desired_state(cluster).await;
    let history = all_changes(app, cluster, 1000).await;
    write.await;
    let (after, _) = app.desired_state(cluster).await;
    let generation = after["generation"].as_u64().expect("generation");
    assert_eq!(before["generation"].as_u64(), Some(generation - 1));

    let now = all_changes(app, cluster, 1000).await;
    assert_eq!(now.len(), history.len() + 1, "one change recorded: {now:?}");
    assert_eq!(
        &now[1..],
        &history[..],
        "older changes are kept as they were"
    );
    let listed = &now[0];
    assert_eq!(listed["generation"], generation);
    assert_eq!(listed["source"], source);
    assert_eq!(listed["truncated"], false);
    assert!(listed.get("diff").is_none(), "lists leave the diffs out");
    let committed = listed["committed_at"].as_str().expect("committed_at");
    time::OffsetDateTime::parse(committed, &time::format_description::well_known::Rfc3339)
        .expect("committed_at is RFC 3339");

    let detail = app.get(&change_path(cluster, generation)).await;
    let detail = detail.expect(200).clone();
    let expected = serde_json::to_value(Diff::between(&state_of(before), &state_of(after)))
        .expect("serialise the expected diff");
    assert_eq!(detail["diff"], expected, "the recorded diff is the model's");
    assert_eq!(detail["summary"], expected["summary"]);
    for field in [
        "generation",
        "committed_at",
        "source",
        "summary",
        "truncated",
    ] {
        assert_eq!(detail[field], listed[field], "{field} as listed");
    }
    detail
}

#[tokio::test]
async fn every_service_and_real_server_edit_records_one_change() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let created = &all_changes(&app, "web", 10).await[0];
    assert_eq!(created["generation"], 1);
    assert_eq!(
        created["summary"],
        json!({"services_added": 1, "services_removed": 0, "services_changed": 0,
               "real_servers_added": 2, "real_servers_removed": 0, "real_servers_changed": 0,
               "timeouts_changed": false, "host_changed": false})
    );

    let web = service_path("web", service);
    let change = expect_one_change(&app, "web", "api", async {
        let body = json!({"scheduler": "rr"});
        app.patch_ok(&web, &body).await;
    })
    .await;
    let entry = &change["diff"]["services"][0];
    assert_eq!(entry["change"], "changed");
    assert_eq!(entry["settings"]["old"]["scheduler"], "wlc");
    assert_eq!(entry["settings"]["new"]["scheduler"], "rr");
    assert_eq!(change["summary"]["services_changed"], 1);

    // A new key is another service to the kernel: removed and added, real servers and all.
    let change = expect_one_change(&app, "web", "api", async {
        let body = json!({"port": 8080});
        app.patch_ok(&web, &body).await;
    })
    .await;
    let summary = &change["summary"];
    assert_eq!(
        (&summary["services_removed"], &summary["services_added"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(summary["real_servers_removed"], 2);

    let servers = real_servers("web", service);
    let added = expect_one_change(&app, "web", "api", async {
        app.post(&servers, &masq_server(3, 80)).await.expect(201);
    })
    .await;
    let entry = &added["diff"]["services"][0];
    assert_eq!(entry["key"], "tcp:10.0.0.1:8080");
    assert_eq!(entry["real_servers"][0]["change"], "added");
    assert_eq!(entry["real_servers"][0]["key"], "10.1.0.3:80");
    let listed = app.get(&format!("{servers}?address=10.1.0.3")).await;
    let server = id(&listed.expect(200)["items"][0]);
    let path = real_server_path("web", service, server);

    let change = expect_one_change(&app, "web", "api", async {
        let body = json!({"weight": 7});
        app.patch_ok(&path, &body).await;
    })
    .await;
    let entry = &change["diff"]["services"][0]["real_servers"][0];
    assert_eq!(entry["change"], "changed");
    assert_eq!(
        (&entry["old"]["weight"], &entry["new"]["weight"]),
        (&json!(1), &json!(7))
    );

    for action in ["drain", "restore"] {
        let change = expect_one_change(&app, "web", "api", async {
            app.post_empty(&format!("{path}/{action}"), None)
                .await
                .expect(200);
        })
        .await;
        assert_eq!(change["summary"]["real_servers_changed"], 1, "{action}");
    }

    // A new address is another real server.
    let change = expect_one_change(&app, "web", "api", async {
        let body = json!({"address": "10.1.0.4"});
        app.patch_ok(&path, &body).await;
    })
    .await;
    let summary = &change["summary"];
    assert_eq!(
        (
            &summary["real_servers_removed"],
            &summary["real_servers_added"]
        ),
        (&json!(1), &json!(1))
    );

    let change = expect_one_change(&app, "web", "api", async {
        app.delete(&path, None).await.expect(204);
    })
    .await;
    assert_eq!(
        change["diff"]["services"][0]["real_servers"][0]["change"],
        "removed"
    );

    let change = expect_one_change(&app, "web", "api", async {
        app.delete(&web, None).await.expect(204);
    })
    .await;
    let entry = &change["diff"]["services"][0];
    assert_eq!(entry["change"], "removed");
    assert_eq!(
        entry["service"]["real_servers"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(change["summary"]["real_servers_removed"], 2);

    let change = expect_one_change(&app, "web", "api", async {
        let spec = json!({"protocol": "udp", "address": "10.0.0.9", "port": 53,
                          "real_servers": [masq_server(9, 53)]});
        app.post(&services("web"), &spec).await.expect(201);
    })
    .await;
    assert_eq!(change["diff"]["services"][0]["change"], "added");
    assert_eq!(all_changes(&app, "web", 3).await.len(), 11);
}

#[tokio::test]
async fn cluster_timeouts_declarative_applies_and_imports_record_one_change() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;

    let change = expect_one_change(&app, "web", "api", async {
        let body = json!({"timeouts": {"tcp": 900}});
        app.patch_ok(&cluster_path("web"), &body).await;
    })
    .await;
    assert_eq!(change["diff"]["timeouts"]["new"]["tcp"], 900);
    assert_eq!(change["summary"]["timeouts_changed"], true);
    assert_eq!(change["diff"]["services"], json!([]));

    let mut service = tcp_service(80);
    service["real_servers"] = json!([masq_server(1, 80)]);
    let mut bare = tcp_service(443);
    bare["real_servers"] = json!([]);
    let document = json!({"timeouts": {"tcp": 900}, "services": [service, bare]});
    let mut answered = Value::Null;
    let change = expect_one_change(&app, "web", "api", async {
        let resp = app.put(&desired_state("web"), &document, None).await;
        answered = resp.expect(200).clone();
    })
    .await;
    assert_eq!(
        change["diff"], answered,
        "the applied diff is the recorded one"
    );
    assert_eq!(change["summary"]["services_added"], 2);

    // Imports are told apart, whoever asks for them.
    app.create_cluster("adopted").await;
    let token = app.create_agent("adopted", "lb1").await;
    let mut report = apply_report(0, &[]);
    report["unmanaged_services"] = json!([tcp_service(80), {"fwmark": 42, "family": "ipv4"}]);
    app.agent_report(&token, &report).await;
    let mut answered = Value::Null;
    let change = expect_one_change(&app, "adopted", "import", async {
        let path = "/api/v1/clusters/adopted/import?from_director=lb1";
        answered = app.post_empty(path, None).await.expect(200).clone();
    })
    .await;
    // The answer is the recorded diff, and what the import left out.
    let not_imported = answered
        .as_object_mut()
        .and_then(|a| a.remove("not_imported"));
    assert!(not_imported.is_some(), "{answered:#}");
    assert_eq!(change["diff"], answered);
    assert_eq!(change["summary"]["services_added"], 2);
}

#[tokio::test]
async fn writes_that_change_no_desired_state_record_nothing() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let web = service_path("web", service);
    let before = all_changes(&app, "web", 100).await;
    assert_eq!(before.len(), 1);

    // Refused: stale ETag, duplicate, invalid, wrong document generation.
    app.patch(&web, &json!({"scheduler": "rr"}), Some("\"stale\""))
        .await
        .problem(412, "precondition_failed");
    app.post(&services("web"), &tcp_service(80))
        .await
        .problem(409, "already_exists");
    let invalid = app.patch(&web, &json!({"scheduler": "nope"}), None).await;
    assert_eq!(invalid.invalid_fields(), ["scheduler"]);
    let stale_document = json!({"generation": 0, "timeouts": {}, "services": []});
    app.put(&desired_state("web"), &stale_document, None)
        .await
        .problem(412, "precondition_failed");
    // Refused by the model, whatever the order of the checks.
    let two = json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80,
                     "real_servers": [masq_server(1, 80), masq_server(1, 80)]});
    assert_eq!(
        app.post(&services("web"), &two).await.invalid_fields(),
        ["real_servers[1]"]
    );

    // Accepted, but nothing of the desired state changes.
    let (document, _) = app.desired_state("web").await;
    app.put(&desired_state("web"), &document, None)
        .await
        .expect(200);
    let dry = app
        .put(
            &format!("{}?dry_run=true", desired_state("web")),
            &json!({"timeouts": {}, "services": []}),
            None,
        )
        .await;
    assert_eq!(dry.expect(200)["summary"]["services_removed"], 1);
    app.patch_ok(&web, &json!({"scheduler": "wlc"})).await;
    app.patch_ok(&cluster_path("web"), &json!({"description": "front"}))
        .await;
    app.create_agent("web", "lb1").await;

    // The same changes; only their rollout counts the new director.
    let mut after = all_changes(&app, "web", 100).await;
    for change in &mut after {
        change["rollout"]["directors"] = json!(0);
        change["rollout"]["never_seen"] = json!(0);
    }
    assert_eq!(after, before);
    assert_eq!(app.generation("web").await, 1);
}

#[tokio::test]
async fn changes_page_newest_first() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    for port in 1..=5 {
        app.create_service("web", &tcp_service(port)).await;
    }
    let page = app.get(&format!("{}?limit=2", changes_path("web"))).await;
    let page = page.expect(200);
    let generations: Vec<_> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["generation"].clone())
        .collect();
    assert_eq!(generations, [json!(5), json!(4)]);
    assert_eq!(page["next_cursor"], "4");

    for limit in [1, 2, 3, 5, 100] {
        let all = all_changes(&app, "web", limit).await;
        let generations: Vec<_> = all.iter().map(|c| c["generation"].as_u64()).collect();
        assert_eq!(generations, [5, 4, 3, 2, 1].map(Some), "limit {limit}");
    }
    let last = app.get(&format!("{}?limit=5", changes_path("web"))).await;
    assert!(
        last.expect(200).get("next_cursor").is_none(),
        "no cursor on the last page"
    );
    let past = app.get(&format!("{}?cursor=1", changes_path("web"))).await;
    assert_eq!(past.expect(200)["items"], json!([]));

    app.get(&format!("{}?cursor=abc", changes_path("web")))
        .await
        .problem(400, "invalid_query");
    app.get(&format!("{}?limit=0", changes_path("web")))
        .await
        .problem(400, "invalid_query");
    app.get(&changes_path("nope"))
        .await
        .problem(404, "not_found");
    app.create_cluster("empty").await;
    assert_eq!(
        app.get(&changes_path("empty")).await.expect(200)["items"],
        json!([])
    );
}

#[tokio::test]
async fn unknown_generations_and_clusters_are_404() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    app.get(&change_path("web", 1)).await.expect(200);
    for generation in [0, 2, u64::MAX] {
        let problem = app.get(&change_path("web", generation)).await;
        let problem = problem.problem(404, "not_found");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains(&format!("generation {generation}")),
            "{detail}"
        );
    }
    app.get(&change_path("nope", 1))
        .await
        .problem(404, "not_found");
    app.get("/api/v1/clusters/web/changes/first")
        .await
        .problem(400, "invalid_path");

    // A cluster's history goes with it, even if another one takes its name (and its id).
    let force = format!("{}?force=true", cluster_path("web"));
    app.delete(&force, None).await.expect(204);
    app.create_cluster("web").await;
    app.get(&change_path("web", 1))
        .await
        .problem(404, "not_found");
    assert_eq!(all_changes(&app, "web", 10).await, Vec::<Value>::new());
}

/// A document of `services` TCP services with `servers` real servers each.
fn big_document(services: u16, servers: u8) -> Value {
    let services: Vec<Value> = (1..=services)
        .map(|port| {
            let mut service = tcp_service(port);
            service["real_servers"] = (1..=servers).map(|host| masq_server(host, port)).collect();
            service
        })
        .collect();
    json!({"timeouts": {}, "services": services})
}

/// Entries of a diff: the timeouts, each service and each real server.
fn entries(diff: &Value) -> usize {
    let services = diff["services"].as_array().expect("services");
    let servers = |s: &Value| {
        let listed = s
            .get("real_servers")
            .or_else(|| s["service"].get("real_servers"));
        listed.and_then(Value::as_array).map_or(0, Vec::len)
    };
    usize::from(diff.get("timeouts").is_some())
        + services.iter().map(|s| 1 + servers(s)).sum::<usize>()
}

#[tokio::test]
async fn big_diffs_keep_their_summary_and_first_thousand_entries() {
    let app = TestApp::spawn().await;

    // 100 services with 9 real servers: exactly 1,000 entries, all kept.
    app.create_cluster("exact").await;
    let applied = app
        .put(&desired_state("exact"), &big_document(100, 9), None)
        .await;
    let applied = applied.expect(200).clone();
    assert_eq!(entries(&applied), 1000);
    let stored = app.get(&change_path("exact", 1)).await.expect(200).clone();
    assert_eq!(stored["truncated"], false);
    assert_eq!(stored["diff"], applied);

    // 300 services with 10: 3,300 entries, of which the first 1,000 are kept.
    app.create_cluster("big").await;
    let applied = app
        .put(&desired_state("big"), &big_document(300, 10), None)
        .await;
    let applied = applied.expect(200).clone();
    assert_eq!(entries(&applied), 3300);
    let stored = app.get(&change_path("big", 1)).await;
    let size = stored.text.len();
    let stored = stored.expect(200).clone();
    assert_eq!(stored["truncated"], true);
    assert_eq!(all_changes(&app, "big", 10).await[0]["truncated"], true);
    let diff = &stored["diff"];
    assert_eq!(entries(diff), 1000);
    assert_eq!(
        stored["summary"], applied["summary"],
        "the summary counts everything"
    );
    assert_eq!(diff["summary"], applied["summary"]);
    assert_eq!(stored["summary"]["real_servers_added"], 3000);
    // The first 90 services whole (990 entries), then the 91st with 9 of its 10 servers.
    let kept = diff["services"].as_array().expect("services");
    assert_eq!(kept.len(), 91);
    assert_eq!(
        kept[..90],
        applied["services"].as_array().expect("services")[..90]
    );
    let partial = kept[90]["service"]["real_servers"]
        .as_array()
        .expect("servers");
    assert_eq!(partial.len(), 9);
    assert!(size < applied.to_string().len() / 3, "{size} bytes stored");
}

/// The change history names who made each change, how and from where: a service account's
/// token, a user's own token, a user signed in to the UI.
#[tokio::test]
async fn every_change_names_its_author() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let author_of = |generation: u64| {
        let app = &app;
        async move {
            let change = app.get(&change_path("web", generation)).await;
            let listed = all_changes(app, "web", 1000).await;
            let entry = listed
                .iter()
                .find(|c| c["generation"] == generation)
                .expect("listed")
                .clone();
            let author = change.expect(200)["author"].clone();
            assert_eq!(entry["author"], author, "the list says the same");
            (entry["source"].clone(), author)
        }
    };

    // The tests' admin token belongs to the service account `tests`.
    let generation = app.generation("web").await;
    let (source, author) = author_of(generation).await;
    assert_eq!(source, "api");
    assert_eq!(author["kind"], "token");
    assert_eq!(author["name"], "tests");
    assert!(author["token"].as_str().unwrap().starts_with("tests-"));
    assert_eq!(author["client"], "127.0.0.1");

    // A token of user admin's own: the user, and which of its tokens.
    let issued = app
        .post(
            "/api/v1/api-tokens",
            &json!({"name": "deploy", "role": "operator", "user": "admin"}),
        )
        .await;
    let token = issued.expect(201)["token"].as_str().unwrap().to_owned();
    let servers = app.get(&real_servers("web", service)).await;
    let server = id(&servers.expect(200)["items"][0]);
    let patched = app
        .send(
            app.anonymous()
                .patch(app.url(&real_server_path("web", service, server)))
                .bearer_auth(&token)
                .json(&json!({"weight": 3})),
        )
        .await;
    patched.expect(200);
    let (_, author) = author_of(generation + 1).await;
    assert_eq!(
        author,
        json!({"kind": "user", "name": "admin", "token": "deploy", "client": "127.0.0.1"})
    );

    // Signed in to the UI: the user, without a token; the Changes page says so too.
    let mut browser = crate::ui_browser::Browser::new(&app);
    let base = format!("/clusters/web/services/{service}");
    let page = browser.page(&base).await;
    let action = format!("{base}/real-servers/{server}/weight");
    browser
        .submit(&page.text, &action, &[("weight", "4")])
        .await;
    let (source, author) = author_of(generation + 2).await;
    assert_eq!(source, "ui");
    assert_eq!(
        author,
        json!({"kind": "user", "name": "admin", "token": null, "client": "127.0.0.1"})
    );
    let history = crate::ui_browser::text(&browser.page("/clusters/web/changes").await.text);
    assert!(
        history.contains("admin from 127.0.0.1 web UI"),
        "the Changes page names the user: {history}"
    );
    assert!(
        history.contains("admin (token deploy) from 127.0.0.1 API"),
        "{history}"
    );
    let detail = crate::ui_browser::text(
        &browser
            .page(&format!("/clusters/web/changes/{}", generation + 2))
            .await
            .text,
    );
    assert!(
        detail.contains("by admin from 127.0.0.1 through the web UI"),
        "{detail}"
    );
}

/// A change says which directors applied it: a generation counts as applied by a director
/// whose agent applied it or a later one; the others are pending (online), offline or never
/// seen, and one whose last report failed carries that error.
#[tokio::test]
async fn a_change_says_which_directors_applied_it() {
    let agents = lvs_server::agents::AgentOptions {
        online_within: std::time::Duration::from_millis(400),
        ..lvs_server::agents::AgentOptions::default()
    };
    let app = TestApp::spawn_with_agents(agents).await;
    let service = cluster_with_service(&app, "web").await;
    let lb1 = app.create_agent("web", "lb1").await;
    let lb2 = app.create_agent("web", "lb2").await;
    let lb3 = app.create_agent("web", "lb3").await;
    app.create_director("web", "lb4").await;
    // Generation 1 made the service; lb3 applies it and goes quiet.
    app.agent_report(&lb3, &apply_report(1, &[])).await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let added = app
        .create_real_server("web", service, &masq_server(9, 80))
        .await;
    assert_eq!(app.generation("web").await, 2, "{added}");
    app.agent_report(&lb1, &apply_report(2, &[])).await;
    app.agent_report(&lb2, &apply_report(1, &["add real server 10.1.0.9:80"]))
        .await;

    let change = app.get(&change_path("web", 2)).await.expect(200).clone();
    let rollout = &change["rollout"];
    assert_eq!(
        rollout,
        &json!({"directors": 4, "applied": 1, "failed": 0, "pending": 1, "offline": 1,
                "never_seen": 1}),
        "{change}"
    );
    let states: Vec<(&str, &str)> = change["directors"]
        .as_array()
        .expect("directors")
        .iter()
        .map(|d| {
            (
                d["director"].as_str().unwrap_or_default(),
                d["state"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("lb4", "never_seen"),
            ("lb3", "offline"),
            ("lb2", "pending"),
            ("lb1", "applied")
        ]
    );
    let lb2_line = &change["directors"][2];
    assert_eq!(lb2_line["applied_generation"], 1);
    assert!(
        lb2_line["error"]
            .as_str()
            .is_some_and(|e| e.contains("10.1.0.9:80")),
        "{lb2_line}"
    );
    assert!(change["directors"][1]["last_seen"].is_string());
    assert!(change["directors"][0]["last_seen"].is_null());

    // Generation 1 was applied by lb1 (at 2) and lb3 (before it went); lb2's failed report
    // was of generation 1.
    let first = app.get(&change_path("web", 1)).await.expect(200).clone();
    assert_eq!(first["rollout"]["applied"], 2, "{first}");
    assert_eq!(first["rollout"]["failed"], 1, "{first}");
    let listed = all_changes(&app, "web", 10).await;
    let counts: Vec<(u64, u64)> = listed
        .iter()
        .map(|c| {
            let applied = &c["rollout"]["applied"];
            (
                c["generation"].as_u64().unwrap_or(0),
                applied.as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(counts, [(2, 1), (1, 2)]);
}

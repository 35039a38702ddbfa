//! `/api/v1/clusters`.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn cluster_crud() {
    let app = TestApp::spawn().await;

    let created = app
        .post(
            "/api/v1/clusters",
            &json!({"name": "web", "description": "front", "timeouts": {"tcp": 900}}),
        )
        .await;
    let body = created.expect(201).clone();
    assert_eq!(created.location.as_deref(), Some("/api/v1/clusters/web"));
    assert_eq!(created.content_type, "application/json");
    assert_eq!(body["name"], "web");
    assert_eq!(body["description"], "front");
    assert_eq!(
        body["timeouts"],
        json!({"tcp": 900, "tcpfin": null, "udp": null})
    );
    assert_eq!(body["generation"], 0);
    assert!(body["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(body["created_at"], body["updated_at"]);

    let got = app.get("/api/v1/clusters/web").await;
    assert_eq!(got.expect(200), &body);
    assert_eq!(got.etag(), created.etag(), "same representation, same ETag");

    // PUT replaces description and timeouts; the name may be omitted or repeated.
    let put = app
        .put(
            "/api/v1/clusters/web",
            &json!({"description": "frontends", "timeouts": {"udp": 60}}),
            Some(&got.etag()),
        )
        .await;
    let put_body = put.expect(200).clone();
    assert_eq!(put_body["description"], "frontends");
    assert_eq!(
        put_body["timeouts"],
        json!({"tcp": null, "tcpfin": null, "udp": 60})
    );
    assert_ne!(put.etag(), got.etag());
    let put = app
        .put(
            "/api/v1/clusters/web",
            &json!({"name": "web", "description": "frontends", "timeouts": {"udp": 60}}),
            None,
        )
        .await;
    assert_eq!(put.expect(200)["description"], "frontends");

    // PATCH merges: only the fields named change, null removes.
    let patched = app
        .patch(
            "/api/v1/clusters/web",
            &json!({"timeouts": {"tcp": 120}}),
            Some(&put.etag()),
        )
        .await;
    let patched_body = patched.expect(200).clone();
    assert_eq!(patched_body["description"], "frontends");
    assert_eq!(
        patched_body["timeouts"],
        json!({"tcp": 120, "tcpfin": null, "udp": 60})
    );
    let patched = app
        .patch_as(
            "/api/v1/clusters/web",
            &json!({"description": "plain json", "timeouts": {"udp": null}}),
            "application/json",
            None,
        )
        .await;
    assert_eq!(patched.expect(200)["description"], "plain json");
    assert_eq!(
        patched.body["timeouts"],
        json!({"tcp": 120, "tcpfin": null, "udp": null})
    );
    let got = app.get("/api/v1/clusters/web").await;
    assert_eq!(got.expect(200), &patched.body);
    assert_eq!(got.etag(), patched.etag());

    app.delete("/api/v1/clusters/web", Some(&got.etag()))
        .await
        .expect(204);
    app.get("/api/v1/clusters/web")
        .await
        .problem(404, "not_found");
    app.delete("/api/v1/clusters/web", None)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn cluster_list_pages_by_name_and_filters() {
    let app = TestApp::spawn().await;
    for name in ["prod-b", "dev-a", "prod-a", "prod-c", "dev-b"] {
        app.create_cluster(name).await;
    }

    let page = app.get("/api/v1/clusters").await.expect(200).clone();
    let names: Vec<_> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["dev-a", "dev-b", "prod-a", "prod-b", "prod-c"]);
    assert!(page.get("next_cursor").is_none(), "one page: no cursor");

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/api/v1/clusters?limit=2".to_owned();
    loop {
        let page = app.get(&path).await.expect(200).clone();
        let items = page["items"].as_array().expect("items");
        sizes.push(items.len());
        seen.extend(items.iter().map(|c| c["name"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/clusters?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(
        seen,
        ["dev-a", "dev-b", "prod-a", "prod-b", "prod-c"].map(|n| json!(n))
    );

    let filtered = app
        .get("/api/v1/clusters?name=prod")
        .await
        .expect(200)
        .clone();
    let names: Vec<_> = filtered["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, ["prod-a", "prod-b", "prod-c"].map(|n| json!(n)));

    let first = app
        .get("/api/v1/clusters?name=prod&limit=2")
        .await
        .expect(200)
        .clone();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!(
            "/api/v1/clusters?name=prod&limit=2&cursor={cursor}"
        ))
        .await
        .expect(200)
        .clone();
    assert_eq!(second["items"][0]["name"], "prod-c");
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));

    let none = app
        .get("/api/v1/clusters?name=zzz")
        .await
        .expect(200)
        .clone();
    assert_eq!(none["items"], json!([]));
}

#[tokio::test]
async fn deleting_a_cluster_with_services_needs_force() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_director("web", "lb1").await;

    let refused = app.delete("/api/v1/clusters/web", None).await;
    refused.problem(409, "cluster_not_empty");
    app.get(&service_path("web", service)).await.expect(200);
    assert_eq!(app.all_services("web").await.len(), 1);

    app.delete("/api/v1/clusters/web?force=true", None)
        .await
        .expect(204);
    app.get("/api/v1/clusters/web")
        .await
        .problem(404, "not_found");

    // The services, real servers and directors went with it: a new cluster of the same
    // name starts empty, and no row is left behind.
    app.create_cluster("web").await;
    assert!(app.all_services("web").await.is_empty());
    let directors = app.get(&directors("web")).await.expect(200).clone();
    assert_eq!(directors["items"], json!([]));
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["services"], json!([]));
    let rows = count_rows(&app).await;
    assert_eq!(rows, (0, 0, 0), "services, real servers, directors left");

    // An empty cluster needs no force.
    app.delete("/api/v1/clusters/web", None).await.expect(204);
}

/// Rows left in the services, real_servers and directors tables.
async fn count_rows(app: &TestApp) -> (i64, i64, i64) {
    (
        count(app, "services").await,
        count(app, "real_servers").await,
        count(app, "directors").await,
    )
}

async fn count(app: &TestApp, table: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url())
        .await
        .expect("open the database");
    sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut conn)
        .await
        .expect("count")
}

#[tokio::test]
async fn clusters_cannot_be_renamed_or_duplicated() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let before = app.get("/api/v1/clusters/web").await;

    let put = app
        .put("/api/v1/clusters/web", &json!({"name": "other"}), None)
        .await;
    assert_eq!(put.invalid_fields(), ["name"]);
    let patch = app
        .patch("/api/v1/clusters/web", &json!({"name": "other"}), None)
        .await;
    assert_eq!(patch.invalid_fields(), ["name"]);
    app.get("/api/v1/clusters/other")
        .await
        .problem(404, "not_found");
    let after = app.get("/api/v1/clusters/web").await;
    assert_eq!(after.etag(), before.etag(), "nothing changed");

    app.post(
        "/api/v1/clusters",
        &json!({"name": "web", "description": "again"}),
    )
    .await
    .problem(409, "already_exists");
}

#[tokio::test]
async fn description_edits_do_not_bump_the_generation_but_timeouts_do() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    assert_eq!(app.generation("web").await, 0);

    app.patch_ok("/api/v1/clusters/web", &json!({"description": "x"}))
        .await;
    app.put("/api/v1/clusters/web", &json!({"description": "y"}), None)
        .await
        .expect(200);
    assert_eq!(app.generation("web").await, 0);

    app.patch_ok("/api/v1/clusters/web", &json!({"timeouts": {"tcpfin": 30}}))
        .await;
    assert_eq!(app.generation("web").await, 1);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(
        document["timeouts"],
        json!({"tcp": null, "tcpfin": 30, "udp": null})
    );

    // The same timeouts again are no change.
    app.patch_ok(
        "/api/v1/clusters/web",
        &json!({"timeouts": {"tcpfin": 30}, "description": "z"}),
    )
    .await;
    assert_eq!(app.generation("web").await, 1);
}

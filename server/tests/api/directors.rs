//! `/api/v1/clusters/{cluster}/directors`.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn director_crud_and_list() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;

    let created = app
        .post(
            &directors("web"),
            &json!({"name": "lb1", "description": "rack 1"}),
        )
        .await;
    let body = created.expect(201).clone();
    assert_eq!(
        created.location.as_deref(),
        Some("/api/v1/clusters/web/directors/lb1")
    );
    assert_eq!(body["name"], "lb1");
    assert_eq!(body["cluster"], "web");
    assert_eq!(body["description"], "rack 1");

    let got = app.get(&director_path("web", "lb1")).await;
    assert_eq!(got.expect(200), &body);
    assert_eq!(got.etag(), created.etag());

    let put = app
        .put(
            &director_path("web", "lb1"),
            &json!({"description": "rack 2"}),
            Some(&got.etag()),
        )
        .await;
    assert_eq!(put.expect(200)["description"], "rack 2");
    assert_eq!(put.body["name"], "lb1");

    let patched = app
        .patch(
            &director_path("web", "lb1"),
            &json!({"description": "rack 3"}),
            Some(&put.etag()),
        )
        .await;
    assert_eq!(patched.expect(200)["description"], "rack 3");
    let patched = app
        .patch_as(
            &director_path("web", "lb1"),
            &json!({"description": null}),
            "application/json",
            None,
        )
        .await;
    assert_eq!(patched.expect(200)["description"], "");
    assert_eq!(
        app.get(&director_path("web", "lb1")).await.etag(),
        patched.etag()
    );

    for name in ["lb3", "lb2", "edge1"] {
        app.create_director("web", name).await;
    }
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    let mut path = format!("{}?limit=3", directors("web"));
    loop {
        let page = app.get(&path).await.expect(200).clone();
        let items = page["items"].as_array().expect("items");
        sizes.push(items.len());
        names.extend(
            items
                .iter()
                .map(|d| d["name"].as_str().expect("name").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{}?limit=3&cursor={c}", directors("web")),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 1]);
    assert_eq!(names, ["edge1", "lb1", "lb2", "lb3"]);
    let filtered = app
        .get(&format!("{}?name=lb", directors("web")))
        .await
        .expect(200)
        .clone();
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(3));

    app.delete(&director_path("web", "lb1"), Some(&patched.etag()))
        .await
        .expect(204);
    app.get(&director_path("web", "lb1"))
        .await
        .problem(404, "not_found");
    app.get(&directors("nope")).await.problem(404, "not_found");
}

#[tokio::test]
async fn directors_cannot_be_renamed_or_duplicated_and_do_not_bump_the_generation() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    app.create_cluster("db").await;
    app.create_director("web", "lb1").await;
    app.create_director("web", "lb2").await;

    app.post(&directors("web"), &json!({"name": "lb1"}))
        .await
        .problem(409, "already_exists");
    // Names are unique per cluster only.
    app.create_director("db", "lb1").await;

    let before = app.get(&director_path("web", "lb1")).await;
    let put = app
        .put(&director_path("web", "lb1"), &json!({"name": "lb9"}), None)
        .await;
    assert_eq!(put.invalid_fields(), ["name"]);
    let patch = app
        .patch(&director_path("web", "lb1"), &json!({"name": "lb2"}), None)
        .await;
    assert_eq!(patch.invalid_fields(), ["name"]);
    assert_eq!(
        app.get(&director_path("web", "lb1")).await.etag(),
        before.etag()
    );

    app.patch_ok(&director_path("web", "lb1"), &json!({"description": "x"}))
        .await;
    app.delete(&director_path("web", "lb2"), None)
        .await
        .expect(204);
    assert_eq!(app.generation("web").await, 0);
}

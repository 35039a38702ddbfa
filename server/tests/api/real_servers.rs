//! `/api/v1/clusters/{cluster}/services/{service}/real-servers`.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn real_server_crud() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = id(&app.create_service("web", &tcp_service(80)).await);

    let created = app
        .post(
            &real_servers("web", service),
            &json!({"address": "10.1.0.1", "forwarding": "route", "description": "a"}),
        )
        .await;
    let body = created.expect(201).clone();
    let rs = id(&body);
    assert_eq!(
        created.location,
        Some(format!(
            "/api/v1/clusters/web/services/{service}/real-servers/{rs}"
        ))
    );
    assert_eq!(body["service_id"], service);
    assert_eq!(body["key"], "10.1.0.1:80");
    assert_eq!(body["port"], 80, "the service's port by default");
    assert_eq!(body["weight"], 1);
    assert_eq!(body["upper_threshold"], 0);
    assert_eq!(body["lower_threshold"], 0);
    assert_eq!(body["state"], "active");
    assert_eq!(body["forwarding"], "route");
    assert!(body.get("tunnel_type").is_none());

    let path = real_server_path("web", service, rs);
    let got = app.get(&path).await;
    assert_eq!(got.expect(200), &body);
    assert_eq!(got.etag(), created.etag());

    let put = app
        .put(
            &path,
            &json!({"address": "10.1.0.1", "forwarding": "tunnel", "tunnel_type": "gre",
                    "tunnel_checksum": "csum", "weight": 10, "upper_threshold": 100,
                    "lower_threshold": 50}),
            Some(&got.etag()),
        )
        .await;
    let body = put.expect(200).clone();
    assert_eq!(id(&body), rs);
    assert_eq!(body["forwarding"], "tunnel");
    assert_eq!(body["tunnel_type"], "gre");
    assert_eq!(body["tunnel_checksum"], "csum");
    assert_eq!(body["weight"], 10);
    assert_eq!(body["upper_threshold"], 100);
    assert_eq!(body["description"], "", "PUT replaces every field");

    let patched = app
        .patch(&path, &json!({"weight": 20}), Some(&put.etag()))
        .await;
    let body = patched.expect(200).clone();
    assert_eq!(body["weight"], 20);
    assert_eq!(body["tunnel_type"], "gre", "untouched fields stay");
    let patched = app
        .patch_as(
            &path,
            &json!({"forwarding": "masq", "port": 8080, "tunnel_type": null,
                    "tunnel_checksum": null, "upper_threshold": null, "lower_threshold": null}),
            "application/json",
            Some(&patched.etag()),
        )
        .await;
    let body = patched.expect(200).clone();
    assert_eq!(body["key"], "10.1.0.1:8080");
    assert_eq!(body["weight"], 20);
    assert_eq!(body["upper_threshold"], 0);
    assert_eq!(app.get(&path).await.body, body);

    // IPv6 keys are bracketed.
    let v6 = app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "2001:db8::1", "port": 443}),
        )
        .await;
    let server = app
        .create_real_server(
            "web",
            id(&v6),
            &json!({"address": "2001:DB8::2", "forwarding": "masq"}),
        )
        .await;
    assert_eq!(server["key"], "[2001:db8::2]:443");
    assert_eq!(server["address"], "2001:db8::2");

    app.delete(&path, Some(&patched.etag())).await.expect(204);
    app.get(&path).await.problem(404, "not_found");
    app.delete(&path, None).await.problem(404, "not_found");
    // A real server id only exists under its own service.
    let other = real_server_path("web", id(&v6), id(&server));
    app.get(&other).await.expect(200);
    app.get(&real_server_path("web", service, id(&server)))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn real_server_list_pages_and_filters() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = id(&app.create_service("web", &tcp_service(80)).await);
    let mut ids = Vec::new();
    for host in 1..=5 {
        ids.push(id(&app
            .create_real_server("web", service, &masq_server(host, 80))
            .await));
    }
    let extra = id(&app
        .create_real_server("web", service, &masq_server(1, 8080))
        .await);

    let list = |query: String| {
        let app = &app;
        async move {
            let page = app
                .get(&format!("{}?{query}", real_servers("web", service)))
                .await
                .expect(200)
                .clone();
            let ids: Vec<i64> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(id)
                .collect();
            (ids, page["next_cursor"].as_str().map(str::to_owned))
        }
    };
    let (first, cursor) = list("limit=4".into()).await;
    assert_eq!(first, ids[..4]);
    let (second, last) = list(format!("limit=4&cursor={}", cursor.expect("cursor"))).await;
    assert_eq!(second, [ids[4], extra]);
    assert_eq!(last, None);
    assert_eq!(list("address=10.1.0.1".into()).await.0, [ids[0], extra]);
    assert_eq!(list("port=8080".into()).await.0, [extra]);
    assert_eq!(list("address=10.1.0.1&port=80".into()).await.0, [ids[0]]);
    app.get(&format!("{}?cursor=x", real_servers("web", service)))
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn drain_and_restore_keep_the_configured_weight() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = id(&app.create_service("web", &tcp_service(80)).await);
    let mut spec = masq_server(1, 80);
    spec["weight"] = json!(7);
    let rs = id(&app.create_real_server("web", service, &spec).await);
    let path = real_server_path("web", service, rs);
    let generation = app.generation("web").await;

    let before = app.get(&path).await;
    let drained = app
        .post_empty(&format!("{path}/drain"), Some(&before.etag()))
        .await;
    let body = drained.expect(200).clone();
    assert_eq!(body["state"], "drained");
    assert_eq!(body["weight"], 7);
    let got = app.get(&path).await;
    assert_eq!(got.body, body);
    assert_eq!(got.etag(), drained.etag());
    let (document, _) = app.desired_state("web").await;
    let server = &document["services"][0]["real_servers"][0];
    assert_eq!(server["state"], "drained");
    assert_eq!(server["weight"], 7);
    assert_eq!(app.generation("web").await, generation + 1);

    // Draining again changes nothing; a stale ETag is refused.
    app.post_empty(&format!("{path}/drain"), None)
        .await
        .expect(200);
    assert_eq!(app.generation("web").await, generation + 1);
    app.post_empty(&format!("{path}/restore"), Some(&before.etag()))
        .await
        .problem(412, "precondition_failed");

    let restored = app
        .post_empty(&format!("{path}/restore"), Some(&drained.etag()))
        .await;
    let body = restored.expect(200).clone();
    assert_eq!(body["state"], "active");
    assert_eq!(body["weight"], 7);
    let (document, _) = app.desired_state("web").await;
    let server = &document["services"][0]["real_servers"][0];
    assert_eq!(server["state"], "active");
    assert_eq!(server["weight"], 7);
    assert_eq!(app.generation("web").await, generation + 2);

    app.post_empty(
        &format!("{}/drain", real_server_path("web", service, rs + 100)),
        None,
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn real_server_addresses_are_unique_per_service() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let servers = app.get(&real_servers("web", service)).await.body;
    let first = id(&servers["items"][0]);
    let second = id(&servers["items"][1]);
    let generation = app.generation("web").await;

    app.post(&real_servers("web", service), &masq_server(1, 80))
        .await
        .problem(409, "already_exists");
    // PUT or PATCH onto another server's address and port.
    let path = real_server_path("web", service, second);
    app.put(&path, &masq_server(1, 80), None)
        .await
        .problem(409, "already_exists");
    app.patch(&path, &json!({"address": "10.1.0.1"}), None)
        .await
        .problem(409, "already_exists");

    assert_eq!(app.get(&real_servers("web", service)).await.body, servers);
    assert_eq!(app.generation("web").await, generation);
    // The same address on another port is another server.
    app.patch_ok(&path, &json!({"address": "10.1.0.1", "port": 81}))
        .await;
    app.get(&real_server_path("web", service, first))
        .await
        .expect(200);
}

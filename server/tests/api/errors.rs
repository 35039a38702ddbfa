//! Every error class: `application/problem+json` with a stable `code`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    for body in ["{\"name\": ", "not json", "{} trailing", ""] {
        app.raw(Method::POST, "/api/v1/clusters", "application/json", body)
            .await
            .problem(400, "malformed_json");
    }
    app.raw(
        Method::PUT,
        &desired_state("web"),
        "application/json",
        "{\"services\": [",
    )
    .await
    .problem(400, "malformed_json");
    // A merge patch must be an object.
    app.raw(Method::PATCH, &cluster_path("web"), MERGE_PATCH, "5")
        .await
        .problem(400, "malformed_json");
    assert_eq!(app.generation("web").await, 0);
}

/// serde reads a struct from an array of its fields; the API takes objects only, or `[]`
/// would be an empty desired state.
#[tokio::test]
async fn arrays_are_not_objects() {
    let app = TestApp::spawn().await;
    cluster_with_service(&app, "web").await;
    let before = app.desired_state("web").await;
    for (method, path, body) in [
        (Method::PUT, desired_state("web"), "[]"),
        (Method::PUT, desired_state("web"), " [null, null, {}, []]"),
        (Method::POST, "/api/v1/clusters".to_owned(), "[\"db\"]"),
        (Method::PUT, cluster_path("web"), "[]"),
        (Method::PATCH, cluster_path("web"), "[]"),
        (Method::POST, services("web"), "[\"tcp\", \"10.0.0.9\", 80]"),
    ] {
        let resp = app
            .raw(method.clone(), &path, "application/json", body)
            .await;
        assert_eq!(resp.invalid_fields(), [""], "{method} {path} {body}");
    }
    assert_eq!(app.desired_state("web").await, before);
    app.get(&cluster_path("db")).await.problem(404, "not_found");
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    for path in [
        "/api/v1/clusters?limit=0".to_owned(),
        "/api/v1/clusters?limit=1001".to_owned(),
        "/api/v1/clusters?limit=-1".to_owned(),
        "/api/v1/clusters?limit=ten".to_owned(),
        format!("{}?cursor=abc", services("web")),
        format!("{}?limit=0", services("web")),
        format!("{}?fwmark=x", services("web")),
        format!("{}?cursor=abc", real_servers("web", service)),
        format!("{}?address=10.1.0", real_servers("web", service)),
        format!("{}?limit=5000", directors("web")),
    ] {
        let resp = app.get(&path).await;
        assert_eq!(resp.status, 400, "{path}: {}", resp.text);
        resp.problem(400, "invalid_query");
    }
    app.delete(&format!("{}?force=maybe", cluster_path("web")), None)
        .await
        .problem(400, "invalid_query");
    app.put(
        &format!("{}?dry_run=perhaps", desired_state("web")),
        &json!({}),
        None,
    )
    .await
    .problem(400, "invalid_query");
    // Path parameters that do not parse.
    app.get("/api/v1/clusters/web/services/first")
        .await
        .problem(400, "invalid_path");
    assert_eq!(app.all_services("web").await.len(), 1);
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let body = json!({"name": "db"}).to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        app.raw(Method::POST, "/api/v1/clusters", content_type, &body)
            .await
            .problem(415, "unsupported_media_type");
    }
    // No content type at all.
    let resp = app
        .send(
            app.request(Method::POST, "/api/v1/clusters")
                .body(body.clone()),
        )
        .await;
    resp.problem(415, "unsupported_media_type");
    app.raw(
        Method::PATCH,
        &service_path("web", service),
        "text/plain",
        "{\"name\": \"x\"}",
    )
    .await
    .problem(415, "unsupported_media_type");
    app.raw(Method::PUT, &desired_state("web"), "text/json", "{}")
        .await
        .problem(415, "unsupported_media_type");
    // JSON with parameters, and +json types, are JSON.
    app.raw(
        Method::POST,
        "/api/v1/clusters",
        "application/json; charset=utf-8",
        &body,
    )
    .await
    .expect(201);
    app.raw(
        Method::POST,
        &directors("web"),
        "application/vnd.lvs+json",
        "{\"name\": \"lb1\"}",
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::spawn_with_limit(2048).await;
    app.create_cluster("web").await;
    let services: Vec<_> = (1..=100).map(tcp_service).collect();
    let document = json!({ "services": services });
    assert!(document.to_string().len() > 2048);
    app.put(&desired_state("web"), &document, None)
        .await
        .problem(413, "payload_too_large");
    assert_eq!(app.generation("web").await, 0);
    // A document under the limit is fine.
    let small = json!({"timeouts": {}, "services": [pooled(tcp_service(80))]});
    app.put(&desired_state("web"), &small, None)
        .await
        .expect(200);
}

#[tokio::test]
async fn unknown_resources_and_routes_are_404() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let servers = app.get(&real_servers("web", service)).await.body;
    let rs = id(&servers["items"][0]);
    for path in [
        cluster_path("nope"),
        directors("nope"),
        director_path("web", "nope"),
        services("nope"),
        service_path("web", service + 1),
        service_path("nope", service),
        real_servers("web", service + 1),
        real_server_path("web", service, rs + 100),
        real_server_path("web", service + 1, rs),
        desired_state("nope"),
        "/api".to_owned(),
        "/api/v2/clusters".to_owned(),
        "/api/v1/clusters/web/unknown".to_owned(),
    ] {
        let resp = app.get(&path).await;
        assert_eq!(resp.status, 404, "{path}: {}", resp.text);
        resp.problem(404, "not_found");
    }
    // Outside the API, the browser gets the UI's page.
    let page = app.get("/nope").await;
    assert_eq!(page.status, 404);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.text.contains("There is no page at this address."));
    app.patch(
        &real_server_path("web", service, rs + 100),
        &json!({}),
        None,
    )
    .await
    .problem(404, "not_found");
    app.post(&real_servers("web", service + 1), &masq_server(9, 80))
        .await
        .problem(404, "not_found");
    app.post(&services("nope"), &tcp_service(80))
        .await
        .problem(404, "not_found");
    app.post(&directors("nope"), &json!({"name": "lb1"}))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn wrong_methods_are_405() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    for (method, path) in [
        (Method::DELETE, "/api/v1/clusters".to_owned()),
        (Method::PUT, "/api/v1/clusters".to_owned()),
        (Method::POST, cluster_path("web")),
        (Method::POST, "/healthz".to_owned()),
        (Method::DELETE, desired_state("web")),
        (Method::POST, desired_state("web")),
        (
            Method::GET,
            format!("{}/1/drain", real_servers("web", service)),
        ),
        (Method::DELETE, "/api/openapi.json".to_owned()),
    ] {
        let resp = app.send(app.request(method.clone(), &path)).await;
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.text);
        resp.problem(405, "method_not_allowed");
    }
    app.get(&cluster_path("web")).await.expect(200);
}

#[tokio::test]
async fn duplicates_are_409() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_director("web", "lb1").await;
    let servers = app.get(&real_servers("web", service)).await.body;
    let second = id(&servers["items"][1]);
    let before = app.desired_state("web").await;

    for (path, body) in [
        ("/api/v1/clusters".to_owned(), json!({"name": "web"})),
        (directors("web"), json!({"name": "lb1"})),
        (services("web"), tcp_service(80)),
        (real_servers("web", service), masq_server(1, 80)),
    ] {
        let resp = app.post(&path, &body).await;
        let problem = resp.problem(409, "already_exists");
        assert!(problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already exists")));
    }
    let path = real_server_path("web", service, second);
    app.put(&path, &masq_server(1, 80), None)
        .await
        .problem(409, "already_exists");
    app.patch(&path, &json!({"address": "10.1.0.1"}), None)
        .await
        .problem(409, "already_exists");
    let other = id(&app.create_service("web", &tcp_service(443)).await);
    app.patch(&service_path("web", other), &json!({"port": 80}), None)
        .await
        .problem(409, "already_exists");
    app.delete(&service_path("web", other), None)
        .await
        .expect(204);
    let after = app.desired_state("web").await;
    assert_eq!(after.0["services"], before.0["services"]);
}

#[tokio::test]
async fn if_match_mismatches_are_412_for_every_resource() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    app.create_director("web", "lb1").await;
    let servers = app.get(&real_servers("web", service)).await.body;
    let rs = id(&servers["items"][0]);

    let cases = [
        (cluster_path("web"), json!({"description": "x"})),
        (director_path("web", "lb1"), json!({"description": "x"})),
        (service_path("web", service), {
            let mut s = tcp_service(80);
            s["name"] = json!("x");
            s
        }),
        (real_server_path("web", service, rs), {
            let mut s = masq_server(1, 80);
            s["weight"] = json!(3);
            s
        }),
    ];
    for (path, body) in &cases {
        let current = app.get(path).await;
        let etag = current.etag();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "a strong ETag"
        );
        let stale = "\"0000000000000000\"";
        app.put(path, body, Some(stale))
            .await
            .problem(412, "precondition_failed");
        app.patch(path, &json!({"description": "y"}), Some(stale))
            .await
            .problem(412, "precondition_failed");
        let weak = format!("W/{etag}");
        app.patch(path, &json!({"description": "y"}), Some(&weak))
            .await
            .problem(412, "precondition_failed");
        app.delete(path, Some(stale))
            .await
            .problem(412, "precondition_failed");
        let after = app.get(path).await;
        assert_eq!(after.body, current.body, "{path} unchanged");
        assert_eq!(after.etag(), etag);

        // The current ETag, alone or in a list, passes.
        let list = format!("{stale}, {etag}");
        let resp = app
            .patch(path, &json!({"description": "z"}), Some(&list))
            .await;
        assert_eq!(resp.expect(200)["description"], "z");
        // and is then stale itself.
        app.put(path, body, Some(&etag))
            .await
            .problem(412, "precondition_failed");
    }
    // Deletes with the current ETag go through, innermost first.
    for (path, _) in cases.iter().rev() {
        let etag = app.get(path).await.etag();
        let force = if path == &cluster_path("web") {
            "?force=true"
        } else {
            ""
        };
        app.delete(&format!("{path}{force}"), Some(&etag))
            .await
            .expect(204);
    }
}

#[tokio::test]
async fn validation_errors_list_every_field() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let service = id(&app.create_service("web", &tcp_service(80)).await);

    let resp = app
        .post(
            "/api/v1/clusters",
            &json!({"name": "Bad_Name", "description": "bell\u{7}", "timeouts": {"tcp": 0}}),
        )
        .await;
    assert_eq!(
        resp.invalid_fields(),
        ["name", "description", "timeouts.tcp"]
    );
    assert_eq!(resp.body["detail"], "3 fields are invalid");
    assert_eq!(
        app.post("/api/v1/clusters", &json!({}))
            .await
            .invalid_fields(),
        ["name"]
    );

    let resp = app
        .post(
            &services("web"),
            &json!({"protocol": "icmp", "address": "224.0.0.1", "port": 70000,
                    "scheduler": "sh", "scheduler_flags": ["mh-port"], "name": "two\nlines"}),
        )
        .await;
    assert_eq!(
        resp.invalid_fields(),
        ["protocol", "address", "port", "scheduler_flags[0]", "name"]
    );
    let resp = app
        .post(
            &real_servers("web", service),
            &json!({"address": "fe80::1", "forwarding": "teleport", "weight": 65536,
                    "upper_threshold": 5, "lower_threshold": 6, "state": "sleeping"}),
        )
        .await;
    let fields = resp.invalid_fields();
    for field in [
        "address",
        "forwarding",
        "weight",
        "lower_threshold",
        "state",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }

    // Unknown fields are refused, named in the message.
    let resp = app
        .post("/api/v1/clusters", &json!({"name": "db", "colour": "blue"}))
        .await;
    assert_eq!(resp.invalid_fields().len(), 1);
    assert!(resp.text.contains("colour"), "{}", resp.text);
    let resp = app
        .patch(
            &service_path("web", service),
            &json!({"shceduler": "rr"}),
            None,
        )
        .await;
    assert_eq!(resp.invalid_fields().len(), 1);
    assert!(resp.text.contains("shceduler"), "{}", resp.text);
    // Mistyped values are reported against their field.
    let resp = app
        .post(
            &services("web"),
            &json!({"protocol": "tcp", "address": "10.0.0.2", "port": "80"}),
        )
        .await;
    assert_eq!(resp.invalid_fields(), ["port"]);
    let resp = app
        .patch(
            &cluster_path("web"),
            &json!({"timeouts": {"udp": "long"}}),
            None,
        )
        .await;
    assert_eq!(resp.invalid_fields(), ["timeouts.udp"]);

    app.get("/api/v1/clusters/db")
        .await
        .problem(404, "not_found");
    assert_eq!(app.all_services("web").await.len(), 1);
    assert_eq!(app.generation("web").await, 1);
}

/// A 500 says that something went wrong, not what: corrupt a row behind the server's
/// back, which the server detects when it reads it again.
#[tokio::test]
async fn internal_errors_do_not_leak_details() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url())
        .await
        .expect("open the database");
    sqlx::query("UPDATE services SET scheduler = 'secret-scheduler' WHERE id = ?")
        .bind(service)
        .execute(&mut conn)
        .await
        .expect("corrupt the row");
    conn.close().await.expect("close");

    for resp in [
        app.get(&desired_state("web")).await,
        app.put(
            &desired_state("web"),
            &json!({"timeouts": {}, "services": []}),
            None,
        )
        .await,
    ] {
        let problem = resp.problem(500, "internal_error");
        assert_eq!(
            problem["detail"],
            "an internal error occurred; it has been logged"
        );
        for secret in [
            "secret-scheduler",
            "sqlx",
            "stored",
            "database",
            "SELECT",
            "tcp:",
        ] {
            assert!(
                !resp.text.contains(secret),
                "{secret} leaked: {}",
                resp.text
            );
        }
    }
    // The server keeps serving.
    app.get("/healthz").await.expect(200);
    app.get(&cluster_path("web")).await.expect(200);
}

/// The detail of a 400 `invalid_query` or `invalid_path` problem.
async fn bad_request(app: &TestApp, path: &str, code: &str) -> String {
    let resp = app.get(path).await;
    let detail = resp.problem(400, code)["detail"]
        .as_str()
        .unwrap_or_default();
    for rust in ["i64", "u32", "u16", "variant", "invalid digit", "`"] {
        assert!(!detail.contains(rust), "{path}: {detail}");
    }
    detail.to_owned()
}

#[tokio::test]
async fn filters_that_match_nothing_by_construction_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let list = services("web");
    for (query, detail) in [
        (
            "protocol=foo",
            r#"protocol: unknown protocol "foo"; expected one of tcp, udp, sctp"#,
        ),
        ("port=70000", "port: must be between 1 and 65535, not 70000"),
        ("port=0", "port: must be between 1 and 65535, not 0"),
        ("port=http", "port: must be an integer"),
        (
            "fwmark=-1",
            "fwmark: must be between 1 and 4294967295, not -1",
        ),
        ("limit=ten", "limit: must be an integer"),
        ("limit=-1", "limit: must be between 1 and 1000, not -1"),
        ("limit=5000", "limit: must be between 1 and 1000, not 5000"),
        (
            "cursor=abc",
            r#"cursor: "abc" is not one this list returned"#,
        ),
    ] {
        let path = format!("{list}?{query}");
        assert_eq!(bad_request(&app, &path, "invalid_query").await, detail);
    }
    let pool = real_servers("web", service);
    assert_eq!(
        bad_request(&app, &format!("{pool}?port=65536"), "invalid_query").await,
        "port: must be between 0 and 65535, not 65536"
    );
    assert_eq!(
        bad_request(&app, "/api/v1/clusters?limit=1.5", "invalid_query").await,
        "limit: must be an integer"
    );

    // Good values still filter.
    let found = app.get(&format!("{list}?protocol=tcp&port=80")).await;
    assert_eq!(found.expect(200)["items"].as_array().map(Vec::len), Some(1));
    let none = app.get(&format!("{list}?protocol=udp")).await;
    assert_eq!(none.expect(200)["items"], serde_json::json!([]));
}

#[tokio::test]
async fn path_ids_that_do_not_parse_are_named() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    assert_eq!(
        bad_request(&app, "/api/v1/clusters/web/services/abc", "invalid_path").await,
        r#"service must be a positive integer id, not "abc""#
    );
    let path = format!("{}/x1", real_servers("web", service));
    assert_eq!(
        bad_request(&app, &path, "invalid_path").await,
        r#"id must be a positive integer, not "x1""#
    );
}

#[tokio::test]
async fn mistyped_values_are_described_in_the_api_words() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    for (body, field, message) in [
        (
            json!({"protocol": "tcp", "address": "10.0.0.2", "port": "80"}),
            "port",
            r#"must be an integer, not the string "80""#,
        ),
        (
            json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80, "name": 5}),
            "name",
            "must be a string, not 5",
        ),
        (
            json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80,
                   "scheduler_flags": "sh-port"}),
            "scheduler_flags",
            r#"must be a list, not the string "sh-port""#,
        ),
        (
            json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80, "one_packet": "yes"}),
            "one_packet",
            r#"must be true or false, not the string "yes""#,
        ),
        (
            json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80, "real_servers": [
                {"address": "10.1.0.1", "forwarding": "masq", "weight": -1.5}]}),
            "real_servers[0].weight",
            "must be an integer, not -1.5",
        ),
    ] {
        let resp = app.post(&services("web"), &body).await;
        let problem = resp.problem(422, "validation_failed");
        assert_eq!(
            problem["errors"],
            json!([{"field": field, "message": message}]),
            "{body}"
        );
    }
    let resp = app
        .post("/api/v1/clusters", &json!({"name": "db", "colour": "blue"}))
        .await;
    assert_eq!(
        resp.problem(422, "validation_failed")["errors"][0]["message"],
        r#"unknown field "colour": expected one of name, description, timeouts, host"#
    );
}

//! `/api/v1/clusters/{cluster}/services`.

use std::collections::BTreeSet;

use lvs_model::spec::ServiceSpec;
use serde_json::{json, Value};

use crate::helpers::*;

/// The spec part of a service representation.
fn spec_of(service: &Value) -> ServiceSpec {
    let mut fields = service.as_object().expect("an object").clone();
    for meta in ["id", "cluster", "key", "created_at", "updated_at"] {
        assert!(fields.remove(meta).is_some(), "{meta} is shown");
    }
    serde_json::from_value(Value::Object(fields)).expect("a service spec")
}

/// What the model says a spec looks like once stored.
fn canonical(spec: &Value) -> ServiceSpec {
    let spec: ServiceSpec = serde_json::from_value(spec.clone()).expect("a service spec");
    ServiceSpec::from(&spec.parse().expect("a valid service"))
}

#[tokio::test]
async fn create_get_and_delete_a_service() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;

    let created = app.post(&services("web"), &tcp_service(80)).await;
    let body = created.expect(201).clone();
    let id = id(&body);
    assert_eq!(
        created.location,
        Some(format!("/api/v1/clusters/web/services/{id}"))
    );
    assert_eq!(body["cluster"], "web");
    assert_eq!(body["key"], "tcp:10.0.0.1:80");
    // Every default is written out.
    assert_eq!(body["scheduler"], "wlc");
    assert_eq!(body["scheduler_flags"], json!([]));
    assert_eq!(body["persistence_timeout"], 0);
    assert_eq!(body["one_packet"], false);
    assert_eq!(body["name"], "");
    assert!(body.get("real_servers").is_none());
    assert_eq!(spec_of(&body), canonical(&tcp_service(80)));

    let got = app.get(&service_path("web", id)).await;
    assert_eq!(got.expect(200), &body);
    assert_eq!(got.etag(), created.etag());
    let servers = app.get(&real_servers("web", id)).await.expect(200).clone();
    assert_eq!(servers["items"], json!([]));

    app.delete(&service_path("web", id), Some(&got.etag()))
        .await
        .expect(204);
    app.get(&service_path("web", id))
        .await
        .problem(404, "not_found");
    app.get(&real_servers("web", id))
        .await
        .problem(404, "not_found");
    app.delete(&service_path("web", id), None)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn create_a_service_with_its_real_servers() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let spec = json!({
        "protocol": "udp", "address": "2001:DB8::10", "port": 53,
        "scheduler": "sh", "scheduler_flags": ["sh-port", "sh-fallback"],
        "persistence_timeout": 300, "persistence_netmask": 64, "one_packet": true,
        "name": "dns", "description": "resolvers\nsecond line",
        "real_servers": [
            {"address": "2001:db8::1:1", "forwarding": "route"},
            {"address": "2001:db8::1:2", "forwarding": "masq", "port": 5353, "weight": 3},
            {"address": "192.0.2.7", "forwarding": "tunnel", "tunnel_type": "gue",
             "tunnel_port": 6080, "tunnel_checksum": "remcsum"}
        ]
    });
    let body = app.create_service("web", &spec).await;
    let id = id(&body);
    assert_eq!(body["key"], "udp:[2001:db8::10]:53");
    assert_eq!(body["address"], "2001:db8::10", "addresses are canonical");
    assert_eq!(body["scheduler_flags"], json!(["sh-fallback", "sh-port"]));
    assert_eq!(spec_of(&body), canonical(&spec));

    let servers = app.get(&real_servers("web", id)).await.expect(200).clone();
    let keys: Vec<_> = servers["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["key"].as_str().expect("key").to_owned())
        .collect();
    assert_eq!(
        keys,
        ["192.0.2.7:53", "[2001:db8::1:1]:53", "[2001:db8::1:2]:5353"],
        "inserted in the model's order: IPv4 before IPv6"
    );
    assert_eq!(servers["items"][0]["tunnel_port"], 6080);
    assert_eq!(servers["items"][1]["weight"], 1);
    assert_eq!(servers["items"][2]["weight"], 3);

    // One change: one generation.
    assert_eq!(app.generation("web").await, 1);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(
        document["services"][0]["real_servers"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // A bad real server refuses the whole service.
    let mut bad = tcp_service(443);
    bad["real_servers"] =
        json!([masq_server(1, 443), {"address": "10.1.0.2", "forwarding": "route", "port": 8443}]);
    let resp = app.post(&services("web"), &bad).await;
    assert_eq!(resp.invalid_fields(), ["real_servers[1].port"]);
    assert_eq!(app.all_services("web").await.len(), 1);
    assert_eq!(app.generation("web").await, 1);

    app.post(
        &services("web"),
        &json!({"protocol": "udp", "address": "2001:db8::10", "port": 53}),
    )
    .await
    .problem(409, "already_exists");
}

#[tokio::test]
async fn service_representation_is_canonical() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let specs = [
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 443,
               "persistence_timeout": 600, "persistence_netmask": "255.255.255.0"}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80,
               "persistence_timeout": 600, "persistence_netmask": 16}),
        json!({"protocol": "tcp", "address": "10.0.0.1", "port": 81, "persistence_timeout": 60}),
        json!({"fwmark": 42, "family": "ipv6", "persistence_timeout": 60,
               "persistence_netmask": "/48", "persistence_engine": "sip"}),
        json!({"protocol": "sctp", "address": "fd00::1", "port": 9, "scheduler": "mh",
               "scheduler_flags": ["mh-port"]}),
    ];
    for spec in &specs {
        let created = app.create_service("web", spec).await;
        assert_eq!(spec_of(&created), canonical(spec), "{spec}");
    }
    // The services resource and the desired-state document show a service alike.
    let (document, _) = app.desired_state("web").await;
    let mut in_document: Vec<ServiceSpec> =
        serde_json::from_value(document["services"].clone()).expect("services");
    for service in &mut in_document {
        service.real_servers = None;
    }
    let mut listed: Vec<ServiceSpec> = app.all_services("web").await.iter().map(spec_of).collect();
    let order = |s: &ServiceSpec| format!("{s:?}");
    in_document.sort_by_key(order);
    listed.sort_by_key(order);
    assert_eq!(listed, in_document);
}

#[tokio::test]
async fn service_list_filters() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let web = id(&app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80, "name": "web"}),
        )
        .await);
    let dns = id(&app
        .create_service(
            "web",
            &json!({"protocol": "udp", "address": "10.0.0.1", "port": 53, "name": "dns"}),
        )
        .await);
    let web6 = id(&app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "2001:db8::1", "port": 443, "name": "web6"}),
        )
        .await);
    let mark = id(&app
        .create_service(
            "web",
            &json!({"fwmark": 7, "family": "ipv4", "name": "mark"}),
        )
        .await);
    let other = id(&app
        .create_service(
            "web",
            &json!({"protocol": "tcp", "address": "10.0.0.2", "port": 80, "name": "other"}),
        )
        .await);

    let ids = |query: &str| {
        let path = format!("{}?{query}", services("web"));
        let app = &app;
        async move {
            let page = app.get(&path).await.expect(200).clone();
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids("").await, [web, dns, web6, mark, other]);
    assert_eq!(ids("protocol=udp").await, [dns]);
    assert_eq!(ids("protocol=tcp").await, [web, web6, other]);
    assert_eq!(ids("address=10.0.0.1").await, [web, dns]);
    assert_eq!(ids("address=2001:DB8:0::1").await, [web6], "any notation");
    assert_eq!(ids("port=80").await, [web, other]);
    assert_eq!(ids("port=443").await, [web6]);
    assert_eq!(ids("fwmark=7").await, [mark]);
    assert_eq!(ids("fwmark=8").await, Vec::<i64>::new());
    assert_eq!(ids("name=web").await, [web, web6]);
    assert_eq!(ids("protocol=tcp&port=80&address=10.0.0.2").await, [other]);
    assert_eq!(ids("name=web&limit=1").await, [web]);
    assert_eq!(ids(&format!("name=web&limit=1&cursor={web}")).await, [web6]);

    app.get(&format!("{}?address=ten", services("web")))
        .await
        .problem(400, "invalid_query");
    app.get(&format!("{}?port=http", services("web")))
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn service_paging_is_stable() {
    let app = TestApp::spawn().await;
    app.create_cluster("big").await;
    let services_json: Vec<Value> = (0..250)
        .map(|i| json!({"protocol": "tcp", "address": format!("10.2.{}.{}", i / 200, i % 200 + 1), "port": 80, "real_servers": []}))
        .collect();
    app.put(
        &desired_state("big"),
        &json!({"timeouts": {}, "services": services_json}),
        None,
    )
    .await
    .expect(200);

    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    let mut path = format!("{}?limit=100", services("big"));
    loop {
        let page = app.get(&path).await.expect(200).clone();
        let items = page["items"].as_array().expect("items");
        sizes.push(items.len());
        ids.extend(items.iter().map(id));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{}?limit=100&cursor={c}", services("big")),
            None => break,
        }
    }
    assert_eq!(sizes, [100, 100, 50]);
    let unique: BTreeSet<_> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 250, "no duplicates");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");

    // The default page is 100; a second walk gives the same order.
    let first = app.get(&services("big")).await.expect(200).clone();
    let first_ids: Vec<_> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id)
        .collect();
    assert_eq!(first_ids, ids[..100]);
    let all: Vec<_> = app.all_services("big").await.iter().map(id).collect();
    assert_eq!(all, ids);
}

#[tokio::test]
async fn service_put_and_patch() {
    let app = TestApp::spawn().await;
    let id = cluster_with_service(&app, "web").await;
    let path = service_path("web", id);
    let got = app.get(&path).await;

    let replacement = json!({"protocol": "tcp", "address": "10.0.0.1", "port": 80,
                             "scheduler": "sh", "scheduler_flags": ["sh-port"], "name": "web"});
    let put = app.put(&path, &replacement, Some(&got.etag())).await;
    let body = put.expect(200).clone();
    assert_eq!(id_of(&body), id, "the same service");
    assert_eq!(spec_of(&body), canonical(&replacement));
    assert_eq!(
        app.get(&real_servers("web", id)).await.expect(200)["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "a PUT of the service keeps its real servers"
    );

    // Real servers are not edited through the service.
    let mut with_servers = replacement.clone();
    with_servers["real_servers"] = json!([]);
    assert_eq!(
        app.put(&path, &with_servers, None).await.invalid_fields(),
        ["real_servers"]
    );
    assert_eq!(
        app.patch(&path, &json!({"real_servers": []}), None)
            .await
            .invalid_fields(),
        ["real_servers"]
    );

    let patched = app
        .patch(
            &path,
            &json!({"persistence_timeout": 300, "persistence_netmask": "255.255.0.0"}),
            Some(&put.etag()),
        )
        .await;
    let body = patched.expect(200).clone();
    assert_eq!(body["scheduler"], "sh", "untouched fields stay");
    assert_eq!(body["name"], "web");
    assert_eq!(body["persistence_timeout"], 300);
    assert_eq!(body["persistence_netmask"], "255.255.0.0");

    let patched = app
        .patch_as(
            &path,
            &json!({"scheduler": null, "scheduler_flags": [], "persistence_timeout": 0,
                    "persistence_netmask": null, "description": "plain"}),
            "application/json",
            None,
        )
        .await;
    let body = patched.expect(200).clone();
    assert_eq!(body["scheduler"], "wlc", "null restores the default");
    assert_eq!(body["description"], "plain");
    assert!(body.get("persistence_netmask").is_none());
    assert_eq!(app.get(&path).await.expect(200), &body);

    // Moving a service onto another's key is a conflict.
    let other = app.create_service("web", &tcp_service(443)).await;
    let generation = app.generation("web").await;
    app.patch(
        &service_path("web", id_of(&other)),
        &json!({"port": 80}),
        None,
    )
    .await
    .problem(409, "already_exists");
    app.put(&service_path("web", id_of(&other)), &tcp_service(80), None)
        .await
        .problem(409, "already_exists");
    assert_eq!(
        app.get(&service_path("web", id_of(&other))).await.body,
        other
    );
    assert_eq!(app.generation("web").await, generation);

    // A key change that keeps the real servers valid is allowed (masq maps ports).
    let moved = app.patch(&path, &json!({"port": 8080}), None).await;
    assert_eq!(moved.expect(200)["key"], "tcp:10.0.0.1:8080");
    assert_eq!(app.generation("web").await, generation + 1);
}

fn id_of(value: &Value) -> i64 {
    id(value)
}

#[tokio::test]
async fn a_key_change_that_would_invalidate_real_servers_is_refused() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let mut spec = tcp_service(80);
    spec["real_servers"] = json!([
        {"address": "10.1.0.1", "forwarding": "route"},
        {"address": "10.1.0.2", "forwarding": "masq", "port": 8080}
    ]);
    let service = app.create_service("web", &spec).await;
    let id = id(&service);
    let path = service_path("web", id);
    let (document, etag) = app.desired_state("web").await;
    let servers = app.get(&real_servers("web", id)).await.body;

    // Route forwarding cannot map ports, so the service port cannot change under it.
    let resp = app.patch(&path, &json!({"port": 8443}), None).await;
    assert_eq!(resp.invalid_fields(), ["real_servers"]);
    assert!(
        resp.text.contains("10.1.0.1:80"),
        "names the server: {}",
        resp.text
    );
    let mut put = tcp_service(8443);
    put["name"] = json!("new");
    app.put(&path, &put, None).await.invalid_fields();
    // Nor can the family: masq does not cross address families.
    let resp = app
        .patch(&path, &json!({"address": "2001:db8::1"}), None)
        .await;
    assert_eq!(resp.invalid_fields(), ["real_servers", "real_servers"]);

    assert_eq!(app.get(&path).await.body, service, "nothing changed");
    assert_eq!(app.get(&real_servers("web", id)).await.body, servers);
    assert_eq!(app.desired_state("web").await, (document, etag));
}

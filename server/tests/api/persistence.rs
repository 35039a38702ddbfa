//! Everything survives a restart on the same database file.

use serde_json::{json, Value};

use crate::helpers::*;

/// Every representation with its ETag, as a client would see them.
async fn snapshot(app: &TestApp) -> Vec<(String, Value, Option<String>)> {
    let mut paths = vec![
        "/api/v1/clusters".to_owned(),
        cluster_path("web"),
        cluster_path("db"),
        directors("web"),
        director_path("web", "lb1"),
        desired_state("web"),
        desired_state("db"),
        services("web"),
    ];
    for service in app.all_services("web").await {
        paths.push(service_path("web", id(&service)));
        let servers = real_servers("web", id(&service));
        let page = app.get(&servers).await.body;
        for server in page["items"].as_array().expect("items") {
            paths.push(real_server_path("web", id(&service), id(server)));
        }
        paths.push(servers);
    }
    let mut shot = Vec::new();
    for path in paths {
        let resp = app.get(&path).await;
        let body = resp.expect(200).clone();
        shot.push((path, body, resp.etag));
    }
    shot
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let app = TestApp::spawn().await;
    app.post(
        "/api/v1/clusters",
        &json!({"name": "web", "description": "front", "timeouts": {"tcp": 600, "udp": 30}}),
    )
    .await
    .expect(201);
    app.create_director("web", "lb1").await;
    let service = cluster_with_service(&app, "db").await;
    app.put(
        &desired_state("web"),
        &json!({
            "timeouts": {"tcp": 600, "udp": 30, "tcpfin": 10},
            "services": [
                {"protocol": "udp", "address": "2001:db8::53", "port": 53, "one_packet": true,
                 "persistence_timeout": 30, "persistence_engine": "sip", "persistence_netmask": 64,
                 "real_servers": [{"address": "2001:db8::1:1", "forwarding": "route"},
                                  {"address": "192.0.2.1", "forwarding": "tunnel",
                                   "tunnel_type": "gue", "tunnel_port": 5555}]},
                {"fwmark": 4000000000_u32, "family": "ipv4", "scheduler": "mh",
                 "scheduler_flags": ["mh-fallback"], "persistence_timeout": 100,
                 "persistence_netmask": "255.255.255.0", "description": "multi\nline",
                 "real_servers": [{"address": "10.9.0.1", "forwarding": "masq", "port": 8443,
                                   "weight": 65535, "upper_threshold": 2147483647_u32,
                                   "lower_threshold": 1, "state": "drained"}]}
            ]
        }),
        None,
    )
    .await
    .expect(200);
    let servers = app.get(&real_servers("db", service)).await.body;
    let drained = real_server_path("db", service, id(&servers["items"][0]));
    app.post_empty(&format!("{drained}/drain"), None)
        .await
        .expect(200);

    let before = snapshot(&app).await;
    let drained_before = app.get(&drained).await;
    let generations = (app.generation("web").await, app.generation("db").await);
    assert_eq!(generations, (1, 2));

    let app = app.restart().await;
    let after = snapshot(&app).await;
    assert_eq!(after.len(), before.len());
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b, "{} differs after a restart", a.0);
    }
    let drained_after = app.get(&drained).await;
    assert_eq!(drained_after.body, drained_before.body);
    assert_eq!(drained_after.etag, drained_before.etag);
    assert_eq!(drained_after.body["state"], "drained");
    assert_eq!(
        (app.generation("web").await, app.generation("db").await),
        generations
    );

    // ETags taken before the restart still work, and generations carry on.
    let etag = drained_before.etag();
    app.post_empty(&format!("{drained}/restore"), Some(&etag))
        .await
        .expect(200);
    assert_eq!(app.generation("db").await, 3);
    let (_, etag) = app.desired_state("web").await;
    assert_eq!(etag, "\"gen-1\"");
    app.put(
        &desired_state("web"),
        &json!({"timeouts": {}, "services": []}),
        Some(&etag),
    )
    .await
    .expect(200);
    assert_eq!(app.generation("web").await, 2);

    // And a second restart keeps those too.
    let app = app.restart().await;
    assert_eq!(app.generation("web").await, 2);
    assert_eq!(app.generation("db").await, 3);
    let (document, _) = app.desired_state("web").await;
    assert_eq!(document["services"], json!([]));
    assert_eq!(
        document["timeouts"],
        json!({"tcp": null, "tcpfin": null, "udp": null})
    );
}

//! `/api/v1/real-server-hosts`: the fleet's hosts behind route and tunnel services, their
//! agent tokens, and what each must hold (`needs`).

use serde_json::{json, Value};

use crate::helpers::*;

pub const HOSTS: &str = "/api/v1/real-server-hosts";

pub fn host_path(name: &str) -> String {
    format!("{HOSTS}/{name}")
}

pub fn host_token_path(name: &str) -> String {
    format!("{HOSTS}/{name}/token")
}

/// Creates a host with `addresses`; returns its representation.
pub async fn create_host(app: &TestApp, name: &str, addresses: &[&str]) -> Value {
    app.post(HOSTS, &json!({"name": name, "addresses": addresses}))
        .await
        .expect(201)
        .clone()
}

/// Creates (or rotates) the host's agent token; returns it.
pub async fn create_host_token(app: &TestApp, name: &str) -> String {
    let resp = app.post_empty(&host_token_path(name), None).await;
    resp.expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

#[tokio::test]
async fn hosts_are_created_listed_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            HOSTS,
            &json!({"name": "web-1", "description": "rack 2",
                    "addresses": ["2001:DB8::11", "10.0.1.11"]}),
        )
        .await;
    let body = created.expect(201).clone();
    assert_eq!(
        created.location.as_deref(),
        Some("/api/v1/real-server-hosts/web-1")
    );
    assert_eq!(body["name"], "web-1");
    assert_eq!(body["description"], "rack 2");
    // Canonical and sorted.
    assert_eq!(body["addresses"], json!(["10.0.1.11", "2001:db8::11"]));
    assert_eq!(body["token_created_at"], Value::Null);
    assert_eq!(body["status"]["state"], "never_seen");
    assert_eq!(body["needs"]["vips"], json!([]));
    let etag = created.etag();

    let got = app.get(&host_path("web-1")).await;
    assert_eq!(got.expect(200), &body);
    assert_eq!(got.etag(), etag);

    create_host(&app, "web-2", &["10.0.1.12"]).await;
    let list = app.get(HOSTS).await.expect(200).clone();
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| h["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);
    assert!(
        list["items"][0].get("needs").is_none(),
        "only one host's answer has needs"
    );
    let page = app
        .get(&format!("{HOSTS}?limit=1"))
        .await
        .expect(200)
        .clone();
    assert_eq!(page["next_cursor"], "web-1");
    let filtered = app
        .get(&format!("{HOSTS}?name=2"))
        .await
        .expect(200)
        .clone();
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);

    // An absent field keeps its value; If-Match guards the edit.
    let patched = app
        .patch(
            &host_path("web-1"),
            &json!({"addresses": ["10.0.1.13"]}),
            Some(&etag),
        )
        .await;
    let patched_body = patched.expect(200).clone();
    assert_eq!(patched_body["addresses"], json!(["10.0.1.13"]));
    assert_eq!(patched_body["description"], "rack 2");
    assert_ne!(patched.etag(), etag);
    app.patch(
        &host_path("web-1"),
        &json!({"description": "x"}),
        Some(&etag),
    )
    .await
    .problem(412, "precondition_failed");
    let described = app
        .patch_ok(&host_path("web-1"), &json!({"description": "rack 3"}))
        .await;
    assert_eq!(described["addresses"], json!(["10.0.1.13"]));

    app.delete(&host_path("web-1"), Some(&etag))
        .await
        .problem(412, "precondition_failed");
    app.delete(&host_path("web-1"), None).await.expect(204);
    app.get(&host_path("web-1")).await.problem(404, "not_found");
    app.delete(&host_path("web-1"), None)
        .await
        .problem(404, "not_found");
    // Its address is free again.
    create_host(&app, "web-3", &["10.0.1.13"]).await;
}

#[tokio::test]
async fn bad_hosts_are_refused_naming_each_field() {
    let app = TestApp::spawn().await;
    let fields = app
        .post(HOSTS, &json!({"name": "Web_1", "addresses": ["10.0.0.1"]}))
        .await
        .invalid_fields();
    assert_eq!(fields, ["name"]);
    let fields = app
        .post(HOSTS, &json!({"addresses": ["10.0.0.1"]}))
        .await
        .invalid_fields();
    assert_eq!(fields, ["name"]);
    let empty = app
        .post(HOSTS, &json!({"name": "web", "addresses": []}))
        .await;
    assert_eq!(empty.invalid_fields(), ["addresses"]);
    assert!(
        empty.text.contains("at least one address"),
        "{}",
        empty.text
    );
    let fields = app
        .post(
            HOSTS,
            &json!({"name": "web", "addresses": ["10.0.0.1", "10.0.0.300", "::ffff:10.0.0.2",
                                                 "10.0.0.1"]}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["addresses[1]", "addresses[2]", "addresses[3]"]);
    let many: Vec<String> = (1..=65).map(|i| format!("10.0.2.{i}")).collect();
    let fields = app
        .post(HOSTS, &json!({"name": "web", "addresses": many}))
        .await
        .invalid_fields();
    assert_eq!(fields, ["addresses"]);
    let fields = app
        .post(
            HOSTS,
            &json!({"name": "web", "addresses": ["10.0.0.1"], "port": 1}),
        )
        .await
        .invalid_fields();
    assert_eq!(fields, ["port"]);

    // An address belongs to one host: the other is named.
    create_host(&app, "web-1", &["10.0.0.1", "10.0.0.2"]).await;
    let taken = app
        .post(
            HOSTS,
            &json!({"name": "web-2", "addresses": ["10.0.0.3", "10.0.0.2"]}),
        )
        .await;
    let detail = taken.problem(409, "address_claimed")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("addresses[1]"), "{detail}");
    assert!(
        detail.contains("10.0.0.2") && detail.contains("web-1"),
        "{detail}"
    );
    create_host(&app, "web-2", &["10.0.0.3"]).await;
    let taken = app
        .patch(
            &host_path("web-2"),
            &json!({"addresses": ["10.0.0.3", "10.0.0.1"]}),
            None,
        )
        .await;
    assert!(taken.problem(409, "address_claimed")["detail"]
        .as_str()
        .unwrap()
        .contains("real-server host web-1"));
    // Its own addresses are no conflict.
    app.patch_ok(
        &host_path("web-1"),
        &json!({"addresses": ["10.0.0.2", "10.0.0.1"]}),
    )
    .await;
    app.post(HOSTS, &json!({"name": "web-1", "addresses": ["10.0.0.9"]}))
        .await
        .problem(409, "already_exists");
    let fields = app
        .patch(&host_path("web-1"), &json!({"name": "web-9"}), None)
        .await
        .invalid_fields();
    assert_eq!(fields, ["name"]);
    let fields = app
        .patch(&host_path("web-1"), &json!({"addresses": null}), None)
        .await
        .invalid_fields();
    assert_eq!(fields, ["addresses"]);
    app.get(&host_path("nope")).await.problem(404, "not_found");
}

#[tokio::test]
async fn a_token_is_shown_once_and_stored_hashed() {
    let app = TestApp::spawn().await;
    create_host(&app, "web-1", &["10.0.0.1"]).await;
    let issued = app.post_empty(&host_token_path("web-1"), None).await;
    let body = issued.expect(201).clone();
    let token = body["token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("lvsr_") && token.len() == 69, "{token}");
    assert_eq!(body["host"], "web-1");
    assert_eq!(
        issued
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    assert_eq!(host["token_created_at"], body["created_at"]);
    assert!(!host.to_string().contains(&token), "never shown again");

    // Only its SHA-256 is in the database.
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&app.database_url())
        .await
        .unwrap();
    let (stored,): (Vec<u8>,) =
        sqlx::query_as("SELECT token_hash FROM real_server_hosts WHERE name = 'web-1'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    use sha2::Digest;
    assert_eq!(stored, sha2::Sha256::digest(token.as_bytes()).to_vec());

    // Rotating replaces it; revoking removes it.
    let rotated = create_host_token(&app, "web-1").await;
    assert_ne!(rotated, token);
    app.delete(&host_token_path("web-1"), None)
        .await
        .expect(204);
    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    assert_eq!(host["token_created_at"], Value::Null);
    app.post_empty(&host_token_path("nope"), None)
        .await
        .problem(404, "not_found");
}

/// A DR service on `vip`:80 with real servers `servers` (address, forwarding).
fn service(vip: &str, servers: &[(&str, &str)]) -> Value {
    let real_servers: Vec<Value> = servers
        .iter()
        .map(|(address, forwarding)| {
            json!({"address": address, "port": 80, "forwarding": forwarding})
        })
        .collect();
    json!({"protocol": "tcp", "address": vip, "port": 80, "real_servers": real_servers})
}

#[tokio::test]
async fn needs_come_from_route_and_tunnel_services_of_every_cluster() {
    let app = TestApp::spawn().await;
    create_host(&app, "web-1", &["10.0.1.11", "10.0.1.12"]).await;
    app.create_cluster("prod").await;
    app.create_cluster("staging").await;
    app.create_service("prod", &service("192.0.2.10", &[("10.0.1.11", "route")]))
        .await;
    // NAT needs nothing of the host.
    app.create_service("prod", &service("192.0.2.20", &[("10.0.1.11", "masq")]))
        .await;
    app.create_service(
        "staging",
        &service("192.0.2.30", &[("10.0.1.12", "tunnel")]),
    )
    .await;
    // A fwmark service with marking rules needs the rules' addresses.
    app.create_service(
        "prod",
        &json!({"fwmark": 7, "family": "ipv4",
                "mark_rules": [{"protocol": "tcp", "address": "192.0.2.40", "ports": [80, 443]}],
                "real_servers": [{"address": "10.0.1.12", "port": 0, "forwarding": "route"}]}),
    )
    .await;
    // Another host's real servers are not this one's.
    app.create_service("prod", &service("192.0.2.50", &[("10.0.1.99", "route")]))
        .await;

    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    let needs = &host["needs"];
    assert_eq!(
        needs["vips"],
        json!([
            {"address": "192.0.2.10", "arrival": "route", "services": ["prod/tcp:192.0.2.10:80"]},
            {"address": "192.0.2.30", "arrival": "ipip", "services": ["staging/tcp:192.0.2.30:80"]},
            {"address": "192.0.2.40", "arrival": "route", "services": ["prod/fwmark:7:ipv4"]},
        ])
    );
    let version = needs["version"].as_str().expect("a version");
    assert_eq!(version.len(), 16);
    // The host's status is judged against the same needs.
    assert_eq!(host["status"]["state"], "never_seen");
    // Deleting a cluster takes its services' needs with it.
    app.delete(&format!("{}?force=true", cluster_path("staging")), None)
        .await
        .expect(204);
    let host = app.get(&host_path("web-1")).await.expect(200).clone();
    let addresses: Vec<&str> = host["needs"]["vips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["192.0.2.10", "192.0.2.40"]);
    assert_ne!(host["needs"]["version"], version);
}

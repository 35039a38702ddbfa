//! The OpenAPI document, the API explorer and the probes.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::helpers::*;

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
}

#[test]
fn checked_in_openapi_document_is_current() {
    let generated = lvs_server::api::openapi()
        .to_pretty_json()
        .expect("the document serialises")
        + "\n";
    let path = checked_in_path();
    let checked_in = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if generated != checked_in {
        let line = generated
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "the lengths differ".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "openapi/openapi.json is out of date with the server's routes ({line}); \
             run `cargo xtask openapi` and commit the result"
        );
    }
}

#[tokio::test]
async fn served_openapi_document_is_the_checked_in_one() {
    let app = TestApp::spawn().await;
    let resp = app.get("/api/openapi.json").await;
    let served = resp.expect(200);
    assert!(resp.content_type.starts_with("application/json"));
    let version = served["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1."), "OpenAPI 3.1.x, not {version}");

    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(checked_in_path()).expect("the checked-in document"),
    )
    .expect("JSON");
    assert_eq!(served, &checked_in);

    // It describes the routes the server has.
    let paths = served["paths"].as_object().expect("paths");
    for path in [
        "/healthz",
        "/readyz",
        "/api/v1/clusters",
        "/api/v1/clusters/{cluster}",
        "/api/v1/clusters/{cluster}/directors/{director}",
        "/api/v1/clusters/{cluster}/services/{service}",
        "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}",
        "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/drain",
        "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/restore",
        "/api/v1/clusters/{cluster}/desired-state",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let patch = &paths["/api/v1/clusters/{cluster}"]["patch"]["requestBody"]["content"];
    assert!(patch.get("application/merge-patch+json").is_some());
}

#[tokio::test]
async fn api_docs_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.get("/api/docs").await;
    page.expect(200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.text.contains("<title>LVS Fleet API</title>"));

    // Every script and stylesheet the page loads is served by the server itself.
    let assets: Vec<&str> = page
        .text
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert_eq!(assets.len(), 4, "{assets:?}");
    for asset in assets {
        assert!(asset.starts_with("/api/docs/"), "{asset} is local");
        let resp = app.get(asset).await;
        resp.expect(200);
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            resp.content_type.starts_with(expected),
            "{asset}: {}",
            resp.content_type
        );
        assert!(resp.headers.contains_key("cache-control"));
        if asset.contains("swagger-ui") {
            assert!(resp.text.len() > 100_000, "{asset} is the real bundle");
        } else if asset.ends_with(".css") {
            // Our overrides of the bundle's colours.
            assert!(resp.text.contains(".swagger-ui "), "{asset}");
        } else {
            assert!(resp.text.contains("/api/openapi.json"));
        }
    }
}

#[tokio::test]
async fn probes() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let resp = app.get(path).await;
        assert_eq!(resp.expect(200), &json!({"status": "ok"}));
        assert!(resp.content_type.starts_with("application/json"));
    }
}

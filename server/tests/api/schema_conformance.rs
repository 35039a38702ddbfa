//! Every operation of the OpenAPI document, driven against the real server: each answer's
//! status and content type must be documented, and its body must validate against the
//! schema the document declares for them. An operation the document gains without being
//! driven here fails the test.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The document and what the test drove through it.
struct Conformance {
    spec: Value,
    exercised: BTreeSet<(String, String)>,
    failures: Vec<String>,
}

impl Conformance {
    fn new() -> Self {
        let spec = serde_json::to_value(lvs_server::api::openapi()).expect("the document is JSON");
        Conformance {
            spec,
            exercised: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// Every `(method, path)` the document has.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let paths = self.spec["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("a path item");
                methods
                    .keys()
                    .filter(|m| ["get", "put", "post", "patch", "delete"].contains(&m.as_str()))
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    /// Checks one answer of `method` on the documented `path`; returns it for more checks.
    fn check<'r>(&mut self, method: &Method, path: &str, resp: &'r Resp) -> &'r Resp {
        let method = method.as_str().to_ascii_lowercase();
        let label = format!("{} {path} -> {}", method.to_uppercase(), resp.status);
        self.exercised.insert((method.clone(), path.to_owned()));
        let operation = &self.spec["paths"][path][&method];
        if operation.is_null() {
            self.failures.push(format!("{label}: not in the document"));
            return resp;
        }
        let response = &operation["responses"][resp.status.to_string()];
        if response.is_null() {
            self.failures
                .push(format!("{label}: status not documented: {}", resp.text));
            return resp;
        }
        let essence = resp.content_type.split(';').next().unwrap_or("").trim();
        let Some(content) = response["content"].as_object() else {
            if !resp.text.is_empty() {
                self.failures.push(format!(
                    "{label}: documented without a body, got {}",
                    resp.text
                ));
            }
            return resp;
        };
        let Some(media) = content.get(essence) else {
            let documented: Vec<&String> = content.keys().collect();
            self.failures.push(format!(
                "{label}: content type {essence:?} not documented (only {documented:?})"
            ));
            return resp;
        };
        // Only JSON bodies have a schema to check (the metrics are text).
        if !essence.ends_with("json") {
            return resp;
        }
        let schema = self.with_components(&media["schema"]);
        let validator = match jsonschema::draft202012::new(&schema) {
            Ok(validator) => validator,
            Err(error) => {
                self.failures
                    .push(format!("{label}: invalid schema: {error}"));
                return resp;
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&resp.body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            self.failures.push(format!(
                "{label}: the body does not match its schema: {errors:?}\n{}",
                resp.text
            ));
        }
        resp
    }

    /// A schema that resolves `#/components/schemas/...` in the document itself.
    fn with_components(&self, schema: &Value) -> Value {
        let mut whole = schema.clone();
        if let Value::Object(object) = &mut whole {
            object.insert("components".into(), self.spec["components"].clone());
        }
        whole
    }

    #[track_caller]
    fn finish(self) {
        let missing: Vec<String> = self
            .operations()
            .difference(&self.exercised)
            .map(|(method, path)| format!("{} {path}", method.to_uppercase()))
            .collect();
        assert!(
            missing.is_empty(),
            "operations of the document this test does not drive: {missing:?}"
        );
        assert!(
            self.failures.is_empty(),
            "answers that the document does not describe:\n{}",
            self.failures.join("\n")
        );
    }
}

const CLUSTERS: &str = "/api/v1/clusters";
const CLUSTER: &str = "/api/v1/clusters/{cluster}";
const DIRECTORS: &str = "/api/v1/clusters/{cluster}/directors";
const DIRECTOR: &str = "/api/v1/clusters/{cluster}/directors/{director}";
const TOKEN: &str = "/api/v1/clusters/{cluster}/directors/{director}/token";
const DIRECTOR_STATS: &str = "/api/v1/clusters/{cluster}/directors/{director}/stats";
const SERVICES: &str = "/api/v1/clusters/{cluster}/services";
const SERVICE: &str = "/api/v1/clusters/{cluster}/services/{service}";
const HISTORY: &str = "/api/v1/clusters/{cluster}/services/{service}/stats/history";
const REAL_SERVERS: &str = "/api/v1/clusters/{cluster}/services/{service}/real-servers";
const REAL_SERVER: &str = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}";
const DRAIN: &str = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/drain";
const RESTORE: &str = "/api/v1/clusters/{cluster}/services/{service}/real-servers/{id}/restore";
const DESIRED_STATE: &str = "/api/v1/clusters/{cluster}/desired-state";
const CHANGES: &str = "/api/v1/clusters/{cluster}/changes";
const CHANGE: &str = "/api/v1/clusters/{cluster}/changes/{generation}";
const IMPORT: &str = "/api/v1/clusters/{cluster}/import";
const REVERT: &str = "/api/v1/clusters/{cluster}/revert";
const SERVICE_HEALTH: &str = "/api/v1/clusters/{cluster}/services/{service}/health";
const HEALTH_EVENTS: &str = "/api/v1/clusters/{cluster}/health-events";
const AGENT_HEALTH: &str = "/api/v1/agent/health";
const API_TOKENS: &str = "/api/v1/api-tokens";
const API_TOKEN: &str = "/api/v1/api-tokens/{id}";
const AUDIT: &str = "/api/v1/audit";
const USERS: &str = "/api/v1/users";
const USER: &str = "/api/v1/users/{user}";
const USER_PASSWORD: &str = "/api/v1/users/{user}/password";
const OWN_PASSWORD: &str = "/api/v1/account/password";
const HOSTS: &str = "/api/v1/real-server-hosts";
const HOST: &str = "/api/v1/real-server-hosts/{host}";
const HOST_TOKEN: &str = "/api/v1/real-server-hosts/{host}/token";
const HOST_NEEDS: &str = "/api/v1/agent/real-server";
const HOST_REPORT: &str = "/api/v1/agent/real-server/report";

#[tokio::test]
async fn every_operation_answers_as_the_document_says() {
    let app = TestApp::spawn().await;
    let mut c = Conformance::new();
    let (get, post, put, patch, delete) = (
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    );

    c.check(&get, "/healthz", &app.get("/healthz").await);
    c.check(&get, "/readyz", &app.get("/readyz").await);
    c.check(&get, "/metrics", &app.get("/metrics").await);

    // Clusters.
    c.check(
        &post,
        CLUSTERS,
        &app.post(CLUSTERS, &json!({"name": "web", "timeouts": {"tcp": 900}}))
            .await,
    )
    .expect(201);
    c.check(
        &post,
        CLUSTERS,
        &app.post(CLUSTERS, &json!({"name": "web"})).await,
    )
    .problem(409, "already_exists");
    c.check(
        &post,
        CLUSTERS,
        &app.post(CLUSTERS, &json!({"name": "Web!"})).await,
    )
    .expect(422);
    c.check(
        &post,
        CLUSTERS,
        &app.raw(post.clone(), CLUSTERS, "text/plain", "{}").await,
    )
    .expect(415);
    c.check(
        &post,
        CLUSTERS,
        &app.raw(post.clone(), CLUSTERS, "application/json", "{")
            .await,
    )
    .expect(400);
    c.check(&get, CLUSTERS, &app.get(CLUSTERS).await)
        .expect(200);
    c.check(&get, CLUSTERS, &app.get("/api/v1/clusters?limit=0").await)
        .expect(400);
    let resp = app.get(&cluster_path("web")).await;
    let cluster_etag = c.check(&get, CLUSTER, &resp).etag();
    c.check(&get, CLUSTER, &app.get(&cluster_path("nope")).await)
        .expect(404);
    let replaced = json!({"name": "web", "description": "front", "timeouts": {"tcp": 900}});
    c.check(
        &put,
        CLUSTER,
        &app.put(&cluster_path("web"), &replaced, Some("\"stale\""))
            .await,
    )
    .expect(412);
    c.check(
        &put,
        CLUSTER,
        &app.put(&cluster_path("web"), &replaced, Some(&cluster_etag))
            .await,
    )
    .expect(200);
    c.check(
        &patch,
        CLUSTER,
        &app.patch(&cluster_path("web"), &json!({"description": "edge"}), None)
            .await,
    )
    .expect(200);
    c.check(
        &patch,
        CLUSTER,
        &app.patch(&cluster_path("web"), &json!({"timeouts": {"tcp": 0}}), None)
            .await,
    )
    .expect(422);

    // Directors and their tokens.
    let lb1 = json!({"name": "lb1"});
    c.check(&post, DIRECTORS, &app.post(&directors("web"), &lb1).await)
        .expect(201);
    c.check(&post, DIRECTORS, &app.post(&directors("web"), &lb1).await)
        .expect(409);
    c.check(&post, DIRECTORS, &app.post(&directors("nope"), &lb1).await)
        .expect(404);
    c.check(
        &post,
        DIRECTORS,
        &app.post(&directors("web"), &json!({"name": ""})).await,
    )
    .expect(422);
    c.check(&get, DIRECTORS, &app.get(&directors("web")).await)
        .expect(200);
    c.check(&get, DIRECTOR, &app.get(&director_path("web", "lb1")).await)
        .expect(200);
    c.check(&get, DIRECTOR, &app.get(&director_path("web", "lb9")).await)
        .expect(404);
    let lb1_described = json!({"name": "lb1", "description": "rack 1"});
    c.check(
        &put,
        DIRECTOR,
        &app.put(&director_path("web", "lb1"), &lb1_described, None)
            .await,
    )
    .expect(200);
    c.check(
        &put,
        DIRECTOR,
        &app.put(&director_path("web", "lb1"), &lb1_described, Some("\"x\""))
            .await,
    )
    .expect(412);
    c.check(
        &patch,
        DIRECTOR,
        &app.patch(
            &director_path("web", "lb1"),
            &json!({"description": "r2"}),
            None,
        )
        .await,
    )
    .expect(200);
    c.check(
        &patch,
        DIRECTOR,
        &app.patch(&director_path("web", "lb1"), &json!({"name": "lb2"}), None)
            .await,
    )
    .expect(422);
    c.check(
        &post,
        DIRECTORS,
        &app.post(&directors("web"), &json!({"name": "lb2"})).await,
    )
    .expect(201);
    let token = app.post_empty(&token_path("web", "lb1"), None).await;
    let token = c.check(&post, TOKEN, &token).expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    c.check(
        &post,
        TOKEN,
        &app.post_empty(&token_path("web", "lb9"), None).await,
    )
    .expect(404);
    let lb2_token = app.create_token("web", "lb2").await;
    c.check(
        &delete,
        TOKEN,
        &app.delete(&token_path("web", "lb2"), None).await,
    )
    .expect(204);
    c.check(
        &delete,
        TOKEN,
        &app.delete(&token_path("web", "lb9"), None).await,
    )
    .expect(404);

    // Services of every kind.
    let mut web = tcp_service(80);
    web["real_servers"] = json!([masq_server(1, 8080), masq_server(2, 8080)]);
    let resp = app.post(&services("web"), &web).await;
    let service = id(c.check(&post, SERVICES, &resp).expect(201));
    for spec in [
        json!({"protocol": "udp", "address": "2001:db8::53", "port": 53,
               "persistence_timeout": 300, "persistence_netmask": 64}),
        json!({"fwmark": 42, "family": "ipv4", "one_packet": true,
               "real_servers": [{"address": "10.1.0.21", "forwarding": "tunnel",
                                 "tunnel_type": "gue", "tunnel_port": 6080}]}),
        json!({"protocol": "tcp", "address": "192.0.2.1", "port": 443,
               "persistence_timeout": 60, "persistence_netmask": "255.255.255.0"}),
    ] {
        let resp = app.post(&services("web"), &spec).await;
        c.check(&post, SERVICES, &resp).expect(201);
    }
    c.check(&post, SERVICES, &app.post(&services("web"), &web).await)
        .expect(409);
    c.check(
        &post,
        SERVICES,
        &app.post(&services("web"), &json!({"fwmark": 1})).await,
    )
    .expect(422);
    c.check(&get, SERVICES, &app.get(&services("web")).await)
        .expect(200);
    c.check(
        &get,
        SERVICES,
        &app.get(&format!("{}?address=nowhere", services("web")))
            .await,
    )
    .expect(400);
    c.check(&get, SERVICES, &app.get(&services("nope")).await)
        .expect(404);
    let resp = app.get(&service_path("web", service)).await;
    let service_etag = c.check(&get, SERVICE, &resp).etag();
    c.check(
        &get,
        SERVICE,
        &app.get("/api/v1/clusters/web/services/x").await,
    )
    .expect(400);
    let mut web_wrr = tcp_service(80);
    web_wrr["scheduler"] = json!("wrr");
    c.check(
        &put,
        SERVICE,
        &app.put(&service_path("web", service), &web_wrr, Some(&service_etag))
            .await,
    )
    .expect(200);
    c.check(
        &put,
        SERVICE,
        &app.put(&service_path("web", service), &web_wrr, Some(&service_etag))
            .await,
    )
    .expect(412);
    c.check(
        &patch,
        SERVICE,
        &app.patch(&service_path("web", service), &json!({"name": "web"}), None)
            .await,
    )
    .expect(200);
    c.check(
        &patch,
        SERVICE,
        &app.patch(&service_path("web", service), &json!({"port": 0}), None)
            .await,
    )
    .expect(422);

    // Real servers.
    let resp = app
        .post(&real_servers("web", service), &masq_server(3, 8080))
        .await;
    let server = id(c.check(&post, REAL_SERVERS, &resp).expect(201));
    c.check(
        &post,
        REAL_SERVERS,
        &app.post(&real_servers("web", service), &masq_server(3, 8080))
            .await,
    )
    .expect(409);
    c.check(
        &post,
        REAL_SERVERS,
        &app.post(
            &real_servers("web", service),
            &json!({"address": "10.1.0.4"}),
        )
        .await,
    )
    .expect(422);
    c.check(
        &get,
        REAL_SERVERS,
        &app.get(&real_servers("web", service)).await,
    )
    .expect(200);
    c.check(
        &get,
        REAL_SERVERS,
        &app.get(&real_servers("web", 999)).await,
    )
    .expect(404);
    let path = real_server_path("web", service, server);
    let server_etag = c.check(&get, REAL_SERVER, &app.get(&path).await).etag();
    c.check(
        &get,
        REAL_SERVER,
        &app.get(&real_server_path("web", service, 999)).await,
    )
    .expect(404);
    let mut weighted = masq_server(3, 8080);
    weighted["weight"] = json!(5);
    c.check(
        &put,
        REAL_SERVER,
        &app.put(&path, &weighted, Some(&server_etag)).await,
    )
    .expect(200);
    c.check(
        &put,
        REAL_SERVER,
        &app.put(&path, &weighted, Some(&server_etag)).await,
    )
    .expect(412);
    c.check(
        &patch,
        REAL_SERVER,
        &app.patch(&path, &json!({"weight": 3}), None).await,
    )
    .expect(200);
    c.check(
        &patch,
        REAL_SERVER,
        &app.patch(&path, &json!({"weight": -1}), None).await,
    )
    .expect(422);
    c.check(
        &post,
        DRAIN,
        &app.post_empty(&format!("{path}/drain"), None).await,
    )
    .expect(200);
    c.check(
        &post,
        DRAIN,
        &app.post_empty(&format!("{path}/drain"), Some("\"x\""))
            .await,
    )
    .expect(412);
    c.check(
        &post,
        RESTORE,
        &app.post_empty(&format!("{path}/restore"), None).await,
    )
    .expect(200);
    c.check(
        &post,
        RESTORE,
        &app.post_empty(
            &format!("{}/restore", real_server_path("web", service, 999)),
            None,
        )
        .await,
    )
    .expect(404);

    // The desired state and its history.
    let resp = app.get(&desired_state("web")).await;
    let document = c.check(&get, DESIRED_STATE, &resp).expect(200).clone();
    c.check(&get, DESIRED_STATE, &app.get(&desired_state("nope")).await)
        .expect(404);
    c.check(
        &put,
        DESIRED_STATE,
        &app.put(&desired_state("web"), &document, None).await,
    )
    .expect(200);
    c.check(
        &put,
        DESIRED_STATE,
        &app.put(&desired_state("web"), &document, Some("\"gen-1\""))
            .await,
    )
    .expect(412);
    let bad = json!({"services": [{"protocol": "tcp"}], "timeouts": {}});
    c.check(
        &put,
        DESIRED_STATE,
        &app.put(&desired_state("web"), &bad, None).await,
    )
    .expect(422);
    c.check(
        &get,
        CHANGES,
        &app.get(&format!("{}/changes", cluster_path("web"))).await,
    )
    .expect(200);
    c.check(
        &get,
        CHANGES,
        &app.get(&format!("{}/changes?cursor=x", cluster_path("web")))
            .await,
    )
    .expect(400);
    c.check(
        &get,
        CHANGE,
        &app.get(&format!("{}/changes/1", cluster_path("web"))).await,
    )
    .expect(200);
    c.check(
        &get,
        CHANGE,
        &app.get(&format!("{}/changes/999", cluster_path("web")))
            .await,
    )
    .expect(404);

    // Access: tokens issued, listed, used below their role, revoked; users; the audit log.
    let issued = app
        .post(
            API_TOKENS,
            &json!({"name": "ci", "role": "viewer", "service_account": "ci"}),
        )
        .await;
    c.check(&post, API_TOKENS, &issued).expect(201);
    let viewer = issued.body["token"].as_str().expect("a token").to_owned();
    let resp = app
        .post(
            API_TOKENS,
            &json!({"name": "ci", "role": "viewer", "service_account": "ci"}),
        )
        .await;
    c.check(&post, API_TOKENS, &resp).expect(409);
    let resp = app
        .post(API_TOKENS, &json!({"name": "x", "role": "root"}))
        .await;
    c.check(&post, API_TOKENS, &resp).expect(422);
    c.check(&get, API_TOKENS, &app.get(API_TOKENS).await)
        .expect(200);
    let as_viewer = app
        .send(
            app.request(Method::POST, "/api/v1/clusters")
                .bearer_auth(&viewer)
                .json(&json!({"name": "nope"})),
        )
        .await;
    c.check(&post, "/api/v1/clusters", &as_viewer).expect(403);
    let anonymous = read(
        app.anonymous()
            .get(app.url("/api/v1/clusters"))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    c.check(&get, "/api/v1/clusters", &anonymous).expect(401);
    c.check(&get, USERS, &app.get(USERS).await).expect(200);
    let added = app
        .post(USERS, &json!({"name": "ada", "role": "operator"}))
        .await;
    c.check(&post, USERS, &added).expect(201);
    let password = added.body["password"].as_str().expect("a password");
    let resp = app
        .post(USERS, &json!({"name": "ada", "role": "viewer"}))
        .await;
    c.check(&post, USERS, &resp).expect(409);
    let resp = app.post(USERS, &json!({"name": "x", "role": "root"})).await;
    c.check(&post, USERS, &resp).expect(422);
    c.check(&get, USER, &app.get("/api/v1/users/ada").await)
        .expect(200);
    c.check(&get, USER, &app.get("/api/v1/users/nobody").await)
        .expect(404);
    let resp = app
        .patch("/api/v1/users/ada", &json!({"role": "viewer"}), None)
        .await;
    c.check(&patch, USER, &resp).expect(200);
    let resp = app
        .patch("/api/v1/users/admin", &json!({"role": "viewer"}), None)
        .await;
    c.check(&patch, USER, &resp).expect(422);
    let resp = app.patch("/api/v1/users/nobody", &json!({}), None).await;
    c.check(&patch, USER, &resp).expect(404);
    let new_password = json!({"password": "another long password"});
    let resp = app
        .put("/api/v1/users/ada/password", &new_password, None)
        .await;
    c.check(&put, USER_PASSWORD, &resp).expect(204);
    let resp = app
        .put(
            "/api/v1/users/ada/password",
            &json!({"password": "x"}),
            None,
        )
        .await;
    c.check(&put, USER_PASSWORD, &resp).expect(422);
    let resp = app
        .put("/api/v1/users/nobody/password", &new_password, None)
        .await;
    c.check(&put, USER_PASSWORD, &resp).expect(404);
    let change = json!({"current_password": password, "password": "another long password"});
    let resp = app.put(OWN_PASSWORD, &change, None).await;
    c.check(&put, OWN_PASSWORD, &resp).expect(409);
    let ada = app
        .post(
            API_TOKENS,
            &json!({"name": "cli", "role": "viewer", "user": "ada"}),
        )
        .await;
    let ada = ada.body["token"].as_str().expect("a token").to_owned();
    let as_ada = |body: &Value| {
        app.request(Method::PUT, OWN_PASSWORD)
            .bearer_auth(&ada)
            .json(body)
    };
    let resp = app.send(as_ada(&change)).await;
    c.check(&put, OWN_PASSWORD, &resp).expect(422);
    let right =
        json!({"current_password": "another long password", "password": "a third long password"});
    let resp = app.send(as_ada(&right)).await;
    c.check(&put, OWN_PASSWORD, &resp).expect(204);
    c.check(&delete, USER, &app.delete("/api/v1/users/ada", None).await)
        .expect(204);
    c.check(&delete, USER, &app.delete("/api/v1/users/ada", None).await)
        .expect(404);
    c.check(
        &delete,
        USER,
        &app.delete("/api/v1/users/admin", None).await,
    )
    .expect(409);
    c.check(&get, AUDIT, &app.get("/api/v1/audit?limit=5").await)
        .expect(200);
    c.check(&get, AUDIT, &app.get("/api/v1/audit?since=yesterday").await)
        .expect(400);
    let id = issued.body["id"].as_i64().expect("an id");
    let resp = app.delete(&format!("{API_TOKENS}/{id}"), None).await;
    c.check(&delete, API_TOKEN, &resp).expect(204);
    let resp = app.delete(&format!("{API_TOKENS}/{id}"), None).await;
    c.check(&delete, API_TOKEN, &resp).expect(404);

    // Revert: a plan, a revert and its undoing (so the state is as before), refusals.
    let generation = app.generation("web").await;
    let revert = |to: u64| format!("{}/revert?to={to}", cluster_path("web"));
    let dry_run = format!("{}&dry_run=true", revert(generation - 1));
    c.check(&post, REVERT, &app.post_empty(&dry_run, None).await)
        .expect(200);
    let current = format!("\"gen-{generation}\"");
    let resp = app
        .post_empty(&revert(generation - 1), Some(&current))
        .await;
    c.check(&post, REVERT, &resp).expect(200);
    let next = format!("\"gen-{}\"", generation + 1);
    let resp = app.post_empty(&revert(generation), Some(&next)).await;
    c.check(&post, REVERT, &resp).expect(200);
    let resp = app.post_empty(&revert(generation), None).await;
    c.check(&post, REVERT, &resp).expect(428);
    let resp = app.post_empty(&revert(generation), Some(&current)).await;
    c.check(&post, REVERT, &resp).expect(412);
    let at = format!("\"gen-{}\"", generation + 2);
    let resp = app.post_empty(&revert(generation + 2), Some(&at)).await;
    c.check(&post, REVERT, &resp).expect(422);
    let resp = app
        .post_empty(&format!("{}/revert?to=x", cluster_path("web")), None)
        .await;
    c.check(&post, REVERT, &resp).expect(400);
    let resp = app
        .post_empty("/api/v1/clusters/nope/revert?to=1", Some(&at))
        .await;
    c.check(&post, REVERT, &resp).expect(404);
    sql_execute(
        &app,
        "UPDATE clusters SET revertable_from = generation WHERE name = 'web'",
    )
    .await;
    let resp = app.post_empty(&revert(generation), Some(&at)).await;
    c.check(&post, REVERT, &resp).expect(409);
    sql_execute(
        &app,
        "UPDATE clusters SET revertable_from = 0 WHERE name = 'web'",
    )
    .await;

    // What the agent calls, and the statistics it reports.
    let generation = app.generation("web").await;
    let resp = app.agent_get(AGENT_DESIRED_STATE, &token).await;
    c.check(&get, AGENT_DESIRED_STATE, &resp).expect(200);
    let since = format!(
        "{AGENT_DESIRED_STATE}?after={}&changes=true",
        generation - 1
    );
    c.check(
        &get,
        AGENT_DESIRED_STATE,
        &app.agent_get(&since, &token).await,
    )
    .expect(200);
    let waited = format!("{AGENT_DESIRED_STATE}?after={generation}&timeout=0");
    c.check(
        &get,
        AGENT_DESIRED_STATE,
        &app.agent_get(&waited, &token).await,
    )
    .expect(204);
    c.check(
        &get,
        AGENT_DESIRED_STATE,
        &app.agent_get(AGENT_DESIRED_STATE, &lb2_token).await,
    )
    .expect(401);
    let scoped = format!("{AGENT_DESIRED_STATE}?cluster=other");
    c.check(
        &get,
        AGENT_DESIRED_STATE,
        &app.agent_get(&scoped, &token).await,
    )
    .expect(403);
    let report = apply_report(generation, &[]);
    c.check(
        &post,
        AGENT_REPORT,
        &app.agent_post(AGENT_REPORT, &token, &report).await,
    )
    .expect(204);
    c.check(
        &post,
        AGENT_REPORT,
        &app.agent_post(AGENT_REPORT, &token, &json!({})).await,
    )
    .expect(422);
    let counters = json!({"connections": 10, "packets_in": 50, "packets_out": 40,
                          "bytes_in": 6000, "bytes_out": 9000});
    let stats = json!({"services": [{"key": "tcp:10.0.0.1:80", "counters": counters,
                                     "rates": counters, "real_servers": []}]});
    c.check(
        &post,
        AGENT_STATS,
        &app.agent_post(AGENT_STATS, &token, &stats).await,
    )
    .expect(204);
    c.check(
        &post,
        AGENT_STATS,
        &app.agent_post(AGENT_STATS, "lvsa_nope", &stats).await,
    )
    .expect(401);
    let stats_path = format!("{}/stats", director_path("web", "lb1"));
    c.check(&get, DIRECTOR_STATS, &app.get(&stats_path).await)
        .expect(200);
    let stats_path = format!("{}/stats", director_path("web", "lb9"));
    c.check(&get, DIRECTOR_STATS, &app.get(&stats_path).await)
        .expect(404);
    let history = format!("{}/stats/history", service_path("web", service));
    c.check(&get, HISTORY, &app.get(&history).await).expect(200);
    let history = format!(
        "{}/stats/history?resolution=1h",
        service_path("web", service)
    );
    c.check(&get, HISTORY, &app.get(&history).await).expect(400);

    // Health: a director's report, a service's view, the cluster's events.
    let health = json!({
        "full": true,
        "real_servers": [{"service": "tcp:10.0.0.1:80", "real_server": "10.1.0.1:80",
                          "health": "down", "since_ms": 1_700_000_000_000_u64,
                          "reason": "timeout"}],
        "services": [{"service": "tcp:10.0.0.1:80", "sorry_server_in_use": false}],
        "checker": {"targets": 1, "results": 3, "last_result_ms": 1_700_000_000_000_u64,
                    "longest_interval_ms": 2000}
    });
    c.check(
        &post,
        AGENT_HEALTH,
        &app.agent_post(AGENT_HEALTH, &token, &health).await,
    )
    .expect(204);
    c.check(
        &post,
        AGENT_HEALTH,
        &app.agent_post(AGENT_HEALTH, &token, &json!({"full": true}))
            .await,
    )
    .expect(422);
    let service_health = format!("{}/health", service_path("web", service));
    c.check(&get, SERVICE_HEALTH, &app.get(&service_health).await)
        .expect(200);
    let missing = format!("{}/health", service_path("web", 999_999));
    c.check(&get, SERVICE_HEALTH, &app.get(&missing).await)
        .expect(404);
    let events = format!("{}/health-events?limit=10", cluster_path("web"));
    c.check(&get, HEALTH_EVENTS, &app.get(&events).await)
        .expect(200);
    let events = format!("{}/health-events?limit=0", cluster_path("web"));
    c.check(&get, HEALTH_EVENTS, &app.get(&events).await)
        .expect(400);

    // Importing a director's services into a new cluster.
    app.create_cluster("adopted").await;
    let adopted_token = app.create_agent("adopted", "lb1").await;
    let import = format!("{}/import?from_director=lb1", cluster_path("adopted"));
    c.check(&post, IMPORT, &app.post_empty(&import, None).await)
        .expect(409);
    let mut report = apply_report(0, &[]);
    report["unmanaged_services"] = json!([tcp_service(80)]);
    app.agent_report(&adopted_token, &report).await;
    c.check(&post, IMPORT, &app.post_empty(&import, None).await)
        .expect(200);
    let import = format!("{}/import?from_director=lb1", cluster_path("nope"));
    c.check(&post, IMPORT, &app.post_empty(&import, None).await)
        .expect(404);

    real_server_hosts(&app, &mut c).await;

    // Deletions, children first.
    c.check(
        &delete,
        REAL_SERVER,
        &app.delete(&path, Some("\"x\"")).await,
    )
    .expect(412);
    c.check(&delete, REAL_SERVER, &app.delete(&path, None).await)
        .expect(204);
    c.check(&delete, REAL_SERVER, &app.delete(&path, None).await)
        .expect(404);
    c.check(
        &delete,
        SERVICE,
        &app.delete(&service_path("web", service), None).await,
    )
    .expect(204);
    c.check(
        &delete,
        SERVICE,
        &app.delete(&service_path("web", service), None).await,
    )
    .expect(404);
    c.check(
        &delete,
        DIRECTOR,
        &app.delete(&director_path("web", "lb2"), None).await,
    )
    .expect(204);
    c.check(
        &delete,
        DIRECTOR,
        &app.delete(&director_path("web", "lb2"), None).await,
    )
    .expect(404);
    c.check(
        &delete,
        CLUSTER,
        &app.delete(&cluster_path("web"), None).await,
    )
    .expect(409);
    c.check(
        &delete,
        CLUSTER,
        &app.delete("/api/v1/clusters/web?force=true", None).await,
    )
    .expect(204);
    c.check(
        &delete,
        CLUSTER,
        &app.delete(&cluster_path("web"), None).await,
    )
    .expect(404);

    c.finish();
}

#[tokio::test]
async fn a_body_over_the_limit_is_documented() {
    let app = TestApp::spawn_with_limit(64).await;
    let mut c = Conformance::new();
    let big = json!({"name": "web", "description": "x".repeat(100)});
    c.check(&Method::POST, CLUSTERS, &app.post(CLUSTERS, &big).await)
        .expect(413);
    assert!(c.failures.is_empty(), "{:?}", c.failures);
}

#[test]
fn operation_ids_are_unique_and_descriptive() {
    let c = Conformance::new();
    let mut seen = BTreeSet::new();
    for (method, path) in c.operations() {
        let id = c.spec["paths"][&path][&method]["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
            .to_owned();
        assert!(seen.insert(id.clone()), "operationId {id} is used twice");
        let first_word_end = id.find(|ch: char| ch.is_ascii_uppercase());
        assert!(
            first_word_end.is_some(),
            "operationId {id} names its object, not only a verb"
        );
    }
}

/// Real-server hosts, their tokens, and what their agents call.
async fn real_server_hosts(app: &TestApp, c: &mut Conformance) {
    let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);
    app.create_cluster("dr").await;
    app.create_service(
        "dr",
        &json!({"protocol": "tcp", "address": "192.0.2.10", "port": 80,
                "real_servers": [{"address": "10.9.0.1", "port": 80, "forwarding": "route"}]}),
    )
    .await;
    let rs1 = json!({"name": "rs1", "description": "rack 1", "addresses": ["10.9.0.1"]});
    c.check(&post, HOSTS, &app.post(HOSTS, &rs1).await)
        .expect(201);
    c.check(&post, HOSTS, &app.post(HOSTS, &rs1).await)
        .problem(409, "already_exists");
    let claiming = json!({"name": "rs2", "addresses": ["10.9.0.1"]});
    c.check(&post, HOSTS, &app.post(HOSTS, &claiming).await)
        .problem(409, "address_claimed");
    let bad = json!({"name": "rs2", "addresses": []});
    c.check(&post, HOSTS, &app.post(HOSTS, &bad).await)
        .expect(422);
    c.check(&get, HOSTS, &app.get(HOSTS).await).expect(200);
    c.check(&get, HOSTS, &app.get(&format!("{HOSTS}?limit=0")).await)
        .expect(400);
    let rs1_path = format!("{HOSTS}/rs1");
    let etag = c.check(&get, HOST, &app.get(&rs1_path).await).etag();
    c.check(&get, HOST, &app.get(&format!("{HOSTS}/nope")).await)
        .expect(404);
    let edit = json!({"addresses": ["10.9.0.1", "10.9.0.2"]});
    c.check(
        &patch,
        HOST,
        &app.patch(&rs1_path, &edit, Some("\"x\"")).await,
    )
    .expect(412);
    c.check(
        &patch,
        HOST,
        &app.patch(&rs1_path, &edit, Some(&etag)).await,
    )
    .expect(200);
    c.check(
        &patch,
        HOST,
        &app.patch(&rs1_path, &json!({"addresses": ["nope"]}), None)
            .await,
    )
    .expect(422);
    app.post(HOSTS, &json!({"name": "rs2", "addresses": ["10.9.0.3"]}))
        .await
        .expect(201);
    c.check(
        &patch,
        HOST,
        &app.patch(&format!("{HOSTS}/rs2"), &edit, None).await,
    )
    .expect(409);

    let token_path = format!("{rs1_path}/token");
    let token = c
        .check(&post, HOST_TOKEN, &app.post_empty(&token_path, None).await)
        .expect(201)["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let nope = format!("{HOSTS}/nope/token");
    c.check(&post, HOST_TOKEN, &app.post_empty(&nope, None).await)
        .expect(404);

    let needs = app.agent_get(HOST_NEEDS, &token).await;
    let version = c.check(&get, HOST_NEEDS, &needs).expect(200)["version"]
        .as_str()
        .expect("a version")
        .to_owned();
    let waited = format!("{HOST_NEEDS}?after={version}&timeout=0");
    c.check(&get, HOST_NEEDS, &app.agent_get(&waited, &token).await)
        .expect(204);
    let long = format!("{HOST_NEEDS}?timeout=999");
    c.check(&get, HOST_NEEDS, &app.agent_get(&long, &token).await)
        .expect(400);
    c.check(
        &get,
        HOST_NEEDS,
        &app.agent_get(HOST_NEEDS, "lvsr_nope").await,
    )
    .expect(401);
    let report = json!({"version": version, "agent_version": "0.1.0",
        "kernel_version": "6.1.0-test",
        "outcomes": [{"object": "vip 192.0.2.10 on lo", "action": "add",
                      "error": "Operation not permitted"}]});
    c.check(
        &post,
        HOST_REPORT,
        &app.agent_post(HOST_REPORT, &token, &report).await,
    )
    .expect(204);
    c.check(
        &post,
        HOST_REPORT,
        &app.agent_post(HOST_REPORT, &token, &json!({})).await,
    )
    .expect(422);
    c.check(
        &post,
        HOST_REPORT,
        &app.agent_post(HOST_REPORT, "lvsr_nope", &report).await,
    )
    .expect(401);
    let reported = app.get(&rs1_path).await;
    let state = &c.check(&get, HOST, &reported).expect(200)["status"]["state"];
    assert_eq!(state, "errors");

    c.check(&delete, HOST_TOKEN, &app.delete(&token_path, None).await)
        .expect(204);
    c.check(&delete, HOST_TOKEN, &app.delete(&nope, None).await)
        .expect(404);
    c.check(&delete, HOST, &app.delete(&rs1_path, Some("\"x\"")).await)
        .expect(412);
    c.check(&delete, HOST, &app.delete(&rs1_path, None).await)
        .expect(204);
    c.check(&delete, HOST, &app.delete(&rs1_path, None).await)
        .expect(404);
}

//! The shared edit operations called directly, as the web UI calls them, and the change
//! history's transaction boundaries.

use std::sync::Arc;

use lvs_model::spec::{ClusterSpec, RealServerSpec, ServiceSpec, TimeoutsSpec};
use lvs_model::Diff;
use lvs_server::agents::reports::Reports;
use lvs_server::agents::{AgentOptions, Agents};
use lvs_server::db::{changes, clusters, desired_state, Db};
use lvs_server::edit::{self, Actor, Author, EditError, IfMatch, Source};
use lvs_server::state::AppState;
use serde_json::json;

use crate::helpers::*;

/// What the UI holds: the application state, here on the database of `app`'s server.
async fn state_beside(app: &TestApp) -> AppState {
    let db = Db::open(&app.database_url())
        .await
        .expect("open the database");
    let (_, stopping) = tokio::sync::watch::channel(false);
    let agents = Arc::new(Agents::new(AgentOptions::default(), stopping).expect("agents"));
    // Its writer ends when the state is dropped.
    let (reports, _writer) = Reports::spawn(db.clone());
    AppState {
        db,
        agents,
        reports,
        transport: lvs_server::http::headers::Transport::Http,
        access: Arc::default(),
        metrics: Arc::new(lvs_server::metrics::Metrics::new(Default::default()).expect("metrics")),
    }
}

/// An edit made in the UI by user `alice`.
fn in_ui() -> Author {
    Author {
        actor: Actor::user("alice"),
        source: Source::Ui,
        client: Some("192.0.2.1".into()),
    }
}

#[tokio::test]
async fn ui_edits_are_checked_against_the_etag_served_and_recorded_as_the_uis() {
    let app = TestApp::spawn().await;
    let service = cluster_with_service(&app, "web").await;
    let state = state_beside(&app).await;
    let servers = app.get(&real_servers("web", service)).await;
    let server = id(&servers.expect(200)["items"][0]);
    let path = real_server_path("web", service, server);
    let served = app.get(&path).await.etag();

    let stale = IfMatch::from_etag("\"0123456789abcdef\"");
    let refused = edit::real_servers::drain(&state, "web", service, server, &stale, &in_ui())
        .await
        .expect_err("a stale ETag is refused");
    assert!(
        matches!(refused, EditError::PreconditionFailed(_)),
        "{refused:?}"
    );

    let current = IfMatch::from_etag(served.clone());
    let drained = edit::real_servers::drain(&state, "web", service, server, &current, &in_ui())
        .await
        .expect("the served ETag matches");
    let generation = app.generation("web").await;
    assert_eq!(
        drained.generation,
        Some(generation),
        "the drain's generation"
    );
    let drained = drained.value;
    assert_eq!(drained.state, lvs_model::RealServerState::Drained);
    let etag = lvs_server::resources::real_server_etag(&drained);
    assert_eq!(
        app.get(&path).await.etag(),
        etag,
        "the UI computes the ETag the API serves"
    );
    // The same ETag again: the server changed since it was rendered.
    let again = edit::real_servers::restore(&state, "web", service, server, &current, &in_ui())
        .await
        .expect_err("the old ETag no longer matches");
    assert!(
        matches!(again, EditError::PreconditionFailed(_)),
        "{again:?}"
    );

    let spec = ServiceSpec {
        real_servers: Some(vec![RealServerSpec {
            address: Some("10.1.0.9".into()),
            forwarding: Some("masq".into()),
            ..RealServerSpec::default()
        }]),
        ..serde_json::from_value(tcp_service(443)).expect("a service spec")
    };
    let created = edit::services::create(&state, "web", &spec, &in_ui())
        .await
        .expect("created")
        .value;
    let no_precondition = IfMatch::new(None);
    let any = IfMatch::new(Some("*".into()));
    edit::services::delete(&state, "web", created.id, &any, &in_ui())
        .await
        .expect("* matches");
    let gone = edit::services::delete(&state, "web", created.id, &no_precondition, &in_ui())
        .await
        .expect_err("deleted already");
    assert!(matches!(gone, EditError::NotFound(_)), "{gone:?}");

    let listed = app.get("/api/v1/clusters/web/changes").await;
    let sources: Vec<_> = listed.expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["generation"].as_u64(),
                c["source"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let ui = Some("ui".to_owned());
    let api = Some("api".to_owned());
    assert_eq!(
        sources,
        [
            (Some(4), ui.clone()),
            (Some(3), ui.clone()),
            (Some(2), ui),
            (Some(1), api)
        ]
    );
}

#[tokio::test]
async fn a_rolled_back_change_records_nothing() {
    let app = TestApp::spawn().await;
    app.create_cluster("web").await;
    let db = Db::open(&app.database_url())
        .await
        .expect("open the database");
    let cluster = {
        let mut tx = db.read().await.expect("read");
        clusters::get(&mut tx, "web")
            .await
            .expect("read")
            .expect("the cluster")
    };
    let timeouts = TimeoutsSpec {
        tcp: Some(900),
        ..TimeoutsSpec::default()
    };
    let settings = ClusterSpec {
        name: Some("web".into()),
        timeouts,
        ..ClusterSpec::default()
    }
    .parse()
    .expect("valid settings");

    // A service and the generation it bumps, rolled back together.
    let service: ServiceSpec = serde_json::from_value(tcp_service(80)).expect("a spec");
    let service = lvs_model::DesiredService::parse(&service).expect("a valid service");
    {
        let mut tx = db.write().await.expect("write");
        desired_state::insert_service(&mut tx, cluster.id, &service, 1)
            .await
            .expect("insert");
        let mut diff = Diff::service_added(service.clone());
        let generation = clusters::bump_generation(&mut tx, cluster.id, &mut diff, &in_ui(), 1)
            .await
            .expect("bump");
        assert_eq!(
            (generation, diff.from_generation, diff.to_generation),
            (1, 0, 1)
        );
        let seen = changes::list(&mut tx, cluster.id, i64::MAX, 10)
            .await
            .expect("list");
        assert_eq!(seen.len(), 1, "the transaction sees its own change");
        // Dropped without committing.
    }
    assert_eq!(app.generation("web").await, 0);
    assert!(app.all_services("web").await.is_empty());
    let listed = app.get("/api/v1/clusters/web/changes").await;
    assert_eq!(listed.expect(200)["items"], json!([]));

    // Committed, the same change is recorded once.
    let mut tx = db.write().await.expect("write");
    clusters::update(&mut tx, cluster.id, &settings, 2)
        .await
        .expect("update");
    let mut diff = Diff::timeouts_changed(cluster.timeouts().expect("timeouts"), settings.timeouts);
    clusters::bump_generation(&mut tx, cluster.id, &mut diff, &in_ui(), 2)
        .await
        .expect("bump");
    tx.commit().await.expect("commit");
    let listed = app.get("/api/v1/clusters/web/changes").await;
    let items = listed.expect(200)["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    assert_eq!(items[0]["generation"], 1);
    assert_eq!(items[0]["source"], "ui");
    let detail = app.get("/api/v1/clusters/web/changes/1").await;
    let diff = &detail.expect(200)["diff"];
    assert_eq!(
        (&diff["from_generation"], &diff["to_generation"]),
        (&json!(0), &json!(1))
    );
    assert_eq!(diff["timeouts"]["new"]["tcp"], 900);
}

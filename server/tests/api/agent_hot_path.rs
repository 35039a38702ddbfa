//! What every agent does on every change, under concurrency: its token is refused from the
//! moment it is revoked although owners are cached, its report is stored although reports
//! are written in shared transactions, and its long-poll wakes with the generation the
//! commit announced.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lvs_server::db::agent_tokens::{OwnerCache, TokenOwner, MAX_CACHED_OWNERS};
use lvs_server::db::{Announced, Db};
use serde_json::{json, Value};

use crate::helpers::*;

#[derive(Debug, Clone, Copy)]
enum Removal {
    Revoke,
    Rotate,
    DeleteDirector,
    DeleteCluster,
}

#[tokio::test]
async fn a_token_is_refused_by_the_very_next_request_once_revoked_replaced_or_deleted() {
    let app = Arc::new(TestApp::spawn().await);
    for removal in [
        Removal::Revoke,
        Removal::Rotate,
        Removal::DeleteDirector,
        Removal::DeleteCluster,
    ] {
        let cluster = format!("{removal:?}").to_lowercase();
        app.create_cluster(&cluster).await;
        let token = app.create_agent(&cluster, "lb1").await;
        // Used just before, so its owner is cached.
        app.agent_get(AGENT_DESIRED_STATE, &token).await.expect(200);
        app.agent_report(&token, &apply_report(0, &[])).await;

        // Other requests with the token go on throughout, so some lookups race the
        // invalidation; none sent after the call returned may get in.
        let removing = Arc::new(AtomicBool::new(false));
        let removed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let hammers: Vec<_> = (0..3)
            .map(|_| {
                let (app, token) = (app.clone(), token.clone());
                let (removing, removed_at) = (removing.clone(), removed_at.clone());
                let (stop, accepted) = (stop.clone(), accepted.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let sent = Instant::now();
                        let resp = app.agent_get(AGENT_DESIRED_STATE, &token).await;
                        let removed = *removed_at.lock().expect("lock");
                        match resp.status {
                            200 => {
                                accepted.fetch_add(1, Ordering::SeqCst);
                                assert!(
                                    removed.is_none_or(|at| sent < at),
                                    "{removal:?}: a request sent after the call returned \
                                     was let in"
                                );
                            }
                            401 => assert!(
                                removing.load(Ordering::SeqCst),
                                "{removal:?}: refused before the call"
                            ),
                            other => panic!("{removal:?}: unexpected {other}: {}", resp.text),
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;

        removing.store(true, Ordering::SeqCst);
        let replacement = match removal {
            Removal::Revoke => {
                let path = token_path(&cluster, "lb1");
                app.delete(&path, None).await.expect(204);
                None
            }
            Removal::Rotate => Some(app.create_token(&cluster, "lb1").await),
            Removal::DeleteDirector => {
                let path = director_path(&cluster, "lb1");
                app.delete(&path, None).await.expect(204);
                None
            }
            Removal::DeleteCluster => {
                app.delete(&cluster_path(&cluster), None).await.expect(204);
                None
            }
        };
        *removed_at.lock().expect("lock") = Some(Instant::now());
        for _ in 0..10 {
            app.agent_get(AGENT_DESIRED_STATE, &token)
                .await
                .problem(401, "unauthorized");
            app.agent_post(AGENT_REPORT, &token, &apply_report(0, &[]))
                .await
                .problem(401, "unauthorized");
        }
        stop.store(true, Ordering::SeqCst);
        for hammer in hammers {
            hammer
                .await
                .expect("no request sent after the call was let in");
        }
        assert!(accepted.load(Ordering::SeqCst) > 0, "{removal:?}");

        if let Some(new) = replacement {
            app.agent_get(AGENT_DESIRED_STATE, &new).await.expect(200);
        }
        if matches!(removal, Removal::DeleteDirector) {
            // A director of the same name is another director: the old token stays refused.
            let new = app.create_agent(&cluster, "lb1").await;
            app.agent_get(AGENT_DESIRED_STATE, &new).await.expect(200);
            app.agent_get(AGENT_DESIRED_STATE, &token)
                .await
                .problem(401, "unauthorized");
        }
    }
}

fn drift_report(generation: u64, objects: &[String]) -> Value {
    let mut report = apply_report(generation, &[]);
    report["agent_version"] = json!(format!("0.1.{generation}"));
    report["drift_repaired"] = objects
        .iter()
        .map(|object| json!({"object": object, "found": "missing"}))
        .collect();
    report
}

async fn status(app: &TestApp, director: &str) -> Value {
    let resp = app.get(&director_path("web", director)).await;
    resp.expect(200)["status"].clone()
}

fn drift_objects(status: &Value) -> Vec<String> {
    status["drift_repaired"]
        .as_array()
        .expect("drift_repaired")
        .iter()
        .map(|d| d["object"].as_str().expect("object").to_owned())
        .collect()
}

#[tokio::test]
async fn reports_sent_at_once_by_many_directors_are_all_stored_in_order() {
    let app = Arc::new(TestApp::spawn().await);
    app.create_cluster("web").await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        tokens.push(app.create_agent("web", &format!("lb{i}")).await);
    }
    // Every director sends three reports, each right after the last one was answered, all
    // directors at once: their reports share transactions.
    let senders: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let app = app.clone();
            tokio::spawn(async move {
                for generation in 1..=3 {
                    let object = format!("service tcp:10.0.{i}.{generation}:80");
                    let report = drift_report(generation, &[object]);
                    app.agent_report(&token, &report).await;
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("every report is stored");
    }
    for i in 0..20 {
        let status = status(&app, &format!("lb{i}")).await;
        assert_eq!(status["applied_generation"], 3, "lb{i}: {status}");
        assert_eq!(status["agent_version"], "0.1.3", "lb{i}");
        let expected: Vec<String> = (1..=3)
            .rev()
            .map(|generation| format!("service tcp:10.0.{i}.{generation}:80"))
            .collect();
        assert_eq!(drift_objects(&status), expected, "lb{i}: newest first");
    }
}

#[tokio::test]
async fn one_directors_reports_in_quick_succession_keep_their_drift_newest_first() {
    let app = Arc::new(TestApp::spawn().await);
    app.create_cluster("web").await;
    let token = app.create_agent("web", "lb1").await;
    let drift = |name: &str| vec![format!("service tcp:10.0.0.1:{name}")];

    app.agent_report(&token, &drift_report(1, &drift("1")))
        .await;
    app.agent_report(&token, &drift_report(2, &drift("2")))
        .await;
    let two = status(&app, "lb1").await;
    assert_eq!(
        drift_objects(&two),
        [drift("2"), drift("1")].concat(),
        "{two}"
    );

    // A report without drift (here with an error) keeps the drift as it is.
    let failed = apply_report(2, &["real server 10.1.0.1:80 of tcp:10.0.0.1:80"]);
    app.agent_report(&token, &failed).await;
    let kept = status(&app, "lb1").await;
    assert_eq!(drift_objects(&kept), drift_objects(&two));
    assert_eq!(kept["sync"], "error");

    // Two at once: both land, before the older ones; the last two reports of 60 drifts
    // each keep only the newest 50, the last of them counting what was left out.
    let concurrent = |generation: u64, name: &'static str| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move {
            let report = drift_report(generation, &drift(name));
            app.agent_report(&token, &report).await;
        })
    };
    let (a, b) = (concurrent(3, "3a"), concurrent(3, "3b"));
    a.await.expect("stored");
    b.await.expect("stored");
    let objects = drift_objects(&status(&app, "lb1").await);
    assert_eq!(objects.len(), 4, "{objects:?}");
    let mut newest = objects[..2].to_vec();
    newest.sort();
    assert_eq!(newest, [drift("3a"), drift("3b")].concat());
    assert_eq!(objects[2..], [drift("2"), drift("1")].concat());

    let many = |round: u64| -> Vec<String> {
        (0..60)
            .map(|i| format!("service tcp:10.0.{round}.{i}:80"))
            .collect()
    };
    let (first, second) = (many(1), many(2));
    app.agent_report(&token, &drift_report(4, &first)).await;
    app.agent_report(&token, &drift_report(5, &second)).await;
    // The newest report's first 49, and a last entry that counts the 11 it left out.
    let kept = drift_objects(&status(&app, "lb1").await);
    assert_eq!(kept[..49], second[..49]);
    assert_eq!(kept[49..], ["11 more objects"]);
}

fn poll(after: u64, timeout: u64) -> String {
    format!("{AGENT_DESIRED_STATE}?after={after}&timeout={timeout}")
}

#[tokio::test]
async fn a_poll_woken_by_several_commits_answers_a_committed_generation() {
    let app = Arc::new(TestApp::spawn().await);
    let service = cluster_with_service(&app, "web").await;
    let token = app.create_agent("web", "lb1").await;

    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.agent_get(&poll(1, 30), &token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for weight in 2..=6 {
        let path = real_server_path("web", service, 1);
        app.patch_ok(&path, &json!({"weight": weight})).await;
    }
    for waiter in waiters {
        let resp = waiter.await.expect("the poll");
        let generation = resp.expect(200)["generation"].as_u64().expect("generation");
        assert!((2..=6).contains(&generation), "{generation}");
        assert_eq!(resp.etag(), format!("\"gen-{generation}\""));
    }
    // Nothing newer than the last commit: the poll waits out its timeout.
    app.agent_get(&poll(6, 1), &token).await.expect(204);
    let resp = app.agent_get(&poll(5, 1), &token).await;
    assert_eq!(resp.expect(200)["generation"], 6);

    // Deleting the cluster ends a waiting poll, refused as its token is gone with it.
    let waiter = {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { app.agent_get(&poll(6, 30), &token).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    app.delete(&format!("{}?force=true", cluster_path("web")), None)
        .await
        .expect(204);
    assert_eq!(waiter.await.expect("the poll").status, 401);
    assert!(started.elapsed() < Duration::from_secs(2));
    app.agent_get(&poll(6, 0), &token)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn announced_generations_never_go_back() {
    let app = TestApp::spawn().await;
    let db = Db::open(&app.database_url()).await.expect("open");
    let changes = db.announcer();
    let mut commits = changes.subscribe(1);
    let at = |generation: u64| Announced {
        cluster_created_at: 1,
        generation,
        diff: Some(format!("{{\"to\": {generation}}}").into()),
    };
    changes.committed(1, at(5));
    assert!(commits.has_changed().expect("open"));
    assert_eq!(commits.borrow_and_update().generation, 5);
    // Two commits announcing out of order: the later one is kept, the earlier wakes nobody.
    changes.committed(1, at(4));
    assert!(!commits.has_changed().expect("open"));
    let kept = commits.borrow().clone();
    assert_eq!(kept.generation, 5);
    assert_eq!(
        kept.diff.as_deref(),
        Some("{\"to\": 5}"),
        "the diff goes with its generation"
    );
    changes.committed(1, at(6));
    assert_eq!(commits.borrow_and_update().generation, 6);
    db.close().await;
}

fn owner(director_id: i64) -> TokenOwner {
    TokenOwner {
        director_id,
        director: format!("lb{director_id}"),
        cluster_id: 1,
        cluster: "web".to_owned(),
        cluster_created_at: 1,
    }
}

#[test]
fn a_lookup_that_raced_an_invalidation_caches_nothing() {
    let cache = OwnerCache::default();
    let hash = [7; 32];
    let before = cache.get(&hash).expect_err("empty");
    // The database was read before a revocation committed and invalidated the cache.
    cache.invalidate();
    cache.insert(before, hash, owner(1));
    assert!(cache.get(&hash).is_err(), "a stale owner was put back");

    let after = cache.get(&hash).expect_err("still empty");
    cache.insert(after, hash, owner(1));
    assert_eq!(cache.get(&hash).expect("cached").director_id, 1);
    cache.invalidate();
    assert!(cache.get(&hash).is_err());
}

#[test]
fn the_owner_cache_is_bounded() {
    let cache = OwnerCache::default();
    let hashes: Vec<[u8; 32]> = (0..MAX_CACHED_OWNERS + 100)
        .map(|i| {
            let mut hash = [0; 32];
            hash[..8].copy_from_slice(&u64::try_from(i).expect("small").to_le_bytes());
            hash
        })
        .collect();
    for (i, hash) in hashes.iter().enumerate() {
        let epoch = cache.get(hash).expect_err("not cached yet");
        cache.insert(epoch, *hash, owner(i64::try_from(i).expect("small")));
    }
    let cached = hashes.iter().filter(|h| cache.get(h).is_ok()).count();
    assert_eq!(cached, MAX_CACHED_OWNERS);
    // The newest is always kept.
    assert!(cache.get(&hashes[hashes.len() - 1]).is_ok());
}

//! `/readyz` says whether writes commit, not only whether the database answers reads.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::helpers::{Resp, TestApp};

#[tokio::test]
async fn readiness_fails_while_writes_cannot_commit_and_recovers() {
    let app = TestApp::spawn().await;
    app.get("/readyz").await.expect(200);

    // Another process holds the write lock: reads still work, writes wait and fail.
    let options = SqliteConnectOptions::from_str(&app.database_url()).expect("a URL");
    let mut holder = options.connect().await.expect("connect");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .expect("take the write lock");
    app.get("/api/v1/clusters").await.expect(200);
    let unready = until_status(&app, 503).await;
    let problem = unready.problem(503, "unavailable");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("writes")),
        "{problem}"
    );

    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release the write lock");
    holder.close().await.expect("close");
    until_status(&app, 200).await;
}

/// Probes until `/readyz` answers `status`: a probe's result stands for a second.
async fn until_status(app: &TestApp, status: u16) -> Resp {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = app.get("/readyz").await;
        if answer.status == status {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered {status}: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

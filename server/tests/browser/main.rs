//! The web UI in a real browser: headless Chromium driven over WebDriver (fantoccini and a
//! `chromedriver` each test starts on a free loopback port) against the real server,
//! started in this process on `127.0.0.1:0` with a fresh SQLite file.
//!
//! Not part of a plain `cargo test`: `cargo xtask browser-test` (and `cargo xtask test`)
//! installs Debian's `chromium` and `chromium-driver` if they are missing, then runs
//! `cargo test -p lvs-server --test browser`. A missing browser or driver fails the test
//! with the command that installs it; `LVS_CHROMIUM` and `LVS_CHROMEDRIVER` name other
//! binaries. Every page visited is written as PNGs, 1280 and 390 CSS pixels wide, to
//! `target/ui-screenshots/<page>-<width>.png` (or under `$CARGO_TARGET_DIR`).

mod app;
mod conflicts;
mod driver;
mod health;
mod keyboard;
mod roles;
mod rollout;
mod safety;
mod search;
mod walkthrough;

use std::future::Future;
use std::time::Duration;

/// Runs a test body with a time limit, so a hung browser fails the test (dropping the
/// body ends chromedriver and its browser) instead of hanging CI.
async fn within_limit(body: impl Future<Output = ()>) {
    let limit = Duration::from_secs(120);
    if tokio::time::timeout(limit, body).await.is_err() {
        panic!("the test did not finish within {} s", limit.as_secs());
    }
}

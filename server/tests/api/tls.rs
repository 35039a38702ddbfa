//! HTTPS: the API over TLS, what a plain-HTTP client gets on the TLS port, the handshake's
//! time limit, `Secure` cookies and HSTS, and reloading the certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_server::http::listen::Timeouts;
use lvs_server::http::tls::{Tls, TlsFiles};
use lvs_server::ServeOptions;
use lvs_testkit::server::InProcessServer;
use lvs_testkit::tls::{PairFiles, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate for 127.0.0.1 signed by `ca`, as `server.pem` and `server.key` in `dir`.
fn pair(ca: &TestCa, dir: &Path) -> TlsFiles {
    let PairFiles { cert, key } = ca.write_pair(dir, "server", &["127.0.0.1".to_owned()]);
    TlsFiles { cert, key }
}

/// A client trusting only `ca`, with the server's admin token and a cookie store.
fn trusting(ca: &TestCa, server: &InProcessServer) -> reqwest::Client {
    let pem = ca_pem(ca);
    lvs_testkit::server::client_with_token(&server.admin_token)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("the CA"))
        .build()
        .expect("a client")
}

fn ca_pem(ca: &TestCa) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a directory");
    std::fs::read(ca.write(dir.path())).expect("read ca.pem")
}

async fn https_server(files: TlsFiles, options: ServeOptions) -> (InProcessServer, Arc<Tls>) {
    let tls = Arc::new(Tls::load(files).expect("the pair loads"));
    let options = ServeOptions {
        tls: Some(tls.clone()),
        ..options
    };
    (InProcessServer::start(options).await, tls)
}

#[tokio::test]
async fn https_answers_the_api_with_hsts_and_secure_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (server, _) = https_server(pair(&ca, dir.path()), ServeOptions::default()).await;
    assert!(server.base().starts_with("https://"), "{}", server.base());
    let client = trusting(&ca, &server);

    let api = client
        .get(format!("{}/api/v1/clusters", server.base()))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(api.status(), 200);
    assert_eq!(
        api.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    let page = client
        .get(format!("{}/login", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookies: Vec<String> = set_cookies(&page);
    assert!(!cookies.is_empty(), "the UI sets its CSRF cookie");
    let html = page.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's CSRF token")
        .to_owned();
    // Signing in over HTTPS: the session cookie is Secure too.
    let signed_in = client
        .post(format!("{}/login", server.base()))
        .header("origin", server.base())
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "admin"),
            ("password", lvs_testkit::server::ADMIN_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let session: Vec<String> = set_cookies(&signed_in);
    assert!(
        session.iter().any(|c| c.starts_with("lvs_session=lvss_")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")),
        "{session:?}"
    );
    for cookie in cookies.iter().chain(&session) {
        assert!(cookie.ends_with("; Secure"), "{cookie}");
    }
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().expect("a cookie is text").to_owned())
        .collect()
}

#[tokio::test]
async fn plain_http_has_no_hsts_and_no_secure_cookies() {
    let server = InProcessServer::start(ServeOptions::default()).await;
    let page = reqwest::get(format!("{}/login", server.base()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(!page.headers().contains_key("strict-transport-security"));
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("lvs_csrf="), "{cookie}");
    assert!(!cookie.to_ascii_lowercase().contains("secure"), "{cookie}");
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_closed_without_an_http_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let (server, _) = https_server(pair(&ca, dir.path()), ServeOptions::default()).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/clusters HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection");
    // A TLS alert at most, never an HTTP answer.
    assert!(read.is_err() || !answer.starts_with(b"HTTP/"), "{answer:?}");
    // The server still serves HTTPS.
    let api = trusting(&ca, &server)
        .get(format!("{}/api/v1/clusters", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_dropped_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let options = ServeOptions {
        timeouts: Timeouts {
            header: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..ServeOptions::default()
    };
    let (server, _) = https_server(pair(&ca, dir.path()), options).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes a silent connection");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Whether a client trusting only `ca` gets an answer, retried until `patience` ends.
async fn trusted_within(server: &InProcessServer, ca: &TestCa, patience: Duration) -> bool {
    let client = trusting(ca, server);
    let deadline = Instant::now() + patience;
    loop {
        let answer = client
            .get(format!("{}/healthz", server.base()))
            .send()
            .await;
        if answer.is_ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_pair_is_used_for_new_connections_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (TestCa::new(), TestCa::new());
    let files = pair(&old_ca, dir.path());
    let options = ServeOptions {
        tls_check_interval: Duration::from_millis(100),
        ..ServeOptions::default()
    };
    let (server, tls) = https_server(files.clone(), options).await;
    assert!(trusted_within(&server, &old_ca, Duration::ZERO).await);
    assert!(!trusted_within(&server, &new_ca, Duration::ZERO).await);

    // A key that is not a key: refused by name, the old pair stays.
    std::fs::write(&files.key, "not a key").unwrap();
    let error = format!("{:#}", tls.reload().unwrap_err());
    assert!(error.contains("--tls-key"), "{error}");
    assert!(error.contains(&files.key.display().to_string()), "{error}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(trusted_within(&server, &old_ca, Duration::ZERO).await);

    // Written over by a pair of the new CA: picked up by the file check.
    pair(&new_ca, dir.path());
    assert!(trusted_within(&server, &new_ca, Duration::from_secs(5)).await);
    assert!(!trusted_within(&server, &old_ca, Duration::ZERO).await);
}

#[tokio::test]
async fn sighup_reloads_the_pair() {
    // The test's own handler first: SIGHUP must never find the process without one.
    let _ours = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (TestCa::new(), TestCa::new());
    let options = ServeOptions {
        // Only the signal reloads within this test.
        tls_check_interval: Duration::from_secs(3600),
        ..ServeOptions::default()
    };
    let (server, _) = https_server(pair(&old_ca, dir.path()), options).await;
    assert!(trusted_within(&server, &old_ca, Duration::ZERO).await);
    pair(&new_ca, dir.path());
    assert!(!trusted_within(&server, &new_ca, Duration::ZERO).await);
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(trusted_within(&server, &new_ca, Duration::from_secs(5)).await);
}

#[test]
fn unreadable_or_invalid_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let files = pair(&ca, dir.path());
    let load = |files: TlsFiles| format!("{:#}", Tls::load(files).unwrap_err());

    let missing = dir.path().join("missing.pem");
    let error = load(TlsFiles {
        cert: missing.clone(),
        ..files.clone()
    });
    assert!(
        error.starts_with(&format!("--tls-cert {}: cannot read it", missing.display())),
        "{error}"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let error = load(TlsFiles {
        cert: empty,
        ..files.clone()
    });
    assert!(error.contains("no PEM certificate"), "{error}");

    // The key of another certificate.
    let other = ca.write_pair(dir.path(), "other", &["127.0.0.1".to_owned()]);
    let error = load(TlsFiles {
        key: other.key,
        ..files
    });
    assert!(error.contains("do not make a pair"), "{error}");
}

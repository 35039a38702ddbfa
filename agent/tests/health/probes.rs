//! One attempt of each kind of check, and each way it fails.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_agent::health::probe::{Probe, Shared, TcpChecks};
use lvs_agent::health::{ExecPolicy, Failure, Target};
use lvs_testkit::tls::TlsServer;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use crate::support::*;

const LOOPBACK: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

async fn run(target: Target) -> Result<(), Failure> {
    run_with(target, ExecPolicy::default()).await
}

async fn run_with(target: Target, policy: ExecPolicy) -> Result<(), Failure> {
    let shared = Shared::new(policy, TcpChecks::Syn);
    Probe::new(target, &Arc::new(shared)).run().await
}

async fn run_connecting(target: Target) -> Result<(), Failure> {
    let shared = Shared::new(ExecPolicy::default(), TcpChecks::Connect);
    Probe::new(target, &Arc::new(shared)).run().await
}

#[tokio::test]
async fn tcp_is_up_while_something_listens() {
    for (listen, v6) in [("127.0.0.1:0", false), ("[::1]:0", true)] {
        let listener = TcpListener::bind(listen).await.unwrap();
        let at = listener.local_addr().unwrap();
        let tcp = || target_at(at.ip(), at.port(), json!({"kind": "tcp"}));
        assert_eq!(run(tcp()).await, Ok(()), "ipv6: {v6}");
        assert_eq!(run_connecting(tcp()).await, Ok(()), "ipv6: {v6}");
        drop(listener);
        assert_eq!(run(tcp()).await, Err(Failure::Refused), "ipv6: {v6}");
        assert_eq!(run_connecting(tcp()).await, Err(Failure::Refused));
    }
}

#[tokio::test]
async fn a_tcp_check_makes_no_connection() {
    // A SYN answered by SYN-ACK, then reset by this host's kernel: nothing for the real
    // server's application to accept.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut probe = Probe::new(
        target(port, json!({"kind": "tcp"})),
        &Arc::new(Shared::new(ExecPolicy::default(), TcpChecks::Syn)),
    );
    for _ in 0..3 {
        assert_eq!(probe.run().await, Ok(()));
    }
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "{accepted:?}");
}

#[tokio::test]
async fn a_tcp_check_of_a_server_that_drops_syns_times_out() {
    // A listener whose accept queue is full drops new SYNs: the check times out, as a
    // connect() would.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener.bind(&LOOPBACK.into()).unwrap();
    listener.listen(0).unwrap();
    let at = listener.local_addr().unwrap().as_socket().unwrap();
    let _queued = std::net::TcpStream::connect(at).unwrap();
    let check = json!({"kind": "tcp", "timeout_ms": 300, "interval_ms": 1000});
    let started = Instant::now();
    assert_eq!(run(target(at.port(), check)).await, Err(Failure::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[tokio::test]
async fn a_connecting_check_closes_its_connection_with_a_reset() {
    // An orderly close would leave a TIME_WAIT per check on the side that closed first.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_eq!(
        run_connecting(target(port, json!({"kind": "tcp"}))).await,
        Ok(())
    );
    let (mut accepted, _) = listener.accept().await.unwrap();
    let mut byte = [0_u8; 1];
    let read = accepted.read(&mut byte).await;
    assert_eq!(
        read.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset),
        "the server's side of a finished check"
    );
}

#[tokio::test]
async fn http_checks_the_status_and_the_body() {
    let ok = http_server("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus=ok").await;
    let down = http_server("HTTP/1.1 503 Service Unavailable\r\n\r\nbusy").await;
    let http = |port, extra: serde_json::Value| {
        let mut spec = json!({"kind": "http", "path": "/health"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        target(port, spec)
    };
    assert_eq!(run(http(ok.port(), json!({}))).await, Ok(()));
    assert_eq!(
        run(http(down.port(), json!({}))).await,
        Err(Failure::Status(503))
    );
    assert_eq!(
        run(http(down.port(), json!({"expect_status": [503]}))).await,
        Ok(()),
        "a status the check expects"
    );
    assert_eq!(
        run(http(ok.port(), json!({"expect_body": "status=ok"}))).await,
        Ok(())
    );
    assert_eq!(
        run(http(ok.port(), json!({"expect_body": "ready"}))).await,
        Err(Failure::BodyMismatch)
    );
    assert_eq!(
        run(http(
            ok.port(),
            json!({"expect_body_regex": "^status=(ok|warn)$"})
        ))
        .await,
        Ok(())
    );
    assert_eq!(
        run(http(ok.port(), json!({"expect_body_regex": "^ok"}))).await,
        Err(Failure::BodyMismatch)
    );
    assert_eq!(
        run(http(closed_port(), json!({}))).await,
        Err(Failure::Refused)
    );
}

#[tokio::test]
async fn http_sends_the_request_the_check_describes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0_u8; 2048];
        let read = stream.read(&mut request).await.unwrap();
        stream
            .write_all(b"HTTP/1.0 204 No Content\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let check = json!({"kind": "http", "method": "HEAD", "path": "/up?deep=1",
                       "host": "www.example.org"});
    assert_eq!(run(target(port, check)).await, Ok(()));
    let request = seen.await.unwrap();
    assert!(
        request.starts_with("HEAD /up?deep=1 HTTP/1.0\r\nHost: www.example.org\r\n"),
        "{request}"
    );
    assert!(request.ends_with("\r\n\r\n"), "{request}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_fails() {
    let ssh = http_server("SSH-2.0-OpenSSH_9.2\r\n").await;
    let result = run(target(ssh.port(), json!({"kind": "http"}))).await;
    assert!(matches!(result, Err(Failure::Protocol(_))), "{result:?}");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_timeout() {
    let silent = silent_server().await;
    let check = json!({"kind": "http", "timeout_ms": 300, "interval_ms": 1000});
    let started = Instant::now();
    assert_eq!(
        run(target(silent.port(), check)).await,
        Err(Failure::Timeout)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(2000),
        "{took:?}"
    );
}

#[tokio::test]
async fn https_verifies_the_certificate_against_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsServer::start(dir.path(), LOOPBACK).await;
    let ca = tls.ca_file.display().to_string();
    let port = tls.address.port();
    assert_eq!(
        run(target(port, json!({"kind": "https", "ca_file": ca}))).await,
        Ok(()),
        "the certificate names 127.0.0.1"
    );
    assert_eq!(
        run(target(
            port,
            json!({"kind": "https", "ca_file": ca, "sni": "localhost", "expect_body": "tls ok"})
        ))
        .await,
        Ok(())
    );
    let wrong = run(target(
        port,
        json!({"kind": "https", "ca_file": ca, "sni": "www.example.org"}),
    ))
    .await;
    assert!(matches!(wrong, Err(Failure::Tls(_))), "{wrong:?}");

    // Another CA does not vouch for it; insecure accepts it anyway.
    let other = tempfile::tempdir().unwrap();
    let stranger = TlsServer::start(other.path(), LOOPBACK).await;
    let stranger_ca = stranger.ca_file.display().to_string();
    let untrusted = run(target(
        port,
        json!({"kind": "https", "ca_file": stranger_ca}),
    ))
    .await;
    assert!(matches!(untrusted, Err(Failure::Tls(_))), "{untrusted:?}");
    assert_eq!(
        run(target(port, json!({"kind": "https", "insecure": true}))).await,
        Ok(())
    );

    let missing = run(target(
        port,
        json!({"kind": "https", "ca_file": "/nonexistent/ca.pem"}),
    ))
    .await;
    match missing {
        Err(Failure::Tls(message)) => assert!(message.contains("/nonexistent/ca.pem"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// A DNS server on loopback answering every query with `rcode`.
async fn dns_server(rcode: u8) -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut query = [0_u8; 512];
        while let Ok((read, from)) = socket.recv_from(&mut query).await {
            let mut answer = query[..read].to_vec();
            answer[2] = 0x81; // an answer, recursion desired
            answer[3] = 0x80 | rcode; // recursion available
            let _ = socket.send_to(&answer, from).await;
        }
    });
    address
}

#[tokio::test]
async fn udp_dns_expects_its_rcode() {
    let ok = dns_server(0).await;
    let nx = dns_server(3).await;
    let dns = |port, extra: serde_json::Value| {
        let mut spec = json!({"kind": "udp-dns", "dns_name": "health.example", "timeout_ms": 500});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        target(port, spec)
    };
    assert_eq!(run(dns(ok.port(), json!({}))).await, Ok(()));
    assert_eq!(run(dns(nx.port(), json!({}))).await, Err(Failure::Rcode(3)));
    assert_eq!(
        run(dns(nx.port(), json!({"dns_rcode": "NXDOMAIN"}))).await,
        Ok(())
    );
    // Nothing on the port: loopback answers with ICMP port unreachable.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    assert_eq!(run(dns(port, json!({}))).await, Err(Failure::Refused));
}

fn script(dir: &Path, name: &str, body: &str, mode: u32) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn exec_runs_allowed_programs_with_the_real_server_in_their_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let policy = || ExecPolicy {
        scripts_dir: Some(dir.path().to_owned()),
        run_as: None,
    };
    let check = script(
        dir.path(),
        "port-is-8080",
        r#"[ "$LVS_RS_ADDRESS" = 127.0.0.1 ] && [ "$LVS_RS_PORT" = 8080 ] && [ "$1" = --fast ]"#,
        0o755,
    );
    let exec = |command: &str| json!({"kind": "exec", "command": command, "args": ["--fast"]});
    assert_eq!(run_with(target(8080, exec(&check)), policy()).await, Ok(()));
    assert_eq!(
        run_with(target(8081, exec(&check)), policy()).await,
        Err(Failure::Exit(1))
    );
    let three = script(dir.path(), "three", "exit 3", 0o755);
    assert_eq!(
        run_with(target(80, exec(&three)), policy()).await,
        Err(Failure::Exit(3))
    );

    // A program that overruns its timeout is killed with the attempt.
    let marker = dir.path().join("still-running");
    let slow = script(
        dir.path(),
        "slow",
        &format!("sleep 1; touch {}", marker.display()),
        0o755,
    );
    let slow_check = json!({"kind": "exec", "command": slow, "timeout_ms": 200});
    assert_eq!(
        run_with(target(80, slow_check), policy()).await,
        Err(Failure::Timeout)
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!marker.exists(), "the timed-out program was killed");
}

#[tokio::test]
async fn exec_refuses_what_this_host_does_not_allow() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let allowed = ExecPolicy {
        scripts_dir: Some(dir.path().to_owned()),
        run_as: None,
    };
    let fine = script(dir.path(), "fine", "exit 0", 0o755);
    let writable = script(dir.path(), "writable", "exit 0", 0o757);
    let outside = tempfile::tempdir().unwrap();
    let elsewhere = script(outside.path(), "elsewhere", "exit 0", 0o755);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let exec = |command: &str| target(80, json!({"kind": "exec", "command": command}));

    let refused = |result: Result<(), Failure>, words: &str| match result {
        Err(Failure::NotRun(reason)) => assert!(reason.contains(words), "{reason}"),
        other => panic!("{other:?}"),
    };
    refused(
        run_with(exec(&fine), ExecPolicy::default()).await,
        "no --check-scripts-dir",
    );
    refused(
        run_with(exec(&elsewhere), allowed.clone()).await,
        "is not in",
    );
    refused(
        run_with(exec(&link.display().to_string()), allowed.clone()).await,
        "is not in",
    );
    refused(
        run_with(exec(&writable), allowed.clone()).await,
        "writable by its group or others",
    );
    assert_eq!(run_with(exec(&fine), allowed).await, Ok(()));
}

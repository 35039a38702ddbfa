//! Checks built from JSON, targets on loopback, and small responders.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use lvs_agent::health::Target;
use lvs_model::spec::HealthCheckSpec;
use lvs_model::HealthCheck;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn check(value: Value) -> HealthCheck {
    let spec: HealthCheckSpec = serde_json::from_value(value).expect("a check spec");
    spec.parse().expect("a valid check")
}

pub fn target(port: u16, value: Value) -> Target {
    target_at(Ipv4Addr::LOCALHOST.into(), port, value)
}

pub fn target_at(address: IpAddr, port: u16, value: Value) -> Target {
    Target {
        address,
        port,
        check: Arc::new(check(value)),
    }
}

/// A port on loopback that nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// An HTTP server that answers every request with `answer` (status line included), and
/// closes.
pub async fn http_server(answer: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0_u8; 2048];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    address
}

/// A server that accepts connections and never answers.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    address
}

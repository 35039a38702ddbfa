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

pub mod tls {
    //! An HTTPS server on 127.0.0.1 with a certificate for `localhost` and 127.0.0.1, signed
    //! by a CA of its own, whose PEM file it writes.

    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    #[derive(Debug)]
    pub struct TlsServer {
        pub address: SocketAddr,
        pub ca_file: PathBuf,
    }

    impl TlsServer {
        pub async fn start(dir: &Path) -> TlsServer {
            let ca_key = KeyPair::generate().unwrap();
            let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key).unwrap();
            let leaf_key = KeyPair::generate().unwrap();
            let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap()
                .signed_by(&leaf_key, &ca, &ca_key)
                .unwrap();
            let ca_file = dir.join("ca.pem");
            std::fs::write(&ca_file, ca.pem()).unwrap();

            #[allow(deprecated)] // ring, as the agent uses it
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
                .unwrap();
            let acceptor = TlsAcceptor::from(Arc::new(config));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let mut request = [0_u8; 2048];
                        let _ = stream.read(&mut request).await;
                        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\ntls ok").await;
                        let _ = stream.shutdown().await;
                    });
                }
            });
            TlsServer { address, ca_file }
        }
    }
}

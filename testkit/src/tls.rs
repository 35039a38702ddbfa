//! An HTTPS server with a certificate for `localhost`, 127.0.0.1 and the address it listens
//! on, signed by a CA of its own whose PEM file it writes. It answers every request with
//! `tls ok` and closes; [`TlsServer::bind`] leaves the answering to the test.

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
    /// The CA's certificate, PEM, in the directory given.
    pub ca_file: PathBuf,
}

impl TlsServer {
    /// Listens on `listen` (port 0: any) on the current tokio runtime; writes `ca.pem` in
    /// `dir`.
    pub async fn start(dir: &Path, listen: SocketAddr) -> TlsServer {
        let (server, listener, acceptor) = TlsServer::bind(dir, listen).await;
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
        server
    }

    /// The server's listener and the acceptor of its certificate, for a test that accepts
    /// and answers in its own way.
    pub async fn bind(dir: &Path, listen: SocketAddr) -> (TlsServer, TcpListener, TlsAcceptor) {
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            listen.ip().to_string(),
        ];
        let leaf_key = KeyPair::generate().expect("a server key");
        let leaf = CertificateParams::new(names)
            .expect("server params")
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("a server certificate");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("write ca.pem");

        #[allow(deprecated)] // ring, as the agent uses it
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(leaf.der().to_vec())], key)
            .expect("a server configuration");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(listen)
            .await
            .expect("bind the HTTPS server");
        let address = listener.local_addr().expect("its address");
        (TlsServer { address, ca_file }, listener, acceptor)
    }
}

//! An HTTPS server with a certificate for `localhost`, 127.0.0.1 and the address it listens
//! on, signed by a CA of its own whose PEM file it writes. It answers every request with
//! `tls ok` and closes; [`TlsServer::bind`] leaves the answering to the test. [`TestCa`]
//! issues certificates for other servers (`lvs-server --tls-cert`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, KeyPair};
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
        let ca = TestCa::new();
        let ca_file = ca.write(dir);
        let leaf = ca.issue(&server_names(listen));

        #[allow(deprecated)] // ring, as the agent uses it
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(leaf.cert.der().to_vec())], key)
            .expect("a server configuration");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(listen)
            .await
            .expect("bind the HTTPS server");
        let address = listener.local_addr().expect("its address");
        (TlsServer { address, ca_file }, listener, acceptor)
    }
}

/// The names a test server's certificate is for: `localhost`, 127.0.0.1 and `listen`'s IP.
pub fn server_names(listen: SocketAddr) -> Vec<String> {
    vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        listen.ip().to_string(),
    ]
}

/// A certificate authority of a test's own.
#[allow(missing_debug_implementations)] // rcgen's certificates have none
pub struct TestCa {
    key: KeyPair,
    cert: Certificate,
}

/// A certificate issued by a [`TestCa`], with its key.
#[allow(missing_debug_implementations)]
pub struct Issued {
    pub cert: Certificate,
    pub key: KeyPair,
}

/// The PEM files of an [`Issued`] certificate.
#[derive(Debug, Clone)]
pub struct PairFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a CA certificate");
        TestCa { key, cert }
    }

    /// Writes the CA's certificate to `ca.pem` in `dir`; returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.cert.pem()).expect("write ca.pem");
        path
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[String]) -> Issued {
        let key = KeyPair::generate().expect("a server key");
        let cert = CertificateParams::new(names.to_vec())
            .expect("server params")
            .signed_by(&key, &self.cert, &self.key)
            .expect("a server certificate");
        Issued { cert, key }
    }

    /// A server certificate for `names`, written to `NAME.pem` and `NAME.key` in `dir`.
    pub fn write_pair(&self, dir: &Path, name: &str, names: &[String]) -> PairFiles {
        let issued = self.issue(names);
        let files = PairFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, issued.cert.pem()).expect("write the certificate");
        std::fs::write(&files.key, issued.key.serialize_pem()).expect("write the key");
        files
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

//! TLS for `https` checks (rustls): the certificate verified against the check's CA file, or
//! not at all when the check says `insecure`.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use lvs_model::{Tls, TlsVerify};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::Failure;

/// The connector of a check and the name it verifies: `sni`, else the `Host` without its
/// port, else the real server's address.
pub fn connector(
    settings: &Tls,
    host: &Option<String>,
    address: IpAddr,
) -> Result<(TlsConnector, ServerName<'static>), Failure> {
    let name = server_name(settings.sni.as_deref().or(host.as_deref()), address)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Tls(e.to_string()))?;
    let config = match &settings.verify {
        TlsVerify::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|e| Failure::Tls(format!("cannot read CA file {path}: {e}")))?;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|e| Failure::Tls(format!("cannot read CA file {path}: {e}")))?;
                roots
                    .add(certificate)
                    .map_err(|e| Failure::Tls(format!("CA file {path}: {e}")))?;
            }
            if roots.is_empty() {
                return Err(Failure::Tls(format!("CA file {path} holds no certificate")));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsVerify::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth(),
    };
    Ok((TlsConnector::from(Arc::new(config)), name))
}

fn server_name(name: Option<&str>, address: IpAddr) -> Result<ServerName<'static>, Failure> {
    let Some(name) = name else {
        return Ok(ServerName::IpAddress(address.into()));
    };
    // A Host header may carry a port or brackets; the name verified has neither.
    let bare = match name.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => name.rsplit_once(':').map_or(name, |(host, _)| host),
    };
    ServerName::try_from(bare.to_owned())
        .map_err(|e| Failure::Tls(format!("server name {bare:?}: {e}")))
}

/// One crypto provider for every check. ring builds with the usual C compiler alone;
/// rustls deprecates it for lacking post-quantum key exchange, which a health check, that
/// carries no secret, does not need.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(crypto::ring::default_provider())))
}

/// `insecure`: any certificate passes; the handshake's signatures are still checked, so
/// the check still proves a working TLS stack.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

//! HTTPS: the certificate and key files, loaded at start and again on SIGHUP or when either
//! file changes. A pair that fails to load leaves the previous one in use; connections
//! already open keep the pair they were accepted with.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

pub use crate::config::TlsFiles;

/// How often the files' modification times are compared with those of the pair in use.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// The pair in use, replaced by [`Tls::reload`].
pub struct Tls {
    files: TlsFiles,
    acceptor: RwLock<TlsAcceptor>,
    /// The files' modification times when the pair in use (or the last that failed) was
    /// read.
    loaded: Mutex<Stamps>,
    /// SIGHUP, listened to since [`Tls::listen_for_hangups`], for [`Tls::watch`].
    hangups: Mutex<Option<tokio::signal::unix::Signal>>,
}

type Stamps = (Option<SystemTime>, Option<SystemTime>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Loads the pair; an unreadable or invalid file is an error naming it.
    pub fn load(files: TlsFiles) -> anyhow::Result<Tls> {
        let stamps = stamps(&files);
        let acceptor = acceptor(&files)?;
        Ok(Tls {
            files,
            acceptor: RwLock::new(acceptor),
            loaded: Mutex::new(stamps),
            hangups: Mutex::new(None),
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The acceptor of the pair in use, for a new connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        match self.acceptor.read() {
            Ok(acceptor) => acceptor.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the pair again and uses it for new connections; on error the pair in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let stamps = stamps(&self.files);
        self.set_loaded(stamps);
        let acceptor = acceptor(&self.files)?;
        match self.acceptor.write() {
            Ok(mut current) => *current = acceptor,
            Err(poisoned) => *poisoned.into_inner() = acceptor,
        }
        Ok(())
    }

    /// Starts listening for SIGHUP now (on a tokio runtime), so that a signal sent before
    /// [`Tls::watch`] runs is not lost, nor fatal.
    pub fn listen_for_hangups(&self) {
        let signal = hangups();
        match self.hangups.lock() {
            Ok(mut hangups) => *hangups = signal,
            Err(poisoned) => *poisoned.into_inner() = signal,
        }
    }

    /// Reloads on SIGHUP and when either file's modification time differs from the one
    /// last read, checked every `check_every`; runs until aborted.
    pub async fn watch(self: Arc<Self>, check_every: Duration) {
        let early = match self.hangups.lock() {
            Ok(mut hangups) => hangups.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let mut hangup = early.or_else(hangups);
        let first = tokio::time::Instant::now() + check_every;
        let mut ticks = tokio::time::interval_at(first, check_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                () = next_hangup(&mut hangup) => "SIGHUP",
                _ = ticks.tick() => {
                    if !self.changed() {
                        continue;
                    }
                    "a file changed"
                }
            };
            match self.reload() {
                Ok(()) => tracing::info!(
                    cert = %self.files.cert.display(),
                    reason = why,
                    "TLS certificate and key reloaded"
                ),
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    reason = why,
                    "cannot reload the TLS certificate and key; the previous pair stays in use"
                ),
            }
        }
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        let now = stamps(&self.files);
        match self.loaded.lock() {
            Ok(loaded) => *loaded != now,
            Err(poisoned) => *poisoned.into_inner() != now,
        }
    }

    fn set_loaded(&self, stamps: Stamps) {
        match self.loaded.lock() {
            Ok(mut loaded) => *loaded = stamps,
            Err(poisoned) => *poisoned.into_inner() = stamps,
        }
    }
}

/// The server configuration of the pair in `files`.
fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let certs = read_certs(&files.cert)?;
    let key = read_key(&files.key)?;
    #[allow(deprecated)] // ring, the workspace's provider (no post-quantum key exchange)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "--tls-cert {} and --tls-key {} do not make a pair",
                files.cert.display(),
                files.key.display()
            )
        })?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let what = || format!("--tls-cert {}", path.display());
    let pem = std::fs::read(path).with_context(|| format!("{}: cannot read it", what()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate file", what()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no PEM certificate (BEGIN CERTIFICATE) in it", what());
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let what = || format!("--tls-key {}", path.display());
    let pem = std::fs::read(path).with_context(|| format!("{}: cannot read it", what()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "{}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it",
            what()
        ),
        // The error may quote the file, which holds the secret: not repeated.
        _ => anyhow::anyhow!("{}: not a PEM private key file", what()),
    })
}

fn stamps(files: &TlsFiles) -> Stamps {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(&files.cert), modified(&files.key))
}

/// Installs the SIGHUP handler (for good: a SIGHUP no longer ends the process) and listens
/// to it.
fn hangups() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; TLS files are reloaded when they change");
            None
        }
    }
}

async fn next_hangup(hangup: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(signal) = hangup {
        if signal.recv().await.is_some() {
            return;
        }
    }
    std::future::pending::<()>().await;
}

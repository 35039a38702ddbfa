//! The connection loop: axum's `serve` has no read timeouts, so a client that sends half a
//! request header would hold its connection (and a task) for as long as it likes. Here
//! hyper reads each request's header within [`Timeouts::header`]; the router's
//! [`tower_http::timeout::RequestBodyTimeoutLayer`] bounds the body. With TLS, the
//! handshake must end within the header timeout too.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::tls::Tls;

/// How long a client may take to send what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a connection's first byte (or the end of its previous request) to the end of
    /// a request's header. A person typing into telnet is slower; nothing else is.
    pub header: Duration,
    /// The longest pause within a request body. A 30 MB desired state on a slow link
    /// arrives in many small pieces, each much sooner than this.
    pub body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes, then lets
/// the requests in flight finish (closing idle connections) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            http: http.clone(),
            remote,
            watcher: graceful.watcher(),
        };
        match &tls {
            None => connection.spawn(stream),
            Some(tls) => {
                let acceptor = tls.acceptor();
                tokio::spawn(async move {
                    let stream = match handshake(&acceptor, stream, header_timeout).await {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::debug!(%remote, %error, "TLS handshake failed");
                            return;
                        }
                    };
                    connection.spawn(stream);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An accepted connection, before it is served.
struct Connection {
    app: Router,
    http: hyper::server::conn::http1::Builder,
    remote: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    /// Serves its requests on a task of its own, until it closes or shutdown ends it.
    fn spawn(self, stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
        let remote = self.remote;
        let service = self
            .app
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                request
            });
        let connection = self
            .http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = self.watcher.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote, %error, "connection ended with an error");
            }
        });
    }
}

/// The TLS handshake, within the time a request header may take: a client that connects
/// and sends nothing is dropped like one that sends half a header.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(accepted) => accepted,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no TLS handshake within the header timeout",
        )),
    }
}

/// Out of file descriptors or a connection reset before it was accepted: the next accept
/// may succeed, so wait a little rather than spin.
async fn accept_failed(error: std::io::Error) {
    tracing::warn!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

//! The HTTP port's accept loop: connections admitted by the [`Gate`],
//! optionally wrapped in TLS, served by hyper with a header-read timeout.
//!
//! `axum::serve` has no way to set hyper's timeouts, so the loop is ours.
//! On HTTP/1 the header-read timeout runs whenever hyper waits for a
//! request's head, which covers a client that sends its headers slowly and
//! an idle keep-alive connection between requests alike; HTTP/2 clients
//! are checked with keep-alive pings.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::connections::Gate;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle HTTP/2 connection is pinged, and how long the answer may take.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How long requests in flight may take to finish once the server stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct HttpPort {
    pub listener: TcpListener,
    pub gate: Gate,
    pub tls: Option<Arc<ServerConfig>>,
    /// Longest wait for a request's headers, and for the next request on an
    /// idle keep-alive connection.
    pub header_timeout: Duration,
}

/// Serves `app` until `stop` completes, then waits for requests in flight.
pub async fn serve(port: HttpPort, app: Router, stop: impl Future<Output = ()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(port.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(H2_PING_INTERVAL))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let builder = Arc::new(builder);
    let acceptor = port.tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            admitted = port.gate.accept(&port.listener) => admitted,
            () = &mut stop => break,
        };
        let connection = Connection {
            builder: builder.clone(),
            service: TowerToHyperService::new(app.clone()),
            watcher: graceful.watcher(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection.serve(tls).await,
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(port.listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the drain timeout were cut off");
    }
}

struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    async fn serve<I>(self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), self.service);
        if let Err(error) = self.watcher.watch(connection.into_owned()).await {
            tracing::debug!(%error, "connection ended with an error");
        }
    }
}

//! `reprise serve`: binds both listeners, serves until told to stop, then
//! drains. Shutdown order matters for "nothing acknowledged is lost": the
//! listeners stop accepting, in-flight requests finish (each waits for its
//! commit), and only then does the writer drain and stop.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::api::replays::ReplaysState;
use crate::api::{self, ApiState};
use crate::config::ServeArgs;
use crate::ingest::otlp::{grpc, http};
use crate::ingest::{Ingest, linker};
use crate::providers::ProviderError;
use crate::replay::{ConfigFile, Engine, Executor, TargetError};
use crate::store::{OpenError, Store};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("gRPC server failed: {0}")]
    Grpc(tonic::transport::Error),
    #[error(transparent)]
    Config(#[from] TargetError),
    #[error(transparent)]
    Compare(#[from] crate::compare::settings::SettingsError),
    #[error("cannot start the replay executor: {0}")]
    Replay(#[from] ProviderError),
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub http: SocketAddr,
    pub grpc: SocketAddr,
}

/// Runs the server until `shutdown` completes. `on_bound` is called once
/// both listeners are bound.
pub async fn serve(
    args: &ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(Bound),
) -> Result<(), ServeError> {
    let replay_config = std::sync::Arc::new(ConfigFile::load(args.config.as_deref())?);
    let compare_config = std::sync::Arc::new(crate::compare::settings::CompareFile::load(
        args.config.as_deref(),
    )?);
    let store = Store::open(&args.store_options()).await?;
    let http_listener = bind(args.http).await?;
    let grpc_listener = bind(args.grpc).await?;
    let bound = Bound {
        http: local_addr(&http_listener, args.http)?,
        grpc: local_addr(&grpc_listener, args.grpc)?,
    };
    on_bound(bound);

    let ingest = Ingest::new(store.clone(), args.limits());
    let (replay_engine, replay_sink) = Engine::new(ingest.clone())?;
    let replay_wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let app = http::router(ingest.clone())
        .merge(api::router(ApiState {
            store: store.clone(),
            project_id: ingest.project_id,
        }))
        .merge(api::replays::router(ReplaysState {
            store: store.clone(),
            project_id: ingest.project_id,
            config: replay_config,
            executor_owner: replay_engine.owner().to_owned(),
            wake: replay_wake.clone(),
        }))
        .merge(api::comparison::router(
            api::comparison::ComparisonState::new(store.clone(), ingest.project_id, compare_config),
        ))
        .layer(axum::extract::DefaultBodyLimit::disable());
    let (trace_service, logs_service) = grpc::services(ingest);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = std::sync::Arc::new(stop_tx);
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = signal_stop.send(true);
    });
    let linker = linker::spawn(store.clone(), stop_rx.clone());
    let replay_executor = Executor::spawn(replay_engine, replay_wake, stop_rx.clone());
    let http_stop = wait_for(stop_rx.clone());
    let grpc_stop = wait_for(stop_rx);

    let http_server = async move {
        axum::serve(http_listener, app)
            .with_graceful_shutdown(http_stop)
            .await
            .map_err(ServeError::Http)
    };
    let grpc_server = async move {
        tonic::transport::Server::builder()
            .add_service(trace_service)
            .add_service(logs_service)
            .serve_with_incoming_shutdown(TcpListenerStream::new(grpc_listener), grpc_stop)
            .await
            .map_err(ServeError::Grpc)
    };
    let result = tokio::try_join!(http_server, grpc_server);
    // Also when a listener failed rather than being told to stop.
    let _ = stop_tx.send(true);
    let _ = linker.await;
    // Runs in progress give their items back before the writer stops.
    let _ = replay_executor.await;
    let _ = replay_sink.await;
    tracing::info!("listeners stopped; draining the write queue");
    store.close().await;
    result.map(|_| ())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, ServeError> {
    listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}

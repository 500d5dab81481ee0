//! `reprise serve`: binds both listeners, serves until told to stop, then
//! drains. Shutdown order matters for "nothing acknowledged is lost": the
//! listeners stop accepting, in-flight requests finish (each waits for its
//! commit), and only then does the writer drain and stop.
//!
//! Every HTTP route passes the authentication layer and every gRPC call
//! the interceptor ([`crate::auth`]); a server that would listen beyond
//! loopback with no key to check refuses to start unless told `--insecure`.
//! Both ports admit connections through one [`connections::Gate`], which
//! caps how many are open and closes clients that stay silent.

pub mod connections;
pub mod http;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::replays::ReplaysState;
use crate::api::{self, ApiState, AppState};

use crate::auth::grpc::IngestInterceptor;
use crate::auth::{self, Authorizer};
use crate::config::ServeArgs;
use crate::cost::{PriceError, PriceTable};
use crate::ingest::otlp::grpc;
use crate::ingest::{Ingest, derive, linker};
use crate::metrics::{self, MetricsError};
use crate::providers::ProviderError;
use crate::redact::{self, RedactionConfigError};
use crate::replay::{Engine, Executor};
use crate::store::keys::KeyStoreError;
use crate::store::{OpenError, Store, prune};
use crate::targets::{ConfigFile, TargetError};
use crate::tls::{TlsError, TlsFiles};
use connections::Gate;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Prices(#[from] PriceError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Redaction(#[from] RedactionConfigError),
    #[error(transparent)]
    StoredPolicy(#[from] redact::stored::StoredPolicyError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot read the API keys: {0}")]
    Keys(#[from] KeyStoreError),
    #[error(
        "refusing to listen on {addr} with no API key: anyone reaching it could read and write everything. Create a key (`reprise keys create --name NAME --scope ingest --scope read --db DB`), listen on 127.0.0.1, or pass --insecure if the network is trusted"
    )]
    Exposed { addr: SocketAddr },
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
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
    let open_files = connections::raise_open_file_limit();
    let max_connections = args
        .max_connections
        .unwrap_or_else(|| connections::default_max_connections(open_files));
    tracing::info!(
        max_connections,
        open_file_limit = open_files,
        idle_timeout = ?args.idle_timeout,
        "connection limits"
    );
    let metrics_handle = metrics::install()?;
    metrics::database_limits(
        args.retention().max_bytes,
        args.store_options().hard_limit_bytes,
    );
    let prices = Arc::new(PriceTable::load(args.prices.as_deref())?);
    let redactor = Arc::new(redact::load(args.redaction.as_deref())?);
    let tls = TlsFiles::read(args.tls_cert.as_deref(), args.tls_key.as_deref())?;
    let http_tls = match &tls {
        Some(files) => {
            crate::tls::install_crypto_provider();
            Some(files.server_config()?)
        }
        None => None,
    };
    let replay_config = Arc::new(ConfigFile::load(args.config.as_deref())?);
    let compare_config = Arc::new(crate::compare::settings::CompareFile::load(
        args.config.as_deref(),
    )?);
    let store = Store::open(&args.store_options()).await?;
    // The CLI's commands that write into this file apply the same policy.
    redact::stored::record(&args.db, args.redaction.as_deref()).await?;
    let authorizer = Authorizer::load(&store.keys(), args.require_keys).await?;
    refuse_if_exposed(args, &authorizer)?;
    if authorizer.enabled() {
        tracing::info!(keys = authorizer.key_count(), "API keys required");
    } else {
        tracing::info!("no API key exists: every request acts as the default project");
    }
    let http_listener = bind(args.http).await?;
    let grpc_listener = bind(args.grpc).await?;
    let bound = Bound {
        http: local_addr(&http_listener, args.http)?,
        grpc: local_addr(&grpc_listener, args.grpc)?,
    };
    on_bound(bound);

    let ingest = Ingest::new(store.clone(), args.limits(), prices.clone())
        .with_redactor(redactor)
        .with_inflight_budget(args.inflight_bytes())
        .with_backlog_bounds(args.backlog_bounds());
    let (replay_engine, replay_sink) = Engine::new(ingest.clone())?;
    let replay_wake = Arc::new(tokio::sync::Notify::new());
    let app = crate::ingest::otlp::http::router(ingest.clone())
        .merge(api::router(AppState {
            api: ApiState {
                store: store.clone(),
                ingest: ingest.clone(),
            },
            replays: ReplaysState {
                store: store.clone(),
                project_id: ingest.project_id,
                config: replay_config,
                executor_owner: replay_engine.owner().to_owned(),
                wake: replay_wake.clone(),
            },
            comparison: api::comparison::ComparisonState::new(
                store.clone(),
                ingest.project_id,
                compare_config,
                ingest.redactor.clone(),
            ),
            scrape: api::metrics::ScrapeState {
                handle: metrics_handle.clone(),
                store: store.clone(),
            },
        }))
        .merge(crate::ui::router())
        .layer(axum::middleware::from_fn_with_state(
            authorizer.clone(),
            auth::http::authenticate,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable());
    let deriving = ingest.clone();
    let (trace_service, logs_service) = grpc::services(
        ingest,
        IngestInterceptor {
            authorizer: authorizer.clone(),
        },
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let signal_stop = stop_tx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = signal_stop.send(true);
    });
    // Stopped only once the listeners have stopped, so it derives what
    // their last requests appended.
    let (derive_stop, derive_stop_rx) = tokio::sync::watch::channel(false);
    let deriver = derive::spawn(deriving, args.derive_settings(), derive_stop_rx);
    let linker = linker::spawn(store.clone(), prices, stop_rx.clone());
    let key_refresh = authorizer.spawn_refresh(store.keys(), stop_rx.clone());
    let upkeep = metrics::spawn_upkeep(metrics_handle, stop_rx.clone());
    let pruner = prune::spawn_pruner(
        store.clone(),
        args.retention(),
        args.prune_interval,
        stop_rx.clone(),
    );
    let replay_executor = Executor::spawn(replay_engine, replay_wake, stop_rx.clone());
    let http_stop = wait_for(stop_rx.clone());
    let grpc_stop = wait_for(stop_rx);

    let gate = Gate::new(max_connections, args.idle_timeout);
    let http_port = http::HttpPort {
        listener: http_listener,
        gate: gate.clone(),
        tls: http_tls,
        header_timeout: args.idle_timeout,
    };
    let http_server = async move {
        http::serve(http_port, app, http_stop).await;
        Ok::<(), ServeError>(())
    };
    let mut grpc_builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .timeout(args.request_timeout);
    if let Some(files) = &tls {
        grpc_builder = grpc_builder
            .tls_config(files.grpc_config())
            .map_err(ServeError::Grpc)?;
    }
    let grpc_server = async move {
        grpc_builder
            .add_service(trace_service)
            .add_service(logs_service)
            .serve_with_incoming_shutdown(gate.incoming(grpc_listener), grpc_stop)
            .await
            .map_err(ServeError::Grpc)
    };
    let result = tokio::try_join!(http_server, grpc_server);
    // Also when a listener failed rather than being told to stop.
    let _ = stop_tx.send(true);
    let _ = derive_stop.send(true);
    let _ = deriver.await;
    let _ = linker.await;
    let _ = key_refresh.await;
    let _ = upkeep.await;
    let _ = pruner.await;
    // Runs in progress give their items back before the writer stops.
    let _ = replay_executor.await;
    let _ = replay_sink.await;
    tracing::info!("listeners stopped; draining the write queue");
    store.close().await;
    result.map(|_| ())
}

/// Listening beyond loopback with nothing to check is refused: the store
/// holds prompts and users' messages.
fn refuse_if_exposed(args: &ServeArgs, authorizer: &Authorizer) -> Result<(), ServeError> {
    if authorizer.enabled() || args.insecure {
        return Ok(());
    }
    for addr in [args.http, args.grpc] {
        if !addr.ip().is_loopback() {
            return Err(ServeError::Exposed { addr });
        }
    }
    Ok(())
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

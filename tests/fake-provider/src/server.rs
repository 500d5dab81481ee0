//! The HTTP server: its own accept loop over hyper, the router, and the
//! middleware that records every request.
//!
//! The accept loop is written here rather than taken from `axum::serve`
//! because the fake must be able to drop a connection without answering
//! (a scripted failure), which no handler can do. Each connection gets a
//! [`ConnectionControl`]; a handler or a response body that closes it
//! makes the connection task drop the socket at once. On shutdown the loop
//! stops accepting, hanging requests give up, and connections finish their
//! current response (bounded by [`SHUTDOWN_GRACE`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::state::{InFlight, Shared};
use super::wire::{Api, ApiError, ErrorKind};
use super::{anthropic, inspect, openai};

/// Largest request body accepted; judge prompts carrying two long answers
/// must fit.
pub(crate) const MAX_BODY_BYTES: usize = 64 << 20;

/// How long shutdown waits for responses in progress before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Pause after a failed accept (e.g. out of file descriptors) so the loop
/// does not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Lets a request close its own connection without a response.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnectionControl(Arc<Notify>);

impl ConnectionControl {
    /// Asks the connection task to drop the socket now.
    pub(crate) fn close(&self) {
        // notify_one keeps a permit when nobody waits yet, so a close is
        // never lost between two polls of the connection task.
        self.0.notify_one();
    }

    async fn closed(&self) {
        self.0.notified().await;
    }
}

/// What the recording middleware hands to the handlers.
#[derive(Clone, Debug)]
pub(crate) struct RequestContext {
    /// The request's sequence number (see `RecordedRequest::seq`).
    pub seq: u64,
    /// The connection's control; absent when the router runs in-process.
    pub connection: Option<ConnectionControl>,
}

/// The whole application: both provider APIs, the inspection endpoints,
/// and the recording middleware around all of them.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(openai::routes())
        .merge(anthropic::routes())
        .merge(inspect::routes())
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), record))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Records the request, counts it in flight until its response is sent,
/// and passes its sequence number and connection control on.
async fn record(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_fake/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let message = format!("request body unreadable or larger than {MAX_BODY_BYTES} bytes");
            return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
        }
    };
    let (seq, in_flight) = shared.arrive(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &bytes,
    );
    let connection = parts.extensions.get::<ConnectionControl>().cloned();
    parts.extensions.insert(RequestContext { seq, connection });
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    hold_until_sent(response, in_flight)
}

/// A buffered response is done when the handler returns; a streamed one
/// only when its body ends or is dropped, so the in-flight guard rides
/// along in the body.
fn hold_until_sent(response: Response, in_flight: InFlight) -> Response {
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _still_sending = &in_flight;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// 404 in the format of the API the client seems to speak (Anthropic
/// clients always send `anthropic-version`).
async fn unknown_route(request: Request) -> Response {
    let api = if request.headers().contains_key("anthropic-version") {
        Api::Anthropic
    } else {
        Api::OpenAi
    };
    let message = format!(
        "Invalid URL ({} {})",
        request.method(),
        request.uri().path()
    );
    api.error_response(&ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        message,
    ))
}

/// Serves `listener` until `shutdown` resolves, then shuts down as the
/// module docs describe.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    let app = router(Arc::clone(&shared));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, app.clone(), shared.shutdown_receiver()));
                }
                Err(error) => {
                    tracing::warn!(%error, "fake provider: accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    shared.begin_shutdown();
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            "fake provider: responses still running after the shutdown grace period, cutting them"
        );
        connections.shutdown().await;
    }
}

async fn serve_connection(stream: TcpStream, app: Router, mut shutdown: watch::Receiver<bool>) {
    // Stream chunks must leave when written, not when Nagle decides.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "fake provider: cannot disable Nagle on a connection");
    }
    let control = ConnectionControl::default();
    let request_control = control.clone();
    let service = hyper::service::service_fn(move |mut request: axum::http::Request<Incoming>| {
        request.extensions_mut().insert(request_control.clone());
        app.clone().oneshot(request)
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let mut draining = *shutdown.borrow_and_update();
    if draining {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "fake provider: connection ended with an error");
                }
                return;
            }
            // Returning drops the connection: the socket closes with no
            // further byte, which is the point.
            () = control.closed() => return,
            _ = shutdown.changed(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

//! A fake model provider: an HTTP server that speaks the real OpenAI and
//! Anthropic wire formats, answers deterministically, and fails on cue.
//!
//! Tests, benchmarks and the README's worked example replay prompts
//! against it instead of a paid API. It serves:
//!
//! - OpenAI `POST /v1/chat/completions` (JSON, and SSE with `stream: true`),
//!   `POST /v1/embeddings` and `GET /v1/models`;
//! - Anthropic `POST /v1/messages` (JSON, and SSE with `stream: true`);
//! - inspection under `/_fake/`: `GET requests`, `GET stats`, `POST reset`,
//!   and `GET`/`PUT config` to read or replace the behavior at runtime.
//!
//! What each model answers, how fast, and how it fails is a [`FakeConfig`]:
//! a default [`Behavior`] plus per-model overrides, loadable from TOML or
//! JSON. Answers are derived from the request (an echo, fixed text, seeded
//! lorem ipsum, JSON, a tool call, a refusal, nothing, or a judge's
//! verdict), and tokens are whitespace-separated words, so the same request
//! always gets the same answer and usage, streamed or not. Scripted
//! [`FailureRule`]s produce 429s with `Retry-After`, 5xx errors in the
//! provider's format, malformed bodies, broken streams, dropped connections
//! and hangs that last until shutdown.
//!
//! Every request is recorded as a [`RecordedRequest`] with its headers
//! (credentials redacted to [`REDACTED`]), parsed body and arrival times;
//! [`FakeStats`] counts them and tracks how many were in flight at once.
//!
//! In a test:
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use fake_provider::{Behavior, FakeConfig, FakeProvider, ReplyStyle};
//!
//! let config = FakeConfig::default()
//!     .with_model("worse-model", Behavior::replying(ReplyStyle::Refusal));
//! let provider = FakeProvider::start("127.0.0.1:0".parse().unwrap(), config).await?;
//! let chat_url = format!("{}/v1/chat/completions", provider.base_url());
//! // ... send requests to chat_url ...
//! assert_eq!(provider.stats().max_in_flight, 1);
//! provider.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod answer;
mod anthropic;
mod config;
mod embedding;
mod exchange;
mod inspect;
mod judge;
mod openai;
mod prompt;
mod seed;
mod server;
mod state;
mod stream;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    AnswerMarker, Behavior, ConfigError, FailureKind, FailureRule, FakeConfig, JudgeDecision,
    JudgeSettings, ReplyStyle, ScriptRule, Timing, ToolReply, UsageSettings,
};
pub use state::{FakeStats, REDACTED, RecordedRequest};

use state::Shared;

/// A running fake provider, serving in the background. Dropping the handle
/// shuts the server down too; [`FakeProvider::shutdown`] also waits for it.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeProvider {
    /// Binds `addr` (port 0 picks a free port) and starts serving.
    pub async fn start(addr: SocketAddr, config: FakeConfig) -> std::io::Result<FakeProvider> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(config);
        let (stop, stopped) = oneshot::channel::<()>();
        let stop_signal = async move {
            // A dropped sender (the handle was dropped) stops the server too.
            let _ = stopped.await;
        };
        let task = tokio::spawn(server::run(listener, Arc::clone(&shared), stop_signal));
        Ok(FakeProvider {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, without a path: OpenAI-style clients append
    /// `/v1/...` themselves.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every recorded request, oldest first (at most
    /// `FakeConfig::max_recorded_requests`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn stats(&self) -> FakeStats {
        self.shared.stats()
    }

    /// The config in effect.
    pub fn config(&self) -> FakeConfig {
        self.shared.config().as_ref().clone()
    }

    /// Replaces the config for the requests that arrive from now on.
    /// Failure and judge-attempt counters start over.
    pub fn set_config(&self, config: FakeConfig) {
        self.shared.set_config(config);
    }

    /// Forgets recorded requests, stats and counters; keeps the config.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, ends hanging requests, lets responses in progress
    /// finish (for a few seconds at most) and waits for all of it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "fake provider: server task failed");
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves a fake provider on `listener` until `shutdown` resolves, then
/// shuts down as [`FakeProvider::shutdown`] does. For the CLI, which binds
/// the listener itself and stops on a signal; inspection is over HTTP.
pub async fn serve(listener: TcpListener, config: FakeConfig, shutdown: impl Future<Output = ()>) {
    server::run(listener, Shared::new(config), shutdown).await;
}

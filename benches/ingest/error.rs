//! Why a benchmark run failed, each message saying what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(
        "cannot start the server binary {path}: {source}; build it with \
         `cargo build --release --bin reprise` or pass --server-bin PATH"
    )]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the server exited before printing its addresses; its log is {log}")]
    ServerExited { log: PathBuf },
    #[error(
        "the server did not print `listening http=… grpc=…` within {seconds} s; its log is {log}"
    )]
    ServerSilent { seconds: u64, log: PathBuf },
    #[error("the server's first line is not `listening http=ADDR grpc=ADDR`: {0:?}")]
    BadListeningLine(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("request {index} could not be sent after {attempts} attempts: {source}")]
    Transport {
        index: usize,
        attempts: u32,
        source: reqwest::Error,
    },
    #[error("the server refused request {index} with HTTP {status}: {body}")]
    Refused {
        index: usize,
        status: u16,
        body: String,
    },
    #[error("the server rejected {rejected} spans of request {index}: {message}")]
    PartialSuccess {
        index: usize,
        rejected: i64,
        message: String,
    },
    #[error("a client task failed: {0}")]
    Join(tokio::task::JoinError),
    #[error("the server did not stop within {seconds} s of SIGTERM; its log is {log}")]
    StopTimeout { seconds: u64, log: PathBuf },
    #[error("the server exited with {status} after SIGTERM; its log is {log}")]
    StopFailed { status: String, log: PathBuf },
    #[error("`zstd` failed: {0}; install the zstd CLI or pass --skip-zstd")]
    Zstd(String),
    #[error("the generated workload is wrong: {0}; this is a bug in the benchmark")]
    SelfCheck(String),
    #[error("reading back trace {trace_id} failed: {message}")]
    Verify { trace_id: String, message: String },
    #[error("waiting for the server's backlog to empty failed: {0}")]
    Backlog(String),
    #[error("probing when trace {trace_id} became queryable failed: {message}")]
    Freshness { trace_id: String, message: String },
}

impl BenchError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }
}

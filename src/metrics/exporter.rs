//! The Prometheus side: installing the recorder once per process, with
//! histogram buckets and help texts. `GET /metrics` (`api::metrics`)
//! samples the scrape-time gauges and renders the text format.
//!
//! The exporter's own HTTP listener is not used: `/metrics` is served on
//! the HTTP port with everything else, so there is one port to open and
//! one server to shut down.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use super::names::*;

/// The content type of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets when nobody
/// scrapes; until then they are kept one by one.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Latency buckets in seconds: 1 ms to 60 s, about three per decade.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
];
/// Commits are often well under a millisecond without fsync.
const COMMIT_BUCKETS_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
/// The writer commits at most 64 batches together.
const COMMIT_BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// The writer commits at most about 50,000 rows together.
const COMMIT_ROW_BUCKETS: &[f64] = &[
    1.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 25000.0, 50000.0, 100000.0,
];

#[derive(Debug, Clone, thiserror::Error)]
pub enum MetricsError {
    #[error(
        "cannot install the Prometheus metrics recorder: {0} (another metrics recorder is already installed in this process)"
    )]
    Install(String),
}

static HANDLE: OnceLock<Result<PrometheusHandle, MetricsError>> = OnceLock::new();

/// Installs the process-wide recorder on first call and returns its
/// handle; later calls return the same handle. Until this runs, recording
/// functions do nothing (as in `reprise import`, which has no `/metrics`).
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    HANDLE.get_or_init(build_and_install).clone()
}

fn build_and_install() -> Result<PrometheusHandle, MetricsError> {
    let handle = builder()
        .map_err(|e| MetricsError::Install(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError::Install(e.to_string()))?;
    describe();
    register_defaults();
    // Help texts become visible to `render` only after an upkeep.
    handle.run_upkeep();
    Ok(handle)
}

fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let latency = [
        INGEST_REQUEST_DURATION,
        LLM_CALL_DURATION,
        LLM_TIME_TO_FIRST_TOKEN,
        REPLAY_LATENCY,
        REPLAY_TIME_TO_FIRST_TOKEN,
    ];
    // Histograms with no buckets of their own would be rendered as
    // summaries; every histogram gets buckets, latency by default.
    let mut builder = PrometheusBuilder::new().set_buckets(LATENCY_BUCKETS_SECONDS)?;
    for name in latency {
        builder =
            builder.set_buckets_for_metric(Matcher::Full(name.into()), LATENCY_BUCKETS_SECONDS)?;
    }
    builder
        .set_buckets_for_metric(
            Matcher::Full(STORE_COMMIT_DURATION.into()),
            COMMIT_BUCKETS_SECONDS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(STORE_COMMIT_BATCHES.into()),
            COMMIT_BATCH_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(STORE_COMMIT_ROWS.into()), COMMIT_ROW_BUCKETS)
}

/// The `# HELP` lines.
fn describe() {
    describe_counter!(INGEST_REQUESTS, "Ingest requests answered, by outcome.");
    describe_counter!(
        INGEST_REJECTIONS,
        "Ingest requests refused whole, by reason."
    );
    describe_histogram!(
        INGEST_REQUEST_DURATION,
        "Time from an ingest request's arrival to its answer (accepted requests wait for their commit)."
    );
    describe_counter!(
        INGEST_RECEIVED_BYTES,
        "Ingest payload bytes after decompression."
    );
    describe_counter!(INGEST_SPANS_RECEIVED, "Spans in decoded trace exports.");
    describe_counter!(INGEST_SPANS_REJECTED, "Spans rejected as invalid.");
    describe_counter!(
        INGEST_LOG_RECORDS_RECEIVED,
        "Log records in decoded log exports."
    );
    describe_counter!(
        INGEST_LOG_RECORDS_REJECTED,
        "Log records rejected as invalid."
    );
    describe_counter!(
        INGEST_RAW_RECORDS_RECEIVED,
        "Raw records posted to /api/v1/calls."
    );
    describe_counter!(
        INGEST_RAW_RECORDS_REJECTED,
        "Raw records refused as invalid."
    );
    describe_gauge!(WRITE_QUEUE_BYTES, "Bytes waiting for the writer.");
    describe_gauge!(
        WRITE_QUEUE_CAPACITY_BYTES,
        "The write queue's byte budget; ingest refuses when it is reached."
    );
    describe_counter!(STORE_COMMITS, "Writer transactions, by outcome.");
    describe_histogram!(
        STORE_COMMIT_DURATION,
        "Time to write and commit one group of batches."
    );
    describe_histogram!(STORE_COMMIT_BATCHES, "Batches per commit.");
    describe_histogram!(STORE_COMMIT_ROWS, "Rows per commit.");
    describe_counter!(STORE_INSERTED_ROWS, "New rows stored, by table.");
    describe_gauge!(LINKER_PENDING_LINKS, "Spans waiting for the linker.");
    describe_gauge!(
        DERIVE_PENDING_ITEMS,
        "Spans and log records acknowledged but not yet derived into calls."
    );
    describe_gauge!(
        DERIVE_PENDING_BYTES,
        "Compressed bytes of acknowledged exports not yet derived."
    );
    describe_gauge!(
        DERIVE_OLDEST_AGE,
        "How long the oldest export not yet derived has waited, in seconds."
    );
    describe_counter!(
        DERIVE_FAILURES,
        "Derivation batches that failed and are retried."
    );
    describe_counter!(
        DERIVE_QUARANTINED,
        "Acknowledged exports that could not be derived, kept in ingest_failed."
    );
    describe_gauge!(
        STORE_DATABASE_USED_BYTES,
        "Database pages in use, in bytes."
    );
    describe_gauge!(
        STORE_DATABASE_FILE_BYTES,
        "The database file's size, free pages included."
    );
    describe_gauge!(
        STORE_WAL_BYTES,
        "The write-ahead log file's size; the writer truncates it past 64 MB when readers allow."
    );
    describe_gauge!(
        STORE_RETENTION_LIMIT_BYTES,
        "Size past which retention deletes the oldest data (--max-db-mb)."
    );
    describe_gauge!(
        STORE_HARD_LIMIT_BYTES,
        "Size the database never grows past (--hard-limit-mb)."
    );
    describe_counter!(STORE_PRUNED_ROWS, "Rows deleted by retention.");
    describe_counter!(LLM_CALLS, "LLM calls stored.");
    describe_counter!(LLM_TOKENS, "Tokens of the LLM calls stored, by type.");
    describe_gauge!(
        LLM_COST_USD,
        "Cost in USD of the LLM calls stored; only goes up, query with increase() or rate()."
    );
    describe_histogram!(LLM_CALL_DURATION, "Duration of the LLM calls stored.");
    describe_histogram!(
        LLM_TIME_TO_FIRST_TOKEN,
        "Time to first token of the streamed LLM calls stored."
    );
    describe_counter!(
        REPLAY_ITEMS,
        "Replay items finished by the executor, by outcome."
    );
    describe_counter!(
        REPLAY_ATTEMPT_ERRORS,
        "Failed attempts to call a replay target, by reason."
    );
    describe_histogram!(REPLAY_LATENCY, "Latency of replayed calls.");
    describe_histogram!(
        REPLAY_TIME_TO_FIRST_TOKEN,
        "Time to first token of streamed replayed calls."
    );
    describe_gauge!(
        REPLAY_COST_USD,
        "Cost in USD of replayed calls; only goes up, query with increase() or rate()."
    );
    describe_gauge!(REPLAY_RUNS_ACTIVE, "Replay runs not yet finished.");
    describe_gauge!(REPLAY_ITEMS_PENDING, "Replay items waiting or running.");
    describe_gauge!(BUILD_INFO, "The running build; always 1.");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections closed at once because the server held --max-connections."
    );
}

fn register_defaults() {
    gauge!(BUILD_INFO, LABEL_VERSION => env!("CARGO_PKG_VERSION")).set(1.0);
    counter!(CONNECTIONS_REFUSED).absolute(0);
    super::ingest::register_defaults();
    super::store::register_defaults();
}

/// Folds histogram samples into buckets every few seconds until `stop`
/// turns true, so memory stays flat when nobody scrapes.
pub fn spawn_upkeep(
    handle: PrometheusHandle,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tokio::select! {
                _ = interval.tick() => handle.run_upkeep(),
                _ = stop.changed() => return,
            }
        }
    })
}

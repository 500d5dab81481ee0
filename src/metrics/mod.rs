//! Prometheus metrics: what reprise counts about itself and the LLM
//! traffic it stores, served at `GET /metrics` on the HTTP port.
//!
//! The `metrics` facade records; `metrics-exporter-prometheus` keeps the
//! values and renders the text format. [`install`] puts its recorder in
//! place once per process (`reprise serve` does this at start); before
//! that, recording does nothing, so code paths shared with the CLI pay
//! nothing for metrics nobody can scrape.
//!
//! Every metric name and label key is a documented constant in [`names`],
//! and instrumented code records through the small functions of this
//! module, never through a name string:
//!
//! - [`ingest`]: the OTLP receivers call [`otlp_export`] once per request
//!   (transport, signal, outcome, payload bytes, spans or log records
//!   received and rejected); `POST /api/v1/calls` calls [`raw_records`];
//!   a request refused before decoding calls [`request_refused`].
//! - [`store`]: the writer calls [`commit`] per transaction and
//!   [`rows_inserted`] per committed batch; queue depth and pending links
//!   are gauges sampled when Prometheus scrapes.
//! - [`calls`]: the writer calls [`calls_stored`] with the calls a commit
//!   inserted: count, tokens, cost, latency and time to first token by
//!   source, provider and model.
//! - [`replay`]: the replay executor calls [`replay_item_finished`] and
//!   [`replay_attempt_failed`]; unfinished runs and pending items are
//!   gauges sampled when Prometheus scrapes.
//!
//! Label values that come from outside (models, providers, replay
//! targets) pass through a [`labels::LabelCap`]: the first values seen
//! are kept, later ones become `other`, so the number of series stays
//! bounded whatever clients send. The Grafana dashboards in `dashboards/`
//! query exactly these names; `tests/integration/prometheus.rs` runs every
//! panel's query against a real Prometheus scraping a test server.

pub mod calls;
pub mod exporter;
pub mod ingest;
pub mod labels;
pub mod names;
pub mod replay;
pub mod store;
#[cfg(test)]
mod tests;

pub use calls::calls_stored;
pub use exporter::{MetricsError, TEXT_FORMAT, install, spawn_upkeep};
pub use ingest::{
    Export, Received, RequestOutcome, Signal, Transport, log_record_count, otlp_export,
    raw_records, request_refused, span_count,
};
pub use replay::{ReplayOutcome, replay_attempt_failed, replay_backlog, replay_item_finished};
pub use store::{
    Commit, commit, database_limits, derive_failed, derive_quarantined, rows_inserted, rows_pruned,
};

/// Records a connection closed at once because the server was at its cap.
pub fn connection_refused() {
    ::metrics::counter!(names::CONNECTIONS_REFUSED).increment(1);
}

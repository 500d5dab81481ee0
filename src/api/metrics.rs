//! `GET /metrics`: the Prometheus text. Most series are recorded as things
//! happen; the store's levels (write queue, pending links, replay backlog,
//! database and WAL size) are read at scrape time, here at the edge, so
//! `metrics` itself never reads the store.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use super::AppState;
use crate::metrics;
use crate::store::Store;

/// What a scrape reads: the recorder's text and the store's levels.
#[derive(Clone)]
pub struct ScrapeState {
    pub handle: PrometheusHandle,
    pub store: Store,
}

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<ScrapeState>) -> Response {
    let queue = &state.store.queue;
    metrics::store::write_queue(queue.queued_bytes(), queue.capacity_bytes());
    // A scrape that cannot count pending links still reports the rest; the
    // gauge keeps its last value.
    match state.store.reader.pending_link_count().await {
        Ok(count) => metrics::store::pending_links(count),
        Err(error) => tracing::warn!(%error, "cannot count pending links for /metrics"),
    }
    match state.store.reader.replay_backlog().await {
        Ok(backlog) => metrics::replay_backlog(backlog.runs_unfinished, &backlog.items_by_target),
        Err(error) => tracing::warn!(%error, "cannot count replay work for /metrics"),
    }
    match state.store.reader.usage().await {
        Ok(usage) => metrics::store::database_size(usage.used_bytes, usage.file_bytes),
        Err(error) => tracing::warn!(%error, "cannot read the database size for /metrics"),
    }
    metrics::store::wal_size(state.store.wal_bytes());
    let text = state.handle.render();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, metrics::TEXT_FORMAT)],
        text,
    )
        .into_response()
}

//! `GET /metrics`: the Prometheus text. Most series are recorded as things
//! happen; the store's levels (write queue, pending links, replay backlog,
//! database and WAL size) are read at scrape time, here at the edge, so
//! `metrics` itself never reads the store.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Prometheus metrics in the text exposition format.",
    description = "Needs a key with the `metrics` scope when the server has keys (every project's figures are in it).",
    responses(
        (status = 200, description = "The metrics.", content_type = "text/plain", body = String),
        (status = 401, description = "The server has keys and none, or an unknown or revoked one, was sent.", body = super::error::ErrorBody),
        (status = 403, description = "The key lacks the `metrics` scope.", body = super::error::ErrorBody),
    ),
)]
async fn scrape(State(state): State<ScrapeState>) -> Response {
    let queue = &state.store.queue;
    metrics::store::write_queue(queue.queued_bytes(), queue.capacity_bytes());
    metrics::store::derive_backlog(&state.store.backlog.level());
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

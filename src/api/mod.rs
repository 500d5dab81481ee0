//! The JSON API under `/api/v1/` and `/healthz`. Each resource is one file
//! with its router, handlers and response shapes; this module merges them.

pub mod body;
pub mod calls;
pub mod comparison;
pub mod costs;
pub mod error;
pub mod export;
pub mod health;
pub mod logs;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod records;
pub mod replays;
pub mod sessions;
pub mod stats;
pub mod traces;

use axum::Router;

use crate::ingest::Ingest;
use crate::store::Store;

/// What the API handlers share. The project is not here: it belongs to
/// each request (the [`crate::model::project::Project`] extractor).
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub ingest: Ingest,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(calls::router())
        .merge(records::router())
        .merge(stats::router())
        .merge(costs::router())
        .merge(sessions::router())
        .merge(export::router())
        .merge(traces::router())
        .merge(logs::router())
        .merge(openapi::router())
        .with_state(state)
}

//! The JSON API under `/api/v1/` and `/healthz`. Each resource is one file
//! with its router, handlers and response shapes; this module merges them.

pub mod calls;
pub mod comparison;
pub mod error;
pub mod health;
pub mod params;
pub mod replays;
pub mod traces;

use axum::Router;

use crate::store::Store;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub project_id: i64,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(calls::router())
        .merge(traces::router())
        .with_state(state)
}

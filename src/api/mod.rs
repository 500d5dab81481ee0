//! The JSON API under `/api/v1/` and `/healthz`. Each resource is one file
//! with its router, handlers and response shapes; this module merges them,
//! and the OpenAPI document is generated from the merged routes
//! ([`openapi`]).

pub mod body;
pub mod calls;
pub mod comparison;
pub mod costs;
pub mod error;
pub mod export;
pub mod fresh;
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
use axum::extract::FromRef;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::ingest::Ingest;
use crate::store::Store;

/// The one state of the HTTP API. Each handler takes the part it needs
/// (`State<ApiState>`, `State<ReplaysState>`, …) through `FromRef`. The
/// project is not here: it belongs to each request (the
/// [`crate::model::project::Project`] extractor).
#[derive(Clone, FromRef)]
pub struct AppState {
    pub api: ApiState,
    pub replays: replays::ReplaysState,
    pub comparison: comparison::ComparisonState,
    pub scrape: metrics::ScrapeState,
}

/// What most resources share: the store and the ingest path.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub ingest: Ingest,
}

/// Every route of the API, `/healthz` and `/metrics`, with its state.
pub fn router(state: AppState) -> Router {
    let (router, _) = api_router().split_for_parts();
    router.with_state(state)
}

/// Every route with its documentation: the one place they are merged.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
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
        .merge(replays::router())
        .merge(comparison::router())
        .merge(metrics::router())
}

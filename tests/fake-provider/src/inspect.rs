//! Inspection endpoints under `/_fake/`, for tests and tools that run the
//! fake provider out of process: what it was sent, its counters, and its
//! config, which can be replaced at runtime. They are neither recorded nor
//! counted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::config::FakeConfig;
use super::state::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/requests", get(requests))
        .route("/_fake/stats", get(stats))
        .route("/_fake/reset", post(reset))
        .route("/_fake/config", get(config).put(replace_config))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.requests()).into_response()
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.stats()).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

async fn config(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.config().as_ref().clone()).into_response()
}

/// Replaces the config with the body: TOML when the content type says
/// `toml`, JSON otherwise.
async fn replace_config(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad_config("the config body is not UTF-8 text".to_string());
    };
    let is_toml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("toml"));
    let parsed = if is_toml {
        FakeConfig::from_toml_str(text)
    } else {
        FakeConfig::from_json_str(text)
    };
    match parsed {
        Ok(config) => {
            shared.set_config(config);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_config(error.to_string()),
    }
}

fn bad_config(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"message": message}})),
    )
        .into_response()
}

//! `GET /healthz`: the process is up and the database answers.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;

pub fn router() -> Router<ApiState> {
    Router::new().route("/healthz", get(health))
}

async fn health(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let pending_links = state.store.reader.pending_link_count().await?;
    let usage = state.store.reader.usage().await?;
    Ok(Json(json!({
        "status": "ok",
        "queued_bytes": state.store.queue.queued_bytes(),
        "pending_links": pending_links,
        "db_used_bytes": usage.used_bytes,
        "db_file_bytes": usage.file_bytes,
    })))
}

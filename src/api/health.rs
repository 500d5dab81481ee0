//! `GET /healthz`: the process is up and the database answers. It is open
//! to anyone (load balancers send no keys), so it only tells more (queue
//! and linker backlog, database and write-ahead log sizes) to a caller
//! allowed to read.

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use crate::auth::{Principal, Scope};

pub fn router() -> Router<ApiState> {
    Router::new().route("/healthz", get(health))
}

async fn health(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, ApiError> {
    let may_read = principal.is_some_and(|Extension(p)| p.has(Scope::Read));
    if !may_read {
        return Ok(Json(json!({"status": "ok"})));
    }
    let pending_links = state.store.reader.pending_link_count().await?;
    let usage = state.store.reader.usage().await?;
    Ok(Json(json!({
        "status": "ok",
        "queued_bytes": state.store.queue.queued_bytes(),
        "pending_links": pending_links,
        "db_used_bytes": usage.used_bytes,
        "db_file_bytes": usage.file_bytes,
        "wal_bytes": state.store.wal_bytes(),
    })))
}

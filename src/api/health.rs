//! `GET /healthz`: whether this server can serve — its database reads from
//! a fresh connection and its writer is alive and not stuck — as 200 or
//! 503, for anyone (load balancers send no keys). A caller allowed to read
//! also gets the details: the problem in full, queue and linker backlog,
//! database and write-ahead log sizes.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::StatusCode;
use serde_json::{Value, json};

use super::{ApiState, AppState};
use crate::auth::Principal;
use crate::model::project::Scope;
use crate::store::health::Problem;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

async fn health(
    State(state): State<ApiState>,
    principal: Option<Extension<Principal>>,
) -> Response {
    let may_read = principal.is_some_and(|Extension(p)| p.has(Scope::Read));
    let problem = state.store.problem().await;
    if let Some(problem) = &problem {
        tracing::warn!(%problem, "health check failed");
    }
    let status = if problem.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut body = summary(problem.as_ref(), may_read);
    if may_read && problem.is_none() {
        match details(&state).await {
            Ok(details) => merge(&mut body, details),
            Err(error) => tracing::warn!(%error, "health details unavailable"),
        }
    }
    (status, Json(body)).into_response()
}

/// What everyone is told: ok, or which part failed; the full message only
/// to readers, since it may name files.
fn summary(problem: Option<&Problem>, may_read: bool) -> Value {
    match problem {
        None => json!({"status": "ok"}),
        Some(problem) if may_read => json!({
            "status": "unavailable",
            "failing": problem.component(),
            "problem": problem.to_string(),
        }),
        Some(problem) => json!({"status": "unavailable", "failing": problem.component()}),
    }
}

async fn details(state: &ApiState) -> Result<Value, crate::store::ReadError> {
    let pending_links = state.store.reader.pending_link_count().await?;
    let usage = state.store.reader.usage().await?;
    Ok(json!({
        "queued_bytes": state.store.queue.queued_bytes(),
        "pending_links": pending_links,
        "db_used_bytes": usage.used_bytes,
        "db_file_bytes": usage.file_bytes,
        "wal_bytes": state.store.wal_bytes(),
    }))
}

fn merge(body: &mut Value, more: Value) {
    if let (Value::Object(body), Value::Object(more)) = (body, more) {
        body.extend(more);
    }
}

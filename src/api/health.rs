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
use serde::Serialize;

use super::{ApiState, AppState};
use crate::auth::Principal;
use crate::model::project::Scope;
use crate::store::health::Problem;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

/// What `GET /healthz` answers: `ok`, or which part failed. The full
/// problem and the details only to callers allowed to read.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok` (200) or `unavailable` (503).
    pub status: &'static str,
    /// The part that failed: the database or the writer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<&'static str>,
    /// The problem in full (only to readers: it may name files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Queue, linker backlog and sizes (only to readers, when healthy).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub details: Option<HealthDetails>,
}

/// The levels a reader of a healthy server is told.
#[derive(Debug, Serialize)]
pub struct HealthDetails {
    /// Bytes waiting in the write queue.
    pub queued_bytes: usize,
    /// Spans waiting for the linker.
    pub pending_links: i64,
    /// Bytes of the database in use.
    pub db_used_bytes: u64,
    /// Size of the database file.
    pub db_file_bytes: u64,
    /// Size of the write-ahead log file.
    pub wal_bytes: u64,
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
            Ok(details) => body.details = Some(details),
            Err(error) => tracing::warn!(%error, "health details unavailable"),
        }
    }
    (status, Json(body)).into_response()
}

/// What everyone is told: ok, or which part failed; the full message only
/// to readers, since it may name files.
fn summary(problem: Option<&Problem>, may_read: bool) -> Health {
    let mut health = Health {
        status: "ok",
        failing: None,
        problem: None,
        details: None,
    };
    if let Some(problem) = problem {
        health.status = "unavailable";
        health.failing = Some(problem.component());
        if may_read {
            health.problem = Some(problem.to_string());
        }
    }
    health
}

async fn details(state: &ApiState) -> Result<HealthDetails, crate::store::ReadError> {
    let pending_links = state.store.reader.pending_link_count().await?;
    let usage = state.store.reader.usage().await?;
    Ok(HealthDetails {
        queued_bytes: state.store.queue.queued_bytes(),
        pending_links,
        db_used_bytes: usage.used_bytes,
        db_file_bytes: usage.file_bytes,
        wal_bytes: state.store.wal_bytes(),
    })
}

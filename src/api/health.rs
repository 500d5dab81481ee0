//! `GET /healthz`: whether this server can serve — its database reads from
//! a fresh connection and its writer is alive and not stuck — as 200 or
//! 503, for anyone (load balancers send no keys). A caller allowed to read
//! also gets the details: the problem in full, queue, derivation and linker backlog,
//! database and write-ahead log sizes.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiState, AppState};
use crate::auth::Principal;
use crate::model::project::Scope;
use crate::store::backlog::BacklogLevel;
use crate::store::health::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// What `GET /healthz` answers: `ok`, or which part failed. The full
/// problem and the details only to callers allowed to read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (200) or `unavailable` (503).
    #[schema(pattern = "^(ok|unavailable)$")]
    pub status: &'static str,
    /// The part that failed: the database or the writer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<&'static str>,
    /// The problem in full (only to readers: it may name files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Bytes waiting in the write queue (only to readers, when healthy,
    /// as the four below).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued_bytes: Option<usize>,
    /// Spans waiting for the linker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_links: Option<i64>,
    /// Exports acknowledged but not yet derived into calls. When this and
    /// every other `pending_*` field and `queued_bytes` are 0, everything
    /// acknowledged is queryable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_derive_exports: Option<u64>,
    /// Spans and log records in those exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_derive_items: Option<u64>,
    /// Their compressed size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_derive_bytes: Option<u64>,
    /// How long the oldest of them has waited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_derive_oldest_age_seconds: Option<f64>,
    /// Acknowledged exports that could not be derived, set aside in the
    /// `ingest_failed` table (the server log says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derive_failed_exports: Option<i64>,
    /// Bytes of the database in use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_used_bytes: Option<u64>,
    /// Size of the database file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_file_bytes: Option<u64>,
    /// Size of the write-ahead log file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_bytes: Option<u64>,
}

/// The levels a reader of a healthy server is told.
struct HealthDetails {
    queued_bytes: usize,
    pending_links: i64,
    backlog: BacklogLevel,
    derive_failed_exports: i64,
    db_used_bytes: u64,
    db_file_bytes: u64,
    wal_bytes: u64,
}

impl Health {
    fn add(&mut self, details: HealthDetails) {
        self.queued_bytes = Some(details.queued_bytes);
        self.pending_links = Some(details.pending_links);
        self.pending_derive_exports = Some(details.backlog.exports);
        self.pending_derive_items = Some(details.backlog.items);
        self.pending_derive_bytes = Some(details.backlog.stored_bytes);
        self.pending_derive_oldest_age_seconds = Some(details.backlog.oldest_age.as_secs_f64());
        self.derive_failed_exports = Some(details.derive_failed_exports);
        self.db_used_bytes = Some(details.db_used_bytes);
        self.db_file_bytes = Some(details.db_file_bytes);
        self.wal_bytes = Some(details.wal_bytes);
    }
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "health",
    summary = "Whether this server can serve: its database reads and its writer is alive.",
    description = "For anyone (load balancers send no keys). A caller allowed to read also gets the problem in full, queue, derivation and linker backlog, and database and write-ahead log sizes.",
    security(()),
    responses(
        (status = 200, description = "Healthy.", body = Health),
        (status = 503, description = "Unavailable: `failing` says which part.", body = Health),
    ),
)]
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
            Ok(details) => body.add(details),
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
        queued_bytes: None,
        pending_links: None,
        pending_derive_exports: None,
        pending_derive_items: None,
        pending_derive_bytes: None,
        pending_derive_oldest_age_seconds: None,
        derive_failed_exports: None,
        db_used_bytes: None,
        db_file_bytes: None,
        wal_bytes: None,
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
        backlog: state.store.backlog.level(),
        derive_failed_exports: state.store.reader.failed_export_count().await?,
        db_used_bytes: usage.used_bytes,
        db_file_bytes: usage.file_bytes,
        wal_bytes: state.store.wal_bytes(),
    })
}

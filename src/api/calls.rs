//! `GET /api/v1/calls` (filtered, newest first, cursor-paginated) and
//! `GET /api/v1/calls/{id}` (one canonical call with its content).

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::error::ApiError;
use super::params::{param, parse_cursor, parse_limit, parse_sort, query_pairs};
use super::{ApiState, AppState};
use crate::model::filter::CallFilterParams;
use crate::model::project::Project;
use crate::model::{Call, CallId, CallSummary, nanos};

/// A page of `GET /api/v1/calls`.
#[derive(Debug, Serialize)]
pub struct CallPage {
    pub calls: Vec<CallSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A call as `GET /api/v1/calls/{id}` and the export show it: the canonical
/// call, with its start in milliseconds beside the nanosecond string.
#[derive(Debug, Serialize)]
pub struct FullCall {
    #[serde(flatten)]
    pub call: Call,
    /// The start in milliseconds since the epoch (the fraction holds the
    /// sub-millisecond part), for arithmetic in JavaScript.
    pub start_time_ms: f64,
}

impl FullCall {
    pub fn new(call: Call) -> Self {
        let start_time_ms = nanos::millis(call.start_time_unix_nano);
        FullCall {
            call,
            start_time_ms,
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/calls", get(list_calls))
        .route("/api/v1/calls/{id}", get(get_call))
}

#[tracing::instrument(skip_all)]
async fn list_calls(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<CallPage>, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter =
        CallFilterParams::from_pairs(&pairs, &["limit", "cursor", "sort", "order"])?.parse()?;
    let limit = parse_limit(param(&pairs, "limit"), 50, 1000)?;
    let sort = parse_sort(&pairs)?;
    let cursor = parse_cursor(param(&pairs, "cursor"), sort)?;
    let page = state
        .store
        .reader
        .list_calls(project.id, &filter, sort, limit, cursor)
        .await?;
    Ok(Json(CallPage {
        calls: page.calls,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

#[tracing::instrument(skip(state))]
async fn get_call(
    State(state): State<ApiState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<FullCall>, ApiError> {
    let call_id: CallId = id.parse().map_err(|e| ApiError::invalid("id", e))?;
    let call = state
        .store
        .reader
        .call(project.id, call_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("call {call_id}")))?;
    Ok(Json(FullCall::new(call)))
}

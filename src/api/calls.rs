//! `GET /api/v1/calls` (filtered, newest first, cursor-paginated) and
//! `GET /api/v1/calls/{id}` (one canonical call with its content).

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::params::{param, parse_cursor, parse_limit, parse_sort, query_pairs};
use crate::model::filter::CallFilterParams;
use crate::model::project::Project;
use crate::model::{Call, CallId, nanos};
use crate::store::call_record::CallColumns;

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/calls", get(list_calls))
        .route("/api/v1/calls/{id}", get(get_call))
}

#[tracing::instrument(skip_all)]
async fn list_calls(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
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
    let calls: Vec<Value> = page.calls.iter().map(summary_json).collect();
    Ok(Json(json!({
        "calls": calls,
        "next_cursor": page.next_cursor.map(|c| c.encode()),
    })))
}

#[tracing::instrument(skip(state))]
async fn get_call(
    State(state): State<ApiState>,
    project: Project,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let call_id: CallId = id.parse().map_err(|e| ApiError::invalid("id", e))?;
    let call = state
        .store
        .reader
        .call(project.id, call_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("call {call_id}")))?;
    full_json(&call).map(Json)
}

/// A call as `GET /api/v1/calls/{id}` and the export show it: the canonical
/// call, with its start in milliseconds beside the nanosecond string.
pub fn full_json(call: &Call) -> Result<Value, ApiError> {
    let mut json = serde_json::to_value(call).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(object) = json.as_object_mut() {
        object.insert(
            "start_time_ms".into(),
            json!(nanos::millis(call.start_time_unix_nano)),
        );
    }
    Ok(json)
}

/// A call in a listing: every field of the canonical call except its
/// content (messages, tools, parameters, attributes), which
/// `GET /api/v1/calls/{id}` returns.
pub fn summary_json(c: &CallColumns) -> Value {
    json!({
        "id": c.call_id.to_string(),
        "trace_id": c.trace_id.map(|id| id.to_hex()),
        "span_id": c.span_id.map(|id| id.to_hex()),
        "source": c.source.as_str(),
        "service": c.service,
        "provider": c.provider,
        "operation": c.operation,
        "request_model": c.request_model,
        "response_model": c.response_model,
        "response_id": c.response_id,
        "start_time_unix_nano": nanos::to_json(c.start_time_unix_nano),
        "start_time_ms": nanos::millis(c.start_time_unix_nano),
        "duration_ms": c.duration_ms,
        "ttft_ms": c.ttft_ms,
        "streaming": c.streaming,
        "usage": c.usage,
        "cost_usd": c.cost_usd,
        "status": c.status.as_str(),
        "error_type": c.error_type,
        "session_id": c.session_id,
        "user_id": c.user_id,
    })
}

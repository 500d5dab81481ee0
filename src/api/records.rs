//! `POST /api/v1/calls`: raw records in (one record or an array of them),
//! see [`crate::ingest::raw`] for what a record is. Each record is
//! validated on its own: the valid ones are stored, the response lists the
//! refused ones with the reason.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use crate::auth::Project;
use crate::ingest::IngestError;
use crate::ingest::otlp::body::read_limited;
use crate::ingest::raw::parse_record;

pub fn router() -> Router<ApiState> {
    Router::new().route("/api/v1/calls", post(post_calls))
}

#[tracing::instrument(skip_all)]
async fn post_calls(
    State(state): State<ApiState>,
    project: Project,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match store_records(&state, &project, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn store_records(
    state: &ApiState,
    project: &Project,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send records as application/json, not {content_type:?}"
        )));
    }
    let bytes = read_limited(body, headers, &state.ingest.limits)
        .await
        .map_err(ingest_error)?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let records = match value {
        Value::Array(records) => records,
        record => vec![record],
    };
    let received = now_unix_nano();
    let mut calls = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match parse_record(record, received) {
            Ok(call) => {
                ids.push(Value::String(call.id.to_string()));
                calls.push(call);
            }
            Err(error) => {
                ids.push(Value::Null);
                rejected.push(json!({"index": index, "error": error.to_string()}));
            }
        }
    }
    let accepted = calls.len();
    if accepted > 0 {
        state
            .ingest
            .for_project(project)
            .store_calls(calls)
            .await
            .map_err(ingest_error)?;
    }
    let body = json!({"accepted": accepted, "ids": ids, "rejected": rejected});
    if accepted == 0 && !rejected.is_empty() {
        let mut body = json!({"error": {
            "code": "invalid_records",
            "message": "every record was refused",
            "rejected": rejected,
        }});
        body["ids"] = json!(ids);
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Ingest refusals in the API's error format, with the retry delay when
/// the client should come back.
fn ingest_error(error: IngestError) -> ApiError {
    ApiError::Ingest(error)
}

fn now_unix_nano() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

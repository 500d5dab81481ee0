//! `POST /api/v1/calls`: raw records in (one record or an array of them),
//! see [`crate::ingest::raw`] for what a record is. Each record is
//! validated on its own: the valid ones are stored, the response lists the
//! refused ones with the reason.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use super::body::read_body;
use super::error::ApiError;
use super::{ApiState, AppState};
use crate::error_code::ErrorCode;
use crate::ingest::IngestError;
use crate::ingest::raw::parse_record;
use crate::metrics::{self, Received, RequestOutcome};
use crate::model::project::Project;
use crate::model::time::now_unix_nano;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/calls", post(post_calls))
}

/// What a request stored, and the records it refused.
struct Stored {
    accepted: usize,
    /// Accepted records that were not stored before (the rest were re-sent).
    inserted: usize,
    ids: Vec<Option<String>>,
    rejected: Vec<RejectedRecord>,
}

/// The answer to `POST /api/v1/calls` when at least one record was stored.
#[derive(Debug, Serialize)]
pub struct RecordsResult {
    /// Records that were valid: stored now or stored before.
    pub accepted: usize,
    /// Accepted records stored by this request.
    pub stored: usize,
    /// Accepted records that were already stored (the same id: a re-sent
    /// record), left as they were.
    pub already_stored: usize,
    /// Per record, in order: the stored call's id, or null when refused.
    pub ids: Vec<Option<String>>,
    pub rejected: Vec<RejectedRecord>,
}

/// A record that was refused, and why.
#[derive(Debug, Serialize)]
pub struct RejectedRecord {
    /// Its position in the request (0 for a single record).
    pub index: usize,
    pub error: String,
}

/// The answer when every record was refused: the API's error, with the
/// refused records, and the ids (all null) beside it.
#[derive(Debug, Serialize)]
pub struct RecordsRefused {
    pub error: RecordsRefusedError,
    /// Per record: null, since none was stored.
    pub ids: Vec<Option<String>>,
}

/// The error of [`RecordsRefused`]: `invalid_records`.
#[derive(Debug, Serialize)]
pub struct RecordsRefusedError {
    pub code: &'static str,
    pub message: &'static str,
    pub rejected: Vec<RejectedRecord>,
}

#[tracing::instrument(skip_all)]
async fn post_calls(
    State(state): State<ApiState>,
    project: Project,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut received = Received::default();
    let result = store_records(&state, &project, &headers, body, &mut received).await;
    let rejected_records = result.as_ref().map_or(0, |stored| stored.rejected.len());
    metrics::raw_records(
        received,
        rejected_records,
        request_outcome(&result),
        started.elapsed(),
    );
    match result {
        Ok(stored) => stored_response(stored),
        Err(error) => error.into_response(),
    }
}

fn stored_response(stored: Stored) -> Response {
    let Stored {
        accepted,
        inserted,
        ids,
        rejected,
    } = stored;
    if accepted == 0 && !rejected.is_empty() {
        let code = ErrorCode::InvalidRecords;
        let body = RecordsRefused {
            error: RecordsRefusedError {
                code: code.label(),
                message: "every record was refused",
                rejected,
            },
            ids,
        };
        return (code.http_status(), Json(body)).into_response();
    }
    let body = RecordsResult {
        accepted,
        stored: inserted,
        already_stored: accepted - inserted,
        ids,
        rejected,
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// The request's outcome in the ingest metrics' terms, whose reasons are
/// those of [`ErrorCode::INGEST`].
fn request_outcome(result: &Result<Stored, ApiError>) -> RequestOutcome {
    match result {
        Ok(stored) if stored.accepted == 0 && !stored.rejected.is_empty() => {
            RequestOutcome::Rejected(ErrorCode::AllRejected)
        }
        Ok(stored) if !stored.rejected.is_empty() => RequestOutcome::Partial,
        Ok(_) => RequestOutcome::Ok,
        Err(error) => RequestOutcome::Rejected(match error.code() {
            code if ErrorCode::INGEST.contains(&code) => code,
            ErrorCode::UnsupportedMediaType => ErrorCode::UnsupportedContentType,
            ErrorCode::BadRequest | ErrorCode::InvalidParameter => ErrorCode::Malformed,
            // Storing records never answers the others; count them as a
            // failure of ours.
            _ => ErrorCode::Internal,
        }),
    }
}

async fn store_records(
    state: &ApiState,
    project: &Project,
    headers: &HeaderMap,
    body: Body,
    received: &mut Received,
) -> Result<Stored, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send records as application/json, not {content_type:?}"
        )));
    }
    // Held until the records are stored: the parsed records live until then.
    let mut reservation = state.ingest.body_budget.start();
    let bytes = read_body(headers, body, &state.ingest.limits, &mut reservation).await?;
    received.payload_bytes = bytes.len();
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let records = match value {
        Value::Array(records) => records,
        record => vec![record],
    };
    received.items = Some(records.len());
    let received_unix_nano = now_unix_nano();
    let mut calls = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match parse_record(record, received_unix_nano) {
            Ok(call) => {
                ids.push(Some(call.id.to_string()));
                calls.push(call);
            }
            Err(error) => {
                ids.push(None);
                rejected.push(RejectedRecord {
                    index,
                    error: error.to_string(),
                });
            }
        }
    }
    let accepted = calls.len();
    let mut inserted = 0;
    if accepted > 0 {
        inserted = state
            .ingest
            .for_project(project)
            .store_calls(calls)
            .await
            .map_err(ingest_error)?
            .inserted;
    }
    Ok(Stored {
        accepted,
        inserted,
        ids,
        rejected,
    })
}

/// Ingest refusals in the API's error format, with the retry delay when
/// the client should come back.
fn ingest_error(error: IngestError) -> ApiError {
    ApiError::Ingest(error)
}

//! `POST /api/v1/calls`: raw records in (one record or an array of them),
//! see [`crate::ingest::raw`] for what a record is. Each record is
//! validated on its own: the valid ones are stored, the response lists the
//! refused ones with the reason.

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::read_body;
use super::error::responses::{Busy, Forbidden, Internal, Unauthorized};
use super::error::{ApiError, ErrorBody};
use super::{ApiState, AppState};
use crate::error_code::ErrorCode;
use crate::ingest::IngestError;
use crate::ingest::raw::parse_record;
use crate::metrics::{self, Received, RequestOutcome};
use crate::model::project::Project;
use crate::model::time::now_unix_nano;
use crate::model::{Call, CallStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_calls))
}

/// The body of `POST /api/v1/calls`: one record or an array of them (for
/// the document; the handler reads the JSON itself).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RecordsBody {
    One(Box<Record>),
    Many(Vec<Record>),
}

/// A raw provider exchange or a canonical call.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Record {
    Raw(Box<RawRecord>),
    Call(Box<Call>),
}

/// A raw provider exchange, normalized by the same code as spans (see
/// [`crate::ingest::raw`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct RawRecord {
    /// `openai` (Chat Completions or Responses, told apart by the body) or
    /// `anthropic` (Messages).
    pub provider: String,
    /// The provider request body exactly as sent.
    #[schema(value_type = Object)]
    pub request: Value,
    /// The response body, or the list of streamed chunks/events.
    pub response: Option<Value>,
    /// RFC 3339 or Unix nanoseconds.
    pub start_time: Option<Value>,
    /// RFC 3339 or Unix nanoseconds.
    pub end_time: Option<Value>,
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub status: Option<CallStatus>,
    pub error: Option<Value>,
    pub service: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The record's id is derived from this key (and `start_time` when
    /// given), so re-sending a record with the same key stores it once.
    /// Without a key the id comes from the record's whole content; never
    /// from when it arrived.
    pub idempotency_key: Option<String>,
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
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedRecord {
    /// Its position in the request (0 for a single record).
    pub index: usize,
    pub error: String,
}

/// The answer when every record was refused: the API's error, with the
/// refused records, and the ids (all null) beside it. (A body that is not
/// JSON answers the plain error, without `rejected` and `ids`.)
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsRefused {
    pub error: RecordsRefusedError,
    /// Per record: null, since none was stored.
    #[schema(required = false)]
    pub ids: Vec<Option<String>>,
}

/// The error of [`RecordsRefused`]: `invalid_records`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsRefusedError {
    pub code: &'static str,
    pub message: &'static str,
    #[schema(required = false)]
    pub rejected: Vec<RejectedRecord>,
}

#[utoipa::path(
    post,
    path = "/api/v1/calls",
    operation_id = "postCalls",
    tag = "calls",
    summary = "Store raw provider exchanges or canonical calls.",
    description = "One record or an array. Each record is validated on its own: the valid ones are stored and their ids returned; refused ones are listed with the reason. Bodies may be gzip-encoded. Needs an `ingest` key when the server has keys.",
    request_body(content = RecordsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "At least one record was stored.", body = RecordsResult),
        (status = 400, description = "The body is not JSON (`bad_request`), or every record was refused (`invalid_records`, with `rejected`).", body = RecordsRefused),
        Unauthorized,
        Forbidden,
        (status = 413, description = "The body (or its decompressed size) is over the limit.", body = ErrorBody),
        (status = 415, description = "Not application/json, or an encoding other than gzip.", body = ErrorBody),
        Internal,
        Busy,
    ),
)]
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

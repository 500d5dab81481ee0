//! OTLP's error answers: `google.rpc.Status`, as OTLP/HTTP writes it in the
//! response body (protobuf, or its JSON form for a JSON request) and as
//! OTLP/gRPC carries it, with a `google.rpc.RetryInfo` detail when the
//! client may retry. Ingest refusals and the key check (auth) both answer
//! this way, so the encoding lives below both; the message types are
//! `tonic-types`', not declared again here.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prost::Message as _;
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::error_code::ErrorCode;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// An OTLP/HTTP error with the code's HTTP status. A code that may be
/// retried adds a `Retry-After` header (whole seconds, at least 1), which
/// OTLP/HTTP exporters honour on 429 and 503.
pub fn http_response(code: ErrorCode, message: String, protobuf: bool) -> Response {
    let body = tonic_types::Status {
        code: code.grpc_code() as i32,
        message,
        details: Vec::new(),
    };
    let (content_type, bytes) = if protobuf {
        (PROTOBUF, body.encode_to_vec())
    } else {
        let json = serde_json::json!({"code": body.code, "message": body.message});
        (JSON, json.to_string().into_bytes())
    };
    let mut response = (
        code.http_status(),
        [(header::CONTENT_TYPE, content_type)],
        bytes,
    )
        .into_response();
    add_retry_after(&mut response, code);
    response
}

/// `Retry-After` (whole seconds, at least 1) when the code may be retried.
pub fn add_retry_after(response: &mut Response, code: ErrorCode) {
    if let Some(delay) = code.retry_after() {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(delay.as_secs().max(1)),
        );
    }
}

/// An OTLP/gRPC error. A code that may be retried carries a `RetryInfo`
/// detail: OTLP/gRPC exporters retry `RESOURCE_EXHAUSTED` only with one.
pub fn grpc_status(code: ErrorCode, message: String) -> tonic::Status {
    match code.retry_after() {
        None => tonic::Status::new(code.grpc_code(), message),
        Some(delay) => tonic::Status::with_error_details(
            code.grpc_code(),
            message,
            ErrorDetails::with_retry_info(Some(delay)),
        ),
    }
}

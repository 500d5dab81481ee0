//! OTLP's error answers: `google.rpc.Status`, as OTLP/HTTP writes it in the
//! response body (protobuf, or its JSON form for a JSON request) and as
//! OTLP/gRPC carries it, with a `google.rpc.RetryInfo` detail when the
//! client may retry. Ingest refusals and the key check (auth) both answer
//! this way, so the encoding lives below both; the message types are
//! `tonic-types`', not declared again here.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message as _;
use tonic_types::{ErrorDetails, StatusExt as _};

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// An OTLP/HTTP error with its HTTP status. With `retry_after`, a
/// `Retry-After` header (whole seconds, at least 1), which OTLP/HTTP
/// exporters honour on 429 and 503.
pub fn http_response(
    status: StatusCode,
    code: tonic::Code,
    message: String,
    protobuf: bool,
    retry_after: Option<Duration>,
) -> Response {
    let body = tonic_types::Status {
        code: code as i32,
        message,
        details: Vec::new(),
    };
    let (content_type, bytes) = if protobuf {
        (PROTOBUF, body.encode_to_vec())
    } else {
        let json = serde_json::json!({"code": body.code, "message": body.message});
        (JSON, json.to_string().into_bytes())
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], bytes).into_response();
    if let Some(delay) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(delay.as_secs().max(1)),
        );
    }
    response
}

/// An OTLP/gRPC error. With `retry_after`, a `RetryInfo` detail: OTLP/gRPC
/// exporters retry `RESOURCE_EXHAUSTED` only when it carries one.
pub fn grpc_status(
    code: tonic::Code,
    message: String,
    retry_after: Option<Duration>,
) -> tonic::Status {
    match retry_after {
        None => tonic::Status::new(code, message),
        Some(delay) => tonic::Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(delay)),
        ),
    }
}

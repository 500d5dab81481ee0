//! The two wire formats the fake provider speaks, as far as they differ in
//! errors: OpenAI's `{"error": {"message", "type", "param", "code"}}` and
//! Anthropic's `{"type": "error", "error": {"type", "message"}}`, with the
//! status codes and error types each API documents.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which provider API a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    OpenAi,
    Anthropic,
}

/// The kinds of error both APIs know, each mapped to its own type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidRequest,
    Authentication,
    NotFound,
    RateLimit,
    Server,
    Overloaded,
}

/// An error answer, before it is put in a provider's format.
#[derive(Clone, Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    /// OpenAI's `param`: the request field at fault.
    pub param: Option<String>,
    /// OpenAI's `code`: a machine-readable reason.
    pub code: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    pub(crate) fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
}

impl Api {
    /// The error body and status in this API's format.
    pub(crate) fn error_response(self, error: &ApiError) -> Response {
        let body = match self {
            Api::OpenAi => json!({
                "error": {
                    "message": error.message,
                    "type": openai_error_type(error.kind),
                    "param": error.param,
                    "code": error.code,
                }
            }),
            Api::Anthropic => json!({
                "type": "error",
                "error": {
                    "type": anthropic_error_type(error.kind),
                    "message": error.message,
                }
            }),
        };
        (error.status, axum::Json(body)).into_response()
    }

    /// The header each API uses to name the request for support tickets.
    pub(crate) fn request_id_header(self) -> &'static str {
        match self {
            Api::OpenAi => "x-request-id",
            Api::Anthropic => "request-id",
        }
    }
}

fn openai_error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::Authentication | ErrorKind::NotFound => {
            "invalid_request_error"
        }
        ErrorKind::RateLimit => "requests",
        ErrorKind::Server | ErrorKind::Overloaded => "server_error",
    }
}

fn anthropic_error_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Server => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
    }
}

/// The `Content-Type` of a streamed answer, as both APIs send it.
pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// Sets the content type and request id headers of a successful answer.
pub(crate) fn set_answer_headers(
    response: &mut Response,
    api: Api,
    content_type: &'static str,
    request_id: &str,
) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(api.request_id_header(), value);
    }
    if content_type == EVENT_STREAM {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
}

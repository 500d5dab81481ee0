//! API errors: every error is JSON `{"error": {"code", "message"}}` with
//! the right status. Client errors say what was wrong; internal errors are
//! logged and answered "internal error".

use axum::Json;
use axum::response::{IntoResponse, Response};

use crate::error_code::ErrorCode;
use crate::store::{ReadError, WriteError};

/// Every error the API answers: `{"error": {"code", "message"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `bad_request`, `invalid_parameter`,
    /// `not_found`, `unsupported_media_type`, `invalid_records`,
    /// `overloaded`, `too_large`, …
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
}

/// The refusals the operations document, one type per answer, so each
/// operation lists those it can give (`responses((status = 200, …),
/// BadRequest, Unauthorized, Forbidden, Internal)`) and each is worded
/// once. They describe answers; `ApiError` is what makes them.
pub mod responses {
    #![allow(dead_code, reason = "types that only describe answers; never built")]

    use super::ErrorBody;

    /// The request was not valid: the message says which parameter and why.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 400)]
    pub struct BadRequest(ErrorBody);

    /// The server has keys and none, or an unknown or revoked one, was sent.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 401)]
    pub struct Unauthorized(ErrorBody);

    /// The key lacks the scope this operation needs.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 403)]
    pub struct Forbidden(ErrorBody);

    /// Nothing with this id in this project.
    #[derive(utoipa::IntoResponses)]
    #[response(status = 404)]
    pub struct NotFound(ErrorBody);

    /// An internal error (logged on the server).
    #[derive(utoipa::IntoResponses)]
    #[response(status = 500)]
    pub struct Internal(ErrorBody);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 503,
        description = "The write queue is full or the database is at its size limit; retry after `Retry-After` seconds.",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
    )]
    pub struct Busy(ErrorBody);

    #[derive(utoipa::IntoResponses)]
    #[response(
        status = 503,
        description = "Asked for `fresh=true`, and derivation did not reach everything acknowledged before the request within 30 s; retry after `Retry-After` seconds.",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))
    )]
    pub struct NotFresh(ErrorBody);
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The request is valid but the resource is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The ingest path refused the data (too large, overloaded, …).
    #[error("{}", .0.public_message())]
    Ingest(crate::ingest::IngestError),
    /// The write queue refused a write the request made.
    #[error("{0}")]
    Write(WriteError),
    /// `fresh=true` waited its longest and derivation had not caught up.
    #[error(
        "derivation did not reach everything acknowledged before this request within {} s; retry, or read without fresh=true",
        .waited.as_secs()
    )]
    NotFresh { waited: std::time::Duration },
    #[error("internal error")]
    Internal(String),
}

impl From<crate::model::filter::FilterError> for ApiError {
    fn from(error: crate::model::filter::FilterError) -> Self {
        use crate::model::filter::FilterError;
        match error {
            FilterError::Nul { .. } | FilterError::Unknown(_) => {
                ApiError::BadRequest(error.to_string())
            }
            FilterError::Invalid { name, message } => ApiError::InvalidParameter { name, message },
        }
    }
}

impl ApiError {
    /// A query parameter this endpoint does not know.
    pub fn invalid_name(name: &str) -> Self {
        ApiError::BadRequest(format!("unknown parameter {name:?}"))
    }

    pub fn invalid(name: &'static str, message: impl std::fmt::Display) -> Self {
        ApiError::InvalidParameter {
            name,
            message: message.to_string(),
        }
    }

    /// The error's row in the one table: status, retry advice and the
    /// `code` of the JSON body.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Ingest(error) => error.code(),
            ApiError::Write(error) => error.code(),
            ApiError::NotFresh { .. } => ErrorCode::Unavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl ApiError {
    /// What went wrong, in full, for the server log; a client sees only
    /// "internal error".
    fn detail(&self) -> String {
        match self {
            ApiError::Internal(detail)
            | ApiError::Ingest(crate::ingest::IngestError::Internal(detail)) => detail.clone(),
            ApiError::Write(error) => error.to_string(),
            other => other.to_string(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::BadSearch(_) => ApiError::invalid(
                "q",
                "has characters the search index splits differently than expected; \
                 search for the words around them",
            ),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        ApiError::Write(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        if code == ErrorCode::Internal {
            tracing::error!(detail = %self.detail(), "API request failed");
        }
        let message = if code == ErrorCode::Internal {
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.label(),
                message,
            },
        };
        let mut response = (code.http_status(), Json(body)).into_response();
        crate::otlp_status::add_retry_after(&mut response, code);
        response
    }
}

//! API errors: every error is JSON `{"error": {"code", "message"}}` with
//! the right status. Client errors say what was wrong; internal errors are
//! logged and answered "internal error".

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::store::ReadError;

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

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Ingest(error) => error.http_status(),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Ingest(error) => error.reason(),
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(detail, "API request failed");
        }
        if let ApiError::Ingest(crate::ingest::IngestError::Internal(detail)) = &self {
            tracing::error!(detail, "storing records failed");
        }
        let body = serde_json::json!({
            "error": {"code": self.code(), "message": self.to_string()}
        });
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::Ingest(error) = &self
            && let crate::ingest::error::Retry::After(delay) = error.retry()
        {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(delay.as_secs().max(1)),
            );
        }
        response
    }
}

//! Why an export was refused. Each refusal names its row of the one error
//! table ([`ErrorCode`]), which gives both transports their status and
//! retry advice, so the two receivers cannot drift apart.

use crate::error_code::ErrorCode;
use crate::error_code::RETRY_AFTER;
use crate::store::WriteError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("malformed {format} body: {message}")]
    Malformed {
        format: &'static str,
        message: String,
    },
    #[error("every item was rejected: {0}")]
    AllRejected(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("decompressed body is larger than the limit of {limit} bytes")]
    DecompressedTooLarge { limit: usize },
    #[error("unsupported content type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content encoding {0:?}: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("the server is overloaded: retry after {} s", RETRY_AFTER.as_secs())]
    Overloaded,
    #[error(
        "the server is decoding as many request bodies as its memory budget of {} MB allows: retry after {} s",
        .budget >> 20,
        RETRY_AFTER.as_secs()
    )]
    BodiesInFlight { budget: usize },
    #[error(
        "acknowledged exports wait to be derived past the server's bound ({detail}): retry after {} s",
        RETRY_AFTER.as_secs()
    )]
    DerivationBehind { detail: String },
    #[error("the store cannot take this request now: {0}; retry later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl IngestError {
    /// The refusal's row in the one table: status, gRPC code, retry advice
    /// and metric label.
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::Malformed { .. } => ErrorCode::Malformed,
            IngestError::AllRejected(_) => ErrorCode::AllRejected,
            IngestError::BodyTooLarge { .. } => ErrorCode::BodyTooLarge,
            IngestError::DecompressedTooLarge { .. } => ErrorCode::DecompressedTooLarge,
            IngestError::UnsupportedContentType(_) => ErrorCode::UnsupportedContentType,
            IngestError::UnsupportedEncoding(_) => ErrorCode::UnsupportedEncoding,
            IngestError::Overloaded => ErrorCode::Overloaded,
            IngestError::BodiesInFlight { .. } => ErrorCode::BodiesInFlight,
            IngestError::DerivationBehind { .. } => ErrorCode::DerivationBehind,
            IngestError::Unavailable(_) => ErrorCode::Unavailable,
            IngestError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The refusal as OTLP/gRPC answers it; an internal error is logged.
    pub fn grpc_status(&self) -> tonic::Status {
        if let IngestError::Internal(detail) = self {
            tracing::error!(detail, "ingest failed");
        }
        crate::otlp_status::grpc_status(self.code(), self.public_message())
    }

    /// The message a client sees. Internal details stay in the server log.
    pub fn public_message(&self) -> String {
        self.to_string()
    }
}

/// A write the queue refused, as an export's answer: a full queue is
/// overload, a write that could never succeed is ours, and anything else
/// (a full disk, a shutdown, a database error) is a store that cannot take
/// the data now.
impl From<WriteError> for IngestError {
    fn from(error: WriteError) -> Self {
        match error.code() {
            ErrorCode::Overloaded => IngestError::Overloaded,
            ErrorCode::Internal => IngestError::Internal(error.to_string()),
            _ => IngestError::Unavailable(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_an_ingest_code() {
        let errors = [
            IngestError::Malformed {
                format: "JSON",
                message: String::new(),
            },
            IngestError::AllRejected(String::new()),
            IngestError::BodyTooLarge { limit: 1 },
            IngestError::DecompressedTooLarge { limit: 1 },
            IngestError::UnsupportedContentType(String::new()),
            IngestError::UnsupportedEncoding(String::new()),
            IngestError::Overloaded,
            IngestError::BodiesInFlight { budget: 1 },
            IngestError::DerivationBehind {
                detail: String::new(),
            },
            IngestError::Unavailable(String::new()),
            IngestError::Internal(String::new()),
        ];
        let codes: Vec<ErrorCode> = errors.iter().map(IngestError::code).collect();
        assert_eq!(codes, ErrorCode::INGEST);
    }
}

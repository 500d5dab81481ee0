//! Why an export was refused, and how each transport says so. One enum maps
//! to both the HTTP status and the gRPC code, so the two receivers cannot
//! drift apart.

use std::time::Duration;

/// How long a client should wait before retrying an overloaded server.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

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
    #[error("the store cannot take this request now: {0}; retry later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// The retry policy a status tells an OTLP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Never,
    After(Duration),
}

impl IngestError {
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            IngestError::Malformed { .. } | IngestError::AllRejected(_) => S::BAD_REQUEST,
            IngestError::BodyTooLarge { .. } | IngestError::DecompressedTooLarge { .. } => {
                S::PAYLOAD_TOO_LARGE
            }
            IngestError::UnsupportedContentType(_) | IngestError::UnsupportedEncoding(_) => {
                S::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::Overloaded | IngestError::BodiesInFlight { .. } => S::TOO_MANY_REQUESTS,
            IngestError::Unavailable(_) => S::SERVICE_UNAVAILABLE,
            IngestError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(&self) -> tonic::Code {
        use tonic::Code as C;
        match self {
            IngestError::Malformed { .. }
            | IngestError::AllRejected(_)
            | IngestError::UnsupportedContentType(_)
            | IngestError::UnsupportedEncoding(_) => C::InvalidArgument,
            IngestError::BodyTooLarge { .. } | IngestError::DecompressedTooLarge { .. } => {
                C::InvalidArgument
            }
            IngestError::Overloaded | IngestError::BodiesInFlight { .. } => C::ResourceExhausted,
            IngestError::Unavailable(_) => C::Unavailable,
            IngestError::Internal(_) => C::Internal,
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            IngestError::Overloaded
            | IngestError::BodiesInFlight { .. }
            | IngestError::Unavailable(_) => Retry::After(RETRY_AFTER),
            _ => Retry::Never,
        }
    }

    /// The message a client sees. Internal details stay in the server log.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    /// Every value [`IngestError::reason`] can return, so metrics can
    /// start each reason's counter at zero.
    pub const REASONS: &'static [&'static str] = &[
        "malformed",
        "all_rejected",
        "body_too_large",
        "decompressed_too_large",
        "content_type",
        "content_encoding",
        "overloaded",
        "bodies_in_flight",
        "unavailable",
        "internal",
    ];

    /// A short label for metrics: why requests were refused.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed { .. } => "malformed",
            IngestError::AllRejected(_) => "all_rejected",
            IngestError::BodyTooLarge { .. } => "body_too_large",
            IngestError::DecompressedTooLarge { .. } => "decompressed_too_large",
            IngestError::UnsupportedContentType(_) => "content_type",
            IngestError::UnsupportedEncoding(_) => "content_encoding",
            IngestError::Overloaded => "overloaded",
            IngestError::BodiesInFlight { .. } => "bodies_in_flight",
            IngestError::Unavailable(_) => "unavailable",
            IngestError::Internal(_) => "internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_in_reasons() {
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
            IngestError::Unavailable(String::new()),
            IngestError::Internal(String::new()),
        ];
        let reasons: Vec<&str> = errors.iter().map(IngestError::reason).collect();
        assert_eq!(reasons, IngestError::REASONS);
    }
}

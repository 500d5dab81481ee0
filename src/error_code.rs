//! The one table of refusals. Every error a client can receive (from the
//! API, ingest, the key check or the write queue) names an [`ErrorCode`],
//! and the code alone decides the HTTP status, the gRPC code, whether and
//! when the client may retry, and the label that appears in JSON error
//! bodies and in metrics. So an HTTP and a gRPC answer to the same failure
//! cannot disagree, and no error is classified by reading its message.
//!
//! The labels are part of the API (the `code` of `{"error": {...}}`) and of
//! the metrics (`reason` of `reprise_ingest_rejections_total`): renaming one
//! is a breaking change.

use std::time::Duration;

use http::StatusCode;
use tonic::Code;

/// How long a client should wait before retrying an overloaded server.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Every kind of refusal reprise answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // The request is wrong: fix it before sending it again.
    /// A request that is not understood as a whole.
    BadRequest,
    /// One named parameter cannot be used.
    InvalidParameter,
    /// An OTLP or raw-record body that does not decode.
    Malformed,
    /// An OTLP export whose every span or log record was rejected.
    AllRejected,
    /// A `POST /api/v1/calls` whose every record was refused (its body
    /// lists why, record by record).
    InvalidRecords,
    BodyTooLarge,
    DecompressedTooLarge,
    /// An API request body that is not JSON (or gzip of it).
    UnsupportedMediaType,
    /// An OTLP body that is neither protobuf nor JSON.
    UnsupportedContentType,
    /// An OTLP body in an encoding other than gzip or none.
    UnsupportedEncoding,
    Unauthenticated,
    Forbidden,
    NotFound,
    /// Valid, but the resource is not in a state that allows it.
    Conflict,
    /// A signal reprise does not store (OTLP metrics).
    NotImplemented,
    // The server is busy: send the same request again later.
    /// The write queue is full.
    Overloaded,
    /// The memory budget for request bodies is spent.
    BodiesInFlight,
    /// Acknowledged exports wait to be derived past the backlog's bound.
    DerivationBehind,
    /// The store cannot take writes now (full disk, shutting down, a
    /// database error).
    Unavailable,
    // Ours.
    Internal,
}

/// One row of the table.
struct Row {
    label: &'static str,
    http: StatusCode,
    grpc: Code,
    /// When the client may send the same request again (`Retry-After`, gRPC
    /// `RetryInfo`); `None` when sending it again cannot succeed.
    retry_after: Option<Duration>,
}

const fn row(
    label: &'static str,
    http: StatusCode,
    grpc: Code,
    retry_after: Option<Duration>,
) -> Row {
    Row {
        label,
        http,
        grpc,
        retry_after,
    }
}

impl ErrorCode {
    /// Every code, in the table's order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadRequest,
        ErrorCode::InvalidParameter,
        ErrorCode::Malformed,
        ErrorCode::AllRejected,
        ErrorCode::InvalidRecords,
        ErrorCode::BodyTooLarge,
        ErrorCode::DecompressedTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UnsupportedContentType,
        ErrorCode::UnsupportedEncoding,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::NotImplemented,
        ErrorCode::Overloaded,
        ErrorCode::BodiesInFlight,
        ErrorCode::DerivationBehind,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The codes an export (OTLP or raw records) can be refused with, so
    /// metrics can start each reason's counter at zero. Ingest's own test
    /// holds `IngestError::code` to this list.
    pub const INGEST: &'static [ErrorCode] = &[
        ErrorCode::Malformed,
        ErrorCode::AllRejected,
        ErrorCode::BodyTooLarge,
        ErrorCode::DecompressedTooLarge,
        ErrorCode::UnsupportedContentType,
        ErrorCode::UnsupportedEncoding,
        ErrorCode::Overloaded,
        ErrorCode::BodiesInFlight,
        ErrorCode::DerivationBehind,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The table. OTLP's rules decide the ingest rows: a client error is
    /// `INVALID_ARGUMENT` and never retried; overload is 429 /
    /// `RESOURCE_EXHAUSTED` and unavailability 503 / `UNAVAILABLE`, both
    /// with retry advice, which OTLP exporters honour.
    const fn row(self) -> Row {
        use Code as G;
        use StatusCode as H;
        const BUSY: Option<Duration> = Some(RETRY_AFTER);
        const NEVER: Option<Duration> = None;
        match self {
            ErrorCode::BadRequest => row("bad_request", H::BAD_REQUEST, G::InvalidArgument, NEVER),
            ErrorCode::InvalidParameter => row(
                "invalid_parameter",
                H::BAD_REQUEST,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::Malformed => row("malformed", H::BAD_REQUEST, G::InvalidArgument, NEVER),
            ErrorCode::AllRejected => {
                row("all_rejected", H::BAD_REQUEST, G::InvalidArgument, NEVER)
            }
            ErrorCode::InvalidRecords => {
                row("invalid_records", H::BAD_REQUEST, G::InvalidArgument, NEVER)
            }
            ErrorCode::BodyTooLarge => row(
                "body_too_large",
                H::PAYLOAD_TOO_LARGE,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::DecompressedTooLarge => row(
                "decompressed_too_large",
                H::PAYLOAD_TOO_LARGE,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::UnsupportedMediaType => row(
                "unsupported_media_type",
                H::UNSUPPORTED_MEDIA_TYPE,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::UnsupportedContentType => row(
                "content_type",
                H::UNSUPPORTED_MEDIA_TYPE,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::UnsupportedEncoding => row(
                "content_encoding",
                H::UNSUPPORTED_MEDIA_TYPE,
                G::InvalidArgument,
                NEVER,
            ),
            ErrorCode::Unauthenticated => row(
                "unauthenticated",
                H::UNAUTHORIZED,
                G::Unauthenticated,
                NEVER,
            ),
            ErrorCode::Forbidden => row("forbidden", H::FORBIDDEN, G::PermissionDenied, NEVER),
            ErrorCode::NotFound => row("not_found", H::NOT_FOUND, G::NotFound, NEVER),
            ErrorCode::Conflict => row("conflict", H::CONFLICT, G::FailedPrecondition, NEVER),
            ErrorCode::NotImplemented => row(
                "not_implemented",
                H::NOT_IMPLEMENTED,
                G::Unimplemented,
                NEVER,
            ),
            ErrorCode::Overloaded => row(
                "overloaded",
                H::TOO_MANY_REQUESTS,
                G::ResourceExhausted,
                BUSY,
            ),
            ErrorCode::BodiesInFlight => row(
                "bodies_in_flight",
                H::TOO_MANY_REQUESTS,
                G::ResourceExhausted,
                BUSY,
            ),
            ErrorCode::DerivationBehind => row(
                "derivation_behind",
                H::TOO_MANY_REQUESTS,
                G::ResourceExhausted,
                BUSY,
            ),
            ErrorCode::Unavailable => {
                row("unavailable", H::SERVICE_UNAVAILABLE, G::Unavailable, BUSY)
            }
            ErrorCode::Internal => row("internal", H::INTERNAL_SERVER_ERROR, G::Internal, NEVER),
        }
    }

    /// The code's name in JSON error bodies and metric labels.
    pub const fn label(self) -> &'static str {
        self.row().label
    }

    pub const fn http_status(self) -> StatusCode {
        self.row().http
    }

    pub const fn grpc_code(self) -> Code {
        self.row().grpc
    }

    /// The delay to advise, when the client may retry at all.
    pub const fn retry_after(self) -> Option<Duration> {
        self.row().retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn labels_are_unique_and_snake_case() {
        let labels: HashSet<&str> = ErrorCode::ALL.iter().map(|code| code.label()).collect();
        assert_eq!(labels.len(), ErrorCode::ALL.len());
        for label in labels {
            assert!(
                label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{label}"
            );
        }
    }

    #[test]
    fn only_busy_codes_may_be_retried_and_they_say_when() {
        for code in ErrorCode::ALL {
            let busy = matches!(
                code.http_status(),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            );
            assert_eq!(code.retry_after().is_some(), busy, "{code:?}");
        }
    }

    #[test]
    fn client_errors_are_client_errors_on_both_transports() {
        for code in ErrorCode::ALL {
            let http_client_error = code.http_status().is_client_error()
                && code.http_status() != StatusCode::TOO_MANY_REQUESTS;
            let grpc_server_side = matches!(
                code.grpc_code(),
                Code::Internal | Code::Unavailable | Code::ResourceExhausted | Code::Unimplemented
            );
            assert_eq!(http_client_error, !grpc_server_side, "{code:?}");
        }
    }
}

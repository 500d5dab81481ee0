//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON,
//! optionally gzip-compressed. The response (success, partial success or
//! error status) is written in the request's encoding, as the spec asks.
//! `POST /v1/metrics` is answered with a permanent error that says how to
//! stop sending metrics: reprise does not store them.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use prost::Message as _;

use super::body::{ContentEncoding, decode_content, read_limited};
use super::signal::{Logs, OtlpSignal, Traces};
use crate::error_code::ErrorCode;
use crate::ingest::budget::Reservation;
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::Ingest;
use crate::metrics::{self, Received, Transport};
use crate::model::project::Project;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<Traces>))
        .route("/v1/logs", post(export::<Logs>))
        .route("/v1/metrics", post(refuse_metrics))
        .with_state(ingest)
}

/// The body encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn from_headers(headers: &HeaderMap) -> Result<Format, IngestError> {
        let value = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
            "application/json" => Ok(Format::Json),
            _ => Err(IngestError::UnsupportedContentType(value.to_owned())),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => PROTOBUF,
            Format::Json => JSON,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Protobuf => "protobuf",
            Format::Json => "JSON",
        }
    }
}

async fn export<S: OtlpSignal>(
    State(ingest): State<Ingest>,
    project: Project,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ingest = ingest.for_project(&project);
    let started = Instant::now();
    let format = match Format::from_headers(&headers) {
        Ok(format) => format,
        Err(error) => {
            metrics::request_refused(Transport::Http, S::SIGNAL, error.code(), started.elapsed());
            return error_response(&error, Format::Json);
        }
    };
    let mut received = Received::default();
    let result = async {
        let _slot = ingest.decode_slot().await?;
        // Held until the export is stored: the decoded request lives until then.
        let mut reservation = ingest.body_budget.start();
        let body = read_body(&ingest, &headers, body, &mut reservation).await?;
        received.payload_bytes = body.len();
        let max_depth = ingest.limits.max_depth;
        let request = decode_blocking(
            move || match format {
                Format::Protobuf => S::decode_protobuf(body, max_depth),
                Format::Json => S::decode_json(&body, max_depth),
            },
            format,
        )
        .await?;
        received.items = Some(S::item_count(&request));
        S::export(&ingest, request).await
    }
    .await;
    metrics::otlp_export(
        Transport::Http,
        S::SIGNAL,
        received,
        super::metrics_export(&result),
        started.elapsed(),
    );
    match result {
        Ok(outcome) => {
            let response = S::response(&outcome);
            let bytes = match format {
                Format::Protobuf => response.encode_to_vec(),
                Format::Json => S::encode_json(&response),
            };
            ok_response(format, bytes)
        }
        Err(error) => error_response(&error, format),
    }
}

/// What an SDK exporting metrics to reprise is told, once per interval.
pub const METRICS_NOT_STORED: &str = "reprise does not store metrics, only traces and logs: \
    set OTEL_METRICS_EXPORTER=none in the application, or send metrics elsewhere \
    (drop them from the Collector pipeline that exports to reprise)";

/// Metrics are refused with a status OTLP exporters do not retry (501;
/// only 429, 502, 503 and 504 are retried), in the request's encoding, so
/// an SDK logs why instead of a bare 404 and does not resend the data.
async fn refuse_metrics(headers: HeaderMap) -> Response {
    let protobuf = matches!(Format::from_headers(&headers), Ok(Format::Protobuf));
    crate::otlp_status::http_response(
        ErrorCode::NotImplemented,
        METRICS_NOT_STORED.to_owned(),
        protobuf,
    )
}

async fn read_body(
    ingest: &Ingest,
    headers: &HeaderMap,
    body: Body,
    reservation: &mut Reservation,
) -> Result<Bytes, IngestError> {
    let encoding = ContentEncoding::from_headers(headers)?;
    let raw = read_limited(body, headers, &ingest.limits, reservation).await?;
    let limits = ingest.limits.clone();
    let mut held = std::mem::replace(reservation, ingest.body_budget.start());
    let (decoded, held) = tokio::task::spawn_blocking(move || {
        let decoded = decode_content(raw, encoding, &limits, &mut held);
        (decoded, held)
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?;
    *reservation = held;
    decoded
}

async fn decode_blocking<T: Send + 'static>(
    decode: impl FnOnce() -> Result<T, String> + Send + 'static,
    format: Format,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(decode)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
        .map_err(|message| IngestError::Malformed {
            format: format.name(),
            message,
        })
}

fn ok_response(format: Format, bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        bytes,
    )
        .into_response()
}

fn error_response(error: &IngestError, format: Format) -> Response {
    if let IngestError::Internal(detail) = error {
        tracing::error!(detail, "ingest failed");
    } else {
        tracing::debug!(%error, "ingest refused");
    }
    crate::otlp_status::http_response(
        error.code(),
        error.public_message(),
        format == Format::Protobuf,
    )
}

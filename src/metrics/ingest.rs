//! Recording what the receivers see: requests and their outcome, payload
//! bytes, and the spans, log records and raw records they carry. The OTLP
//! receivers call [`otlp_export`] once per request; `POST /api/v1/calls`
//! calls [`raw_records`]; a request refused before its body was decoded
//! calls [`request_refused`].

use std::time::Duration;

use ::metrics::{counter, histogram};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::names::*;
use crate::error_code::ErrorCode;

/// How a request reached reprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Grpc,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }
}

/// What a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Logs,
    /// Raw records (`POST /api/v1/calls`).
    Calls,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Calls => "calls",
        }
    }
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    Ok,
    /// Stored, but some items were rejected on their own.
    Partial,
    /// Refused whole, for this reason (one of [`ErrorCode::INGEST`]).
    Rejected(ErrorCode),
}

/// How an OTLP export was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Stored, with this many items rejected on their own.
    Stored {
        rejected: usize,
    },
    Refused(ErrorCode),
}

impl RequestOutcome {
    fn label(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Partial => "partial",
            RequestOutcome::Rejected(_) => "rejected",
        }
    }
}

/// What a decoded request held, as far as the receiver got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Body bytes after decompression; 0 if the body was never read.
    pub payload_bytes: usize,
    /// Spans or log records in the decoded request; `None` if it was not
    /// decoded.
    pub items: Option<usize>,
}

/// Records one answered ingest request.
pub fn ingest_request(
    transport: Transport,
    signal: Signal,
    outcome: RequestOutcome,
    duration: Duration,
) {
    let transport = transport.as_str();
    let signal = signal.as_str();
    counter!(INGEST_REQUESTS,
        LABEL_TRANSPORT => transport, LABEL_SIGNAL => signal, LABEL_OUTCOME => outcome.label())
    .increment(1);
    if let RequestOutcome::Rejected(code) = outcome {
        counter!(INGEST_REJECTIONS,
            LABEL_TRANSPORT => transport, LABEL_SIGNAL => signal, LABEL_REASON => code.label())
        .increment(1);
    }
    histogram!(INGEST_REQUEST_DURATION, LABEL_TRANSPORT => transport, LABEL_SIGNAL => signal)
        .record(duration.as_secs_f64());
}

/// Records a request refused before its body was decoded (content type,
/// encoding, size).
pub fn request_refused(transport: Transport, signal: Signal, code: ErrorCode, duration: Duration) {
    ingest_request(transport, signal, RequestOutcome::Rejected(code), duration);
}

/// Records one OTLP export request, whatever became of it.
pub fn otlp_export(
    transport: Transport,
    signal: Signal,
    received: Received,
    export: Export,
    duration: Duration,
) {
    received_bytes(transport, signal, received.payload_bytes);
    let rejected_items = match export {
        Export::Stored { rejected } => rejected,
        // Every item was invalid on its own: all of them count as rejected.
        Export::Refused(ErrorCode::AllRejected) => received.items.unwrap_or(0),
        Export::Refused(_) => 0,
    };
    if let Some(items) = received.items {
        items_received(transport, signal, items, rejected_items);
    }
    let outcome = match export {
        Export::Stored { rejected: 0 } => RequestOutcome::Ok,
        Export::Stored { .. } => RequestOutcome::Partial,
        Export::Refused(code) => RequestOutcome::Rejected(code),
    };
    ingest_request(transport, signal, outcome, duration);
}

/// Records one `POST /api/v1/calls` request: the records it held and how
/// many were refused on their own, or why the request was refused whole.
pub fn raw_records(
    received: Received,
    rejected_records: usize,
    outcome: RequestOutcome,
    duration: Duration,
) {
    let transport = Transport::Http;
    received_bytes(transport, Signal::Calls, received.payload_bytes);
    if let Some(records) = received.items {
        items_received(transport, Signal::Calls, records, rejected_records);
    }
    ingest_request(transport, Signal::Calls, outcome, duration);
}

fn received_bytes(transport: Transport, signal: Signal, bytes: usize) {
    if bytes == 0 {
        return;
    }
    counter!(INGEST_RECEIVED_BYTES,
        LABEL_TRANSPORT => transport.as_str(), LABEL_SIGNAL => signal.as_str())
    .increment(bytes as u64);
}

fn items_received(transport: Transport, signal: Signal, items: usize, rejected: usize) {
    let (received_name, rejected_name) = match signal {
        Signal::Traces => (INGEST_SPANS_RECEIVED, INGEST_SPANS_REJECTED),
        Signal::Logs => (INGEST_LOG_RECORDS_RECEIVED, INGEST_LOG_RECORDS_REJECTED),
        Signal::Calls => (INGEST_RAW_RECORDS_RECEIVED, INGEST_RAW_RECORDS_REJECTED),
    };
    let transport = transport.as_str();
    counter!(received_name, LABEL_TRANSPORT => transport).increment(items as u64);
    counter!(rejected_name, LABEL_TRANSPORT => transport).increment(rejected as u64);
}

/// Spans in a trace export, counted before validation.
pub fn span_count(request: &ExportTraceServiceRequest) -> usize {
    let mut count = 0;
    for resource in &request.resource_spans {
        for scope in &resource.scope_spans {
            count += scope.spans.len();
        }
    }
    count
}

/// Log records in a log export, counted before validation.
pub fn log_record_count(request: &ExportLogsServiceRequest) -> usize {
    let mut count = 0;
    for resource in &request.resource_logs {
        for scope in &resource.scope_logs {
            count += scope.log_records.len();
        }
    }
    count
}

/// Every request outcome and rejection reason starts at zero, so
/// `rate()` and `increase()` see the first refusal as an increase rather
/// than as a series appearing from nothing.
pub(super) fn register_defaults() {
    let combinations = [
        (Transport::Http, Signal::Traces),
        (Transport::Http, Signal::Logs),
        (Transport::Http, Signal::Calls),
        (Transport::Grpc, Signal::Traces),
        (Transport::Grpc, Signal::Logs),
    ];
    for (transport, signal) in combinations {
        let transport = transport.as_str();
        let signal = signal.as_str();
        for outcome in ["ok", "partial", "rejected"] {
            counter!(INGEST_REQUESTS,
                LABEL_TRANSPORT => transport, LABEL_SIGNAL => signal, LABEL_OUTCOME => outcome)
            .increment(0);
        }
        for reason in ErrorCode::INGEST.iter().map(|code| code.label()) {
            counter!(INGEST_REJECTIONS,
                LABEL_TRANSPORT => transport, LABEL_SIGNAL => signal, LABEL_REASON => reason)
            .increment(0);
        }
    }
}

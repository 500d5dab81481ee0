//! The two OTLP signals, traces and logs, as both receivers see them: the
//! HTTP and gRPC handlers are written once over [`OtlpSignal`].

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use bytes::Bytes;

use super::{json, protobuf};
use crate::ingest::error::IngestError;
use crate::ingest::pipeline::{ExportOutcome, Ingest};
use crate::metrics::{self, Signal};

/// What differs between the two signals: the messages, how items are
/// counted, and where a decoded request goes.
pub trait OtlpSignal {
    const SIGNAL: Signal;
    type Request: prost::Message + Default + Send + 'static;
    type Response: prost::Message + 'static;

    /// The gRPC service that receives this signal.
    const GRPC_SERVICE: &'static str;

    /// The request from OTLP protobuf (OTLP/HTTP and gRPC), values cut off
    /// past `max_depth` levels of nesting (see [`protobuf`]).
    fn decode_protobuf(body: Bytes, max_depth: usize) -> Result<Self::Request, String>;
    /// The request from OTLP JSON (OTLP/HTTP only), values cut off as
    /// [`OtlpSignal::decode_protobuf`] cuts them.
    fn decode_json(body: &[u8], max_depth: usize) -> Result<Self::Request, String>;
    fn item_count(request: &Self::Request) -> usize;
    fn export(
        ingest: &Ingest,
        request: Self::Request,
    ) -> impl Future<Output = Result<ExportOutcome, IngestError>> + Send;
    fn response(outcome: &ExportOutcome) -> Self::Response;
    /// The response as OTLP JSON (OTLP/HTTP only).
    fn encode_json(response: &Self::Response) -> Vec<u8>;
}

/// Spans: `POST /v1/traces`, TraceService/Export.
pub struct Traces;

impl OtlpSignal for Traces {
    const SIGNAL: Signal = Signal::Traces;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    type Request = ExportTraceServiceRequest;
    type Response = ExportTraceServiceResponse;

    fn decode_protobuf(body: Bytes, max_depth: usize) -> Result<Self::Request, String> {
        protobuf::decode_traces(body, max_depth).map_err(|e| e.to_string())
    }

    fn decode_json(body: &[u8], max_depth: usize) -> Result<Self::Request, String> {
        json::decode_traces(body, max_depth).map_err(|e| e.to_string())
    }

    fn item_count(request: &Self::Request) -> usize {
        metrics::span_count(request)
    }

    fn export(
        ingest: &Ingest,
        request: Self::Request,
    ) -> impl Future<Output = Result<ExportOutcome, IngestError>> + Send {
        ingest.export_traces(request)
    }

    fn response(outcome: &ExportOutcome) -> Self::Response {
        ExportTraceServiceResponse {
            partial_success: outcome.partial_success(|rejected, error_message| {
                ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message,
                }
            }),
        }
    }

    fn encode_json(response: &Self::Response) -> Vec<u8> {
        json::encode_trace_response(response)
    }
}

/// Log records: `POST /v1/logs`, LogsService/Export.
pub struct Logs;

impl OtlpSignal for Logs {
    const SIGNAL: Signal = Signal::Logs;
    const GRPC_SERVICE: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;

    fn decode_protobuf(body: Bytes, max_depth: usize) -> Result<Self::Request, String> {
        protobuf::decode_logs(body, max_depth).map_err(|e| e.to_string())
    }

    fn decode_json(body: &[u8], max_depth: usize) -> Result<Self::Request, String> {
        json::decode_logs(body, max_depth).map_err(|e| e.to_string())
    }

    fn item_count(request: &Self::Request) -> usize {
        metrics::log_record_count(request)
    }

    fn export(
        ingest: &Ingest,
        request: Self::Request,
    ) -> impl Future<Output = Result<ExportOutcome, IngestError>> + Send {
        ingest.export_logs(request)
    }

    fn response(outcome: &ExportOutcome) -> Self::Response {
        ExportLogsServiceResponse {
            partial_success: outcome.partial_success(|rejected, error_message| {
                ExportLogsPartialSuccess {
                    rejected_log_records: rejected,
                    error_message,
                }
            }),
        }
    }

    fn encode_json(response: &Self::Response) -> Vec<u8> {
        json::encode_logs_response(response)
    }
}

//! OTLP/HTTP protobuf bodies: prost decode of both request types, then the
//! CPU half of the export pipeline, with every stored record checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

fuzz_target!(|body: &[u8]| {
    // The same bytes are tried as both requests: a body sent to the wrong
    // path must be handled as calmly as garbage.
    if let Ok(request) = ExportTraceServiceRequest::decode(body) {
        reprise_fuzz::export_traces(request);
    }
    if let Ok(request) = ExportLogsServiceRequest::decode(body) {
        reprise_fuzz::export_logs(request);
    }
});

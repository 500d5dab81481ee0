//! gzip-compressed OTLP/HTTP protobuf bodies: the bounded gunzip, then the
//! protobuf path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use reprise::ingest::IngestError;
use reprise::ingest::otlp::body::gunzip_limited;

/// Small, so that bombs hit the limit quickly and the limit's edge is
/// reachable by the fuzzer.
const LIMIT_BYTES: usize = 64 << 10;

fuzz_target!(|compressed: &[u8]| {
    let body = match gunzip_limited(compressed, LIMIT_BYTES) {
        Ok(body) => body,
        Err(IngestError::DecompressedTooLarge { limit }) => {
            assert_eq!(limit, LIMIT_BYTES);
            return;
        }
        Err(_) => return,
    };
    assert!(body.len() <= LIMIT_BYTES, "gunzip went past its limit");
    if let Ok(request) = ExportTraceServiceRequest::decode(body.as_slice()) {
        reprise_fuzz::export_traces(request);
    }
    if let Ok(request) = ExportLogsServiceRequest::decode(body.as_slice()) {
        reprise_fuzz::export_logs(request);
    }
});

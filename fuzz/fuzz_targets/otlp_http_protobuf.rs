//! OTLP/HTTP protobuf bodies: reprise's depth-bounded decode of both
//! request types, then the CPU half of the export pipeline, with every
//! stored record checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::bytes::Bytes;
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::protobuf::{decode_logs, decode_traces};

fuzz_target!(|body: &[u8]| {
    // The same bytes are tried as both requests: a body sent to the wrong
    // path must be handled as calmly as garbage.
    let body = Bytes::copy_from_slice(body);
    let max_depth = Limits::default().max_depth;
    if let Ok(request) = decode_traces(body.clone(), max_depth) {
        reprise_fuzz::export_traces(request);
    }
    if let Ok(request) = decode_logs(body, max_depth) {
        reprise_fuzz::export_logs(request);
    }
});

//! OTLP/HTTP JSON bodies: reprise's OTLP/JSON decoder for both request
//! types, then the CPU half of the export pipeline, with every stored
//! record checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::json::{decode_logs, decode_traces};

fuzz_target!(|body: &[u8]| {
    let max_depth = Limits::default().max_depth;
    if let Ok(request) = decode_traces(body, max_depth) {
        reprise_fuzz::export_traces(request);
    }
    if let Ok(request) = decode_logs(body, max_depth) {
        reprise_fuzz::export_logs(request);
    }
});

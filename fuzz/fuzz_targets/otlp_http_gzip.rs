//! gzip-compressed OTLP/HTTP protobuf bodies: the bounded gunzip, then the
//! protobuf path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::bytes::Bytes;
use reprise::ingest::IngestError;
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::body::gunzip_limited;
use reprise::ingest::otlp::protobuf::{decode_logs, decode_traces};

/// Small, so that bombs hit the limit quickly and the limit's edge is
/// reachable by the fuzzer.
const LIMIT_BYTES: usize = 64 << 10;

fuzz_target!(|compressed: &[u8]| {
    let body = match gunzip_limited(compressed, LIMIT_BYTES, |_| Ok(())) {
        Ok(body) => body,
        Err(IngestError::DecompressedTooLarge { limit }) => {
            assert_eq!(limit, LIMIT_BYTES);
            return;
        }
        Err(_) => return,
    };
    assert!(body.len() <= LIMIT_BYTES, "gunzip went past its limit");
    let body = Bytes::from(body);
    let max_depth = Limits::default().max_depth;
    if let Ok(request) = decode_traces(body.clone(), max_depth) {
        reprise_fuzz::export_traces(request);
    }
    if let Ok(request) = decode_logs(body, max_depth) {
        reprise_fuzz::export_logs(request);
    }
});

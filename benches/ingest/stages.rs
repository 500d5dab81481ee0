//! `--stages`: the CPU cost per span of each step of the ingest path, in
//! this process, on one thread, with no server, no SQL and no I/O. It
//! splits the server's CPU per span (the main run's figure) into what
//! accepting an export costs and what deriving calls from it costs, which
//! is the split the staged pipeline has to make.
//!
//! Each request goes through every step before the next one starts, as in
//! the server, so the caches see what they see there. `pack` treats all
//! content as new, so it is an upper bound: the server leaves out content
//! it already stores. The raw body's zstd levels price a durable append of
//! the export as received.

use std::time::Instant;

use bytes::Bytes;
use reprise::cost::PriceTable;
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::{convert, protobuf};
use reprise::ingest::{calls, prepare};
use reprise::redact::Redactor;

use crate::error::BenchError;

const ROUNDS: usize = 3;

const STEPS: [&str; 8] = [
    "decode (protobuf)",
    "zstd -1 of the raw body",
    "zstd -3 of the raw body",
    "convert (validate)",
    "redact",
    "normalize (calls)",
    "encode (codec, hashes)",
    "pack (zstd, all new)",
];

/// Runs the steps over `bodies` (`spans` spans in all) and prints µs per
/// span for each step, one column per round.
pub fn measure(bodies: &[Bytes], spans: usize) -> Result<(), BenchError> {
    let limits = Limits::default();
    let policy = Redactor::built_in().policy_for("default");
    let prices = PriceTable::built_in();
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut raw_append = [0usize; 2];
    for _ in 0..ROUNDS {
        let mut seconds = [0f64; STEPS.len()];
        let mut clock =
            |step: usize, started: Instant| seconds[step] += started.elapsed().as_secs_f64();
        raw_append = [0, 0];
        for body in bodies {
            let started = Instant::now();
            let decoded = protobuf::decode_traces(body.clone(), limits.max_depth)
                .map_err(|e| BenchError::SelfCheck(format!("a request does not decode: {e}")))?;
            clock(0, started);
            for (i, level) in [1, 3].into_iter().enumerate() {
                let started = Instant::now();
                raw_append[i] += zstd::bulk::compress(body, level)
                    .map_err(BenchError::io("zstd"))?
                    .len();
                clock(1 + i, started);
            }
            let started = Instant::now();
            let mut converted = convert::convert_traces(decoded, &limits);
            clock(3, started);
            let started = Instant::now();
            policy.redact_span_groups(&mut converted.groups);
            clock(4, started);
            let started = Instant::now();
            let normalized = calls::normalize(&converted.groups, &[], &prices);
            clock(5, started);
            let started = Instant::now();
            let encoded = prepare::encode(&converted.groups, &[], normalized);
            clock(6, started);
            let started = Instant::now();
            let new: Vec<_> = encoded.blob_hashes().collect();
            prepare::pack(encoded, &new, Vec::new(), 1).map_err(BenchError::io("pack"))?;
            clock(7, started);
        }
        rounds.push(seconds);
    }
    let per_span = |seconds: f64| seconds * 1e6 / spans.max(1) as f64;
    println!("step                          µs per span, rounds 1..{ROUNDS}");
    for (step, name) in STEPS.iter().enumerate() {
        let figures: Vec<String> = rounds
            .iter()
            .map(|r| format!("{:7.1}", per_span(r[step])))
            .collect();
        println!("{name:<30}{}", figures.join(" "));
    }
    let derive: f64 = [0, 3, 4, 5, 6, 7]
        .iter()
        .map(|&s| per_span(rounds[ROUNDS - 1][s]))
        .sum();
    println!("all but zstd of the raw body  {derive:7.1} (last round)");
    for (i, level) in [1, 3].into_iter().enumerate() {
        println!(
            "raw body at zstd -{level}            {:7.0} B per span",
            raw_append[i] as f64 / spans.max(1) as f64
        );
    }
    Ok(())
}

//! reprise's integration tests: one binary, real servers on loopback ports,
//! real OTLP bytes, a real SQLite file.

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

mod api_input;
mod availability;
mod backpressure;
mod backup;
mod bad_input;
pub mod calls_expected;
mod cli_edges;
mod compare;
mod content_once;
mod crash;
mod exporter;
mod finish_reasons;
mod fixtures;
mod full_disk;
mod generate;
mod ingest_roundtrip;
mod logs_api;
mod metrics;
mod nano_strings;
mod nesting;
mod openapi;
mod otlp_compare;
mod otlp_json;
mod prometheus;
mod query_api;
mod raw_equivalence;
mod records_once;
pub mod redaction;
mod replay;
mod replay_ux;
mod retention;
mod search_words;
pub mod security;
mod self_telemetry;
mod server;
mod staged;
mod tls;
mod ui;

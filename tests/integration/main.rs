//! reprise's integration tests: one binary, real servers on loopback ports,
//! real OTLP bytes, a real SQLite file.

mod backpressure;
mod bad_input;
mod calls_expected;
mod compare;
mod crash;
mod exporter;
mod fixtures;
mod generate;
mod ingest_roundtrip;
mod otlp_compare;
mod otlp_json;
mod replay;
mod self_telemetry;
mod server;

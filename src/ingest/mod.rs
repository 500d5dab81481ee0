//! Ingest: receive, decode, validate and normalize telemetry before it is
//! queued for the writer.

pub mod limits;
pub mod otlp;

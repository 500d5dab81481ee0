//! Ingest: receive, decode, validate and normalize telemetry before it is
//! queued for the writer.

pub mod genai;
pub mod limits;
pub mod otlp;

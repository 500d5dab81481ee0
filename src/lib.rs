//! reprise: a prompt/response telemetry and replay store for LLM applications.
pub mod compare;
pub mod ingest;
pub mod model;

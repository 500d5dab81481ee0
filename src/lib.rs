//! reprise: a prompt/response telemetry and replay store for LLM applications.
pub mod ingest;
pub mod model;
pub mod providers;

//! reprise: a prompt/response telemetry and replay store for LLM applications.
pub mod fake_provider;
pub mod ingest;
pub mod model;

//! reprise: a prompt/response telemetry and replay store for LLM applications.
//!
//! Data flows one way: receivers ([`ingest::otlp`]) decode OTLP over HTTP
//! and gRPC into domain types ([`model`]); the export pipeline
//! ([`ingest::pipeline`]) validates them, normalizes LLM calls, encodes and
//! compresses everything into a batch, and queues it for the single writer
//! ([`store::write::writer`]), which commits batches in groups to one SQLite file.
//! A request is acknowledged only after its data is committed; when the
//! queue is full, receivers tell clients to retry. The JSON API ([`api`])
//! reads through a pool of read connections. Replay ([`replay`]) sends
//! recorded calls to other models in the background and stores the
//! answers as calls beside the originals, through the same write queue.

pub mod api;
pub mod auth;
pub mod cli;
pub mod compare;
pub mod config;
pub mod cost;
pub mod error_code;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod otlp_status;
pub mod providers;
pub mod quantile;
pub mod redact;
pub mod replay;
pub mod server;
pub mod store;
pub mod targets;
pub mod telemetry;
pub mod tls;
pub mod ui;

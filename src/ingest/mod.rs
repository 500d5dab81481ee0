//! Ingest: receive, decode, validate and normalize telemetry, then queue it
//! for the writer.
//!
//! `otlp` holds the receivers and decoders, `genai` the normalization of
//! LLM calls from every GenAI convention, `pipeline` the one export path the
//! receivers share, `prepare` the encoding that turns records into a write
//! batch.

pub mod budget;
pub mod calls;
pub mod error;
pub mod genai;
pub mod limits;
pub mod linker;
pub mod otlp;
pub mod pipeline;
pub mod prepare;
pub mod raw;

pub use error::IngestError;
pub use pipeline::{ExportOutcome, Ingest, StoredCalls};

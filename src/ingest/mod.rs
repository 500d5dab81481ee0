//! Ingest: receive, decode and validate telemetry, append it, and derive
//! calls from it behind the acknowledgement.
//!
//! `otlp` holds the receivers and decoders, `pipeline` the one export path
//! the receivers share (validate, append, acknowledge), `derive` the task
//! that turns appended exports into stored records and calls, `genai` the
//! normalization of LLM calls from every GenAI convention, `prepare` the
//! encoding that turns records into a write batch.

pub mod budget;
pub mod calls;
pub mod derive;
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

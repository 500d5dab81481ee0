//! OTLP receivers: protobuf and JSON bodies over HTTP, and gRPC, all turned
//! into the same domain batches by [`convert`] and stored by the one export
//! path in [`crate::ingest::pipeline`].

pub mod body;
pub mod convert;
pub mod grpc;
pub mod grpc_body;
pub mod http;
pub mod json;
pub mod protobuf;
pub mod signal;

/// An export's answer as the ingest metrics count it.
fn metrics_export(
    result: &Result<crate::ingest::ExportOutcome, crate::ingest::IngestError>,
) -> crate::metrics::Export {
    match result {
        Ok(outcome) => crate::metrics::Export::Stored {
            rejected: outcome.rejected,
        },
        Err(error) => crate::metrics::Export::Refused(error.code()),
    }
}

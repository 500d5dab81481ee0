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

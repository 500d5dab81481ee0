//! OTLP receivers: protobuf and JSON bodies over HTTP, and gRPC, all turned
//! into the same domain batches by [`convert`].

pub mod convert;
pub mod json;

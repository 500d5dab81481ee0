//! Provider wire formats, both ways, and the HTTP client that talks to them.
//!
//! [`wire`] reads the providers' own request and response bodies into
//! canonical calls and writes canonical calls back out as request bodies;
//! it sends nothing, so raw-record ingest uses it without an HTTP client.
//! [`translate`] holds what the outbound writers share: [`TargetParams`],
//! [`TranslateError`] and [`rewrite_raw_request`]. [`sse`] is an incremental
//! Server-Sent Events parser and [`client`] sends a body to a
//! [`client::Target`] and measures latency and time to first token.

pub mod client;
pub mod sse;
pub mod translate;
pub mod wire;

pub use client::{ProviderError, ProviderKind, ProviderResponse, Secret, Target};
pub use translate::{TargetParams, TranslateError, rewrite_raw_request};
pub use wire::{
    ParsedRequest, ParsedResponse, RecordedResponse, WireError, WireFormat, fill_call,
    parse_request, parse_response,
};

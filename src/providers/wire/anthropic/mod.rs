//! Anthropic Messages, both ways.
//!
//! In: [`parse_request`] reads a `/v1/messages` request body,
//! [`parse_response`] a `message` body or an error body, and
//! [`AnthropicStream`] the events of a stream (`message_start` …
//! `message_stop`).
//!
//! Out: [`to_anthropic`] writes a canonical call as a Messages request body.

mod request;
mod response;
mod stream;
mod write;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::AnthropicStream;
pub use write::to_anthropic;

//! OpenAI Responses API, in only (replays go out as Chat Completions).
//!
//! [`parse_request`] reads a `/responses` request body, [`parse_response`]
//! a `response` object or an error body, and [`ResponsesStream`] the events
//! of a stream.

mod request;
mod response;
mod stream;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::ResponsesStream;

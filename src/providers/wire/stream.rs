//! The one shape of a stream reader. Every wire format rebuilds, from the
//! events of a stream, the body a non-streamed call would have returned and
//! reads it with its own response parser, so a streamed and a non-streamed
//! answer cannot drift apart. The client feeds events as they arrive;
//! recorded streams go through [`parse_stream`].

use serde_json::Value as Json;

use super::{ParsedResponse, WireError};
use crate::model::CallError;

/// Reassembles the events of one wire format's stream.
pub trait StreamAssembler: Default {
    /// Feeds one event's data. Returns true when it carried model output
    /// (text, reasoning or a tool-call fragment): the moment time to first
    /// token measures, since servers announce a role or a message before
    /// the model has produced anything.
    fn push(&mut self, event: &Json) -> bool;

    /// The error the stream reported, if any.
    fn error(&self) -> Option<&CallError>;

    /// True once the provider's final event arrived.
    fn is_complete(&self) -> bool;

    /// The body the same call would have returned without streaming.
    fn to_body(&self) -> Json;

    /// The format's parser for that body.
    fn parse_body(body: &Json) -> Result<ParsedResponse, WireError>;

    /// The canonical response. An error the stream reported wins over what
    /// the body says; it, or a missing final event, makes the call an error
    /// (see [`ParsedResponse::apply_to`]).
    fn finish(self) -> Result<ParsedResponse, WireError> {
        let mut parsed = Self::parse_body(&self.to_body())?;
        if let Some(error) = self.error() {
            parsed.error = Some(error.clone());
        }
        parsed.complete = self.is_complete();
        Ok(parsed)
    }
}

/// Reads the recorded events of a stream, in order.
pub fn parse_stream<S: StreamAssembler>(events: &[Json]) -> Result<ParsedResponse, WireError> {
    if events.is_empty() {
        return Err(WireError::EmptyStream);
    }
    let mut stream = S::default();
    for event in events {
        stream.push(event);
    }
    stream.finish()
}

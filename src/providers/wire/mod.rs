//! Provider wire formats, both ways.
//!
//! reprise meets the providers' own request and response bodies in two
//! places. Raw exchanges come *in* (`POST /api/v1/calls`, `reprise import`):
//! a request body as it was sent plus the response body, or the list of
//! streamed events, must become the same canonical [`Call`] that an
//! equivalent OTel GenAI span would give. Replays go *out*: a canonical call
//! is translated into a target's request body, sent, and the answer parsed
//! back into canonical messages.
//!
//! One folder per wire format, each cut the same way into `request.rs`,
//! `response.rs`, `stream.rs` and (for the formats replays send) `write.rs`:
//! [`openai_chat`] (Chat Completions, also spoken by llama.cpp, Ollama, vLLM
//! and LiteLLM), [`openai_responses`] (the Responses API, in only) and
//! [`anthropic`] (Messages). Each parses a request into a [`ParsedRequest`]
//! and a response (or a stream of events) into a [`ParsedResponse`]; the
//! stream accumulators rebuild the non-streamed body from the events and hand
//! it to the same parser, so a streamed and a non-streamed answer cannot
//! drift apart. Nothing here sends anything: the HTTP client is
//! [`super::client`].
//!
//! Canonical choices made here, so that every format lands on the same call:
//! system text comes first in `input_messages` as role `system` (and, when
//! the wire format carries it apart from the messages, also in
//! `system_instructions`); each tool result is its own role `tool` message
//! with one `tool_call_response` part; tool-call arguments are parsed JSON
//! when they are JSON; `finish_reasons` keeps the provider's own words while
//! each output message's `finish_reason` uses the OTel words (`stop`,
//! `length`, `tool_call`, `content_filter`, `error`); tool definitions take
//! the OTel shape `{type:"function", name, description, parameters}`; and
//! `tool_choice` takes the flat shape `"auto" | "none" | "required" |
//! {"type":"function","name":…}`.
//!
//! [`Call`]: crate::model::Call

pub mod anthropic;
pub(super) mod common;
mod format;
pub mod openai_chat;
pub mod openai_responses;
mod parsed;
mod stream;

use serde_json::Value as Json;

use crate::model::Call;

pub use format::WireFormat;
pub use parsed::{ParsedRequest, ParsedResponse, RecordedResponse, WireError};
pub use stream::{StreamAssembler, parse_stream};

/// Parses a request body in the given format.
pub fn parse_request(format: WireFormat, request: &Json) -> Result<ParsedRequest, WireError> {
    match format {
        WireFormat::OpenAiChat => openai_chat::parse_request(request),
        WireFormat::OpenAiResponses => openai_responses::parse_request(request),
        WireFormat::Anthropic => anthropic::parse_request(request),
    }
}

/// Parses a recorded response, streamed or not, in the given format.
pub fn parse_response(
    format: WireFormat,
    response: &RecordedResponse,
) -> Result<ParsedResponse, WireError> {
    match (format, response) {
        (WireFormat::OpenAiChat, RecordedResponse::Body(body)) => openai_chat::parse_response(body),
        (WireFormat::OpenAiChat, RecordedResponse::Stream(events)) => {
            parse_stream::<openai_chat::ChatStream>(events)
        }
        (WireFormat::OpenAiResponses, RecordedResponse::Body(body)) => {
            openai_responses::parse_response(body)
        }
        (WireFormat::OpenAiResponses, RecordedResponse::Stream(events)) => {
            parse_stream::<openai_responses::ResponsesStream>(events)
        }
        (WireFormat::Anthropic, RecordedResponse::Body(body)) => anthropic::parse_response(body),
        (WireFormat::Anthropic, RecordedResponse::Stream(events)) => {
            parse_stream::<anthropic::AnthropicStream>(events)
        }
    }
}

/// Fills a call from a raw exchange: the request as sent and, when there was
/// one, the response. Identity, timing and source stay as the caller set
/// them; a recorded stream also marks the call as streamed.
pub fn fill_call(
    call: &mut Call,
    format: WireFormat,
    request: &Json,
    response: Option<&RecordedResponse>,
) -> Result<(), WireError> {
    parse_request(format, request)?.apply_to(call);
    if let Some(response) = response {
        if matches!(response, RecordedResponse::Stream(_)) {
            call.streaming = Some(true);
        }
        parse_response(format, response)?.apply_to(call);
    }
    Ok(())
}

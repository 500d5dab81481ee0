//! Provider wire formats, both ways, and the HTTP client that talks to them.
//!
//! reprise meets the providers' own request and response bodies in two
//! places. Raw exchanges come *in* (`POST /api/v1/calls`, `reprise import`):
//! a request body as it was sent plus the response body, or the list of
//! streamed events, must become the same canonical [`Call`] that an
//! equivalent OTel GenAI span would give. Replays go *out*: a canonical call
//! is translated into a target's request body, sent, and the answer parsed
//! back into canonical messages.
//!
//! One file per wire format holds both directions for that format:
//! [`openai_chat`] (Chat Completions, also spoken by llama.cpp, Ollama, vLLM
//! and LiteLLM), [`openai_responses`] (the Responses API, in only) and
//! [`anthropic`] (Messages). Each parses a request into a [`ParsedRequest`]
//! and a response (or a stream of events) into a [`ParsedResponse`]; the
//! stream accumulators rebuild the non-streamed body from the events and hand
//! it to the same parser, so a streamed and a non-streamed answer cannot
//! drift apart. [`translate`] holds what the outbound translators share:
//! [`TargetParams`], [`TranslateError`] and [`rewrite_raw_request`]. [`sse`]
//! is an incremental Server-Sent Events parser and [`client`] sends a body to
//! a [`client::Target`] and measures latency and time to first token.
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

pub mod anthropic;
pub mod client;
mod common;
pub mod openai_chat;
pub mod openai_responses;
pub mod sse;
pub mod translate;

use serde_json::Value as Json;

use crate::model::{Call, CallError, CallStatus, Message, Part, RequestParams, Usage};

pub use client::{ProviderError, ProviderKind, ProviderResponse, Secret, Target};
pub use translate::{TargetParams, TranslateError, rewrite_raw_request};

/// The provider APIs whose bodies reprise reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// OpenAI Chat Completions (`/chat/completions`) and compatible servers.
    OpenAiChat,
    /// OpenAI Responses API (`/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`/messages`).
    Anthropic,
}

impl WireFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::OpenAiChat => "openai.chat",
            WireFormat::OpenAiResponses => "openai.responses",
            WireFormat::Anthropic => "anthropic.messages",
        }
    }

    /// Accepts the names of [`WireFormat::as_str`] and a few obvious aliases.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "openai.chat" | "openai" | "chat_completions" | "chat.completions" => {
                Some(WireFormat::OpenAiChat)
            }
            "openai.responses" | "responses" => Some(WireFormat::OpenAiResponses),
            "anthropic.messages" | "anthropic" | "messages" => Some(WireFormat::Anthropic),
            _ => None,
        }
    }

    /// Guesses the format of a request body from fields only one API has.
    /// `None` when the body fits more than one (a bare `{model, messages}`
    /// is valid for both OpenAI and Anthropic): ask the user then.
    pub fn detect(request: &Json) -> Option<Self> {
        let object = request.as_object()?;
        if object.contains_key("input") || object.contains_key("instructions") {
            return Some(WireFormat::OpenAiResponses);
        }
        let anthropic_only = ["system", "stop_sequences", "top_k", "thinking"];
        let openai_only = [
            "functions",
            "n",
            "seed",
            "frequency_penalty",
            "presence_penalty",
            "response_format",
            "max_completion_tokens",
            "stream_options",
            "stop",
            "logprobs",
        ];
        let has_any = |keys: &[&str]| keys.iter().any(|key| object.contains_key(*key));
        if has_any(&anthropic_only) {
            return Some(WireFormat::Anthropic);
        }
        if has_any(&openai_only) {
            return Some(WireFormat::OpenAiChat);
        }
        let messages = object.get("messages")?.as_array()?;
        for message in messages {
            if let Some("system" | "developer" | "tool" | "function") =
                message.get("role").and_then(Json::as_str)
            {
                return Some(WireFormat::OpenAiChat);
            }
            if let Some(blocks) = message.get("content").and_then(Json::as_array) {
                for block in blocks {
                    match block.get("type").and_then(Json::as_str) {
                        Some("tool_use" | "tool_result" | "image" | "thinking" | "document") => {
                            return Some(WireFormat::Anthropic);
                        }
                        Some("image_url" | "input_audio") => return Some(WireFormat::OpenAiChat),
                        _ => {}
                    }
                }
            }
            if message.get("tool_calls").is_some() {
                return Some(WireFormat::OpenAiChat);
            }
        }
        None
    }
}

/// A recorded response: the body of a non-streamed answer, or the `data` of
/// each streamed event in order (JSON values; OpenAI's final `[DONE]` may be
/// included as the string `"[DONE]"` or left out).
#[derive(Clone, Debug, PartialEq)]
pub enum RecordedResponse {
    Body(Json),
    Stream(Vec<Json>),
}

/// What a request body says, in canonical terms.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ParsedRequest {
    /// `openai` or `anthropic`: the provider whose format this is.
    pub provider: &'static str,
    pub model: Option<String>,
    /// System text when the format carries it apart from the messages
    /// (Anthropic `system`, Responses `instructions`); it is also the first
    /// input message.
    pub system_instructions: Option<Vec<Part>>,
    pub input_messages: Vec<Message>,
    pub tool_definitions: Option<Vec<Json>>,
    pub params: RequestParams,
    pub streaming: bool,
    pub user_id: Option<String>,
}

impl ParsedRequest {
    /// Copies the request side onto a call, leaving identity and timing alone.
    pub fn apply_to(self, call: &mut Call) {
        call.provider = Some(self.provider.to_owned());
        call.operation = Some("chat".to_owned());
        call.request_model = self.model;
        call.system_instructions = self.system_instructions;
        call.input_messages = Some(self.input_messages);
        call.tool_definitions = self.tool_definitions;
        call.request_params = self.params;
        call.streaming = Some(self.streaming);
        if self.user_id.is_some() {
            call.user_id = self.user_id;
        }
    }
}

/// What a response (or a stream of events) says, in canonical terms.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ParsedResponse {
    /// One message per choice; each carries its OTel `finish_reason`.
    pub output_messages: Vec<Message>,
    /// The provider's own words, one per choice.
    pub finish_reasons: Vec<String>,
    pub usage: Usage,
    pub response_id: Option<String>,
    pub response_model: Option<String>,
    /// Set when the body is an error body or the stream carried an error.
    pub error: Option<CallError>,
    /// False when a stream ended before the provider's final event.
    pub complete: bool,
}

impl ParsedResponse {
    /// Copies the response side onto a call. An error body, or a stream that
    /// stopped before its final event, makes the call an error.
    pub fn apply_to(self, call: &mut Call) {
        if !self.output_messages.is_empty() {
            call.output_messages = Some(self.output_messages);
        }
        if !self.finish_reasons.is_empty() {
            call.finish_reasons = Some(self.finish_reasons);
        }
        call.usage = self.usage;
        call.response_id = self.response_id;
        call.response_model = self.response_model;
        if let Some(error) = self.error {
            call.status = CallStatus::Error;
            call.error = Some(error);
        } else if !self.complete {
            call.status = CallStatus::Error;
            call.error = Some(CallError {
                error_type: Some("incomplete_stream".to_owned()),
                message: Some(
                    "the recorded stream ended before the provider's final event".to_owned(),
                ),
            });
        }
    }
}

/// A body that is not the shape its wire format promises.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    #[error("{what} must be a JSON object, got {found}")]
    NotAnObject {
        what: &'static str,
        found: &'static str,
    },
    #[error(
        "{what} has no `{field}`; send the body exactly as the provider received or returned it"
    )]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    #[error("`{field}` in {what} must be {expected}, got {found}")]
    WrongType {
        what: &'static str,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("the recorded stream holds no events; record every event's data in order")]
    EmptyStream,
}

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
            openai_chat::parse_stream(events)
        }
        (WireFormat::OpenAiResponses, RecordedResponse::Body(body)) => {
            openai_responses::parse_response(body)
        }
        (WireFormat::OpenAiResponses, RecordedResponse::Stream(events)) => {
            openai_responses::parse_stream(events)
        }
        (WireFormat::Anthropic, RecordedResponse::Body(body)) => anthropic::parse_response(body),
        (WireFormat::Anthropic, RecordedResponse::Stream(events)) => {
            anthropic::parse_stream(events)
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

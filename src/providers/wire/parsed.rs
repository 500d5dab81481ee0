//! What the wire parsers hand back: a recorded response as it came, the
//! canonical reading of a request and of a response, and the error for a
//! body that is not the shape its format promises.

use serde_json::Value as Json;

use crate::model::{Call, CallError, CallStatus, Message, Part, RequestParams, Usage};

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

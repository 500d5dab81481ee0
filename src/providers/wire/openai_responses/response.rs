//! Responses responses in: a `response` object or an error body.

use serde_json::{Map, Value as Json};

use super::request::{message_parts, output_item_part};
use crate::model::{CallError, Message, Part};
use crate::providers::wire::common::{
    UsageKeys, as_object, error_from_body, optional_array, otel_finish_reason, string_field,
};
use crate::providers::wire::{ParsedResponse, WireError};

const RESPONSE: &str = "an OpenAI response";

const USAGE: UsageKeys = UsageKeys {
    input: "input_tokens",
    output: "output_tokens",
    input_details: "input_tokens_details",
    output_details: "output_tokens_details",
};

/// Reads a `response` object, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    let error = match object.get("error") {
        Some(Json::Null) | None => None,
        Some(error) => Some(CallError {
            error_type: error
                .get("code")
                .or_else(|| error.get("type"))
                .and_then(Json::as_str)
                .map(str::to_owned),
            message: error
                .get("message")
                .and_then(Json::as_str)
                .map(str::to_owned),
        }),
    };
    if !object.contains_key("output") {
        return Ok(ParsedResponse {
            error: error.or_else(|| error_from_body(body)),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut parts = Vec::new();
    for item in optional_array(object, "output", RESPONSE)? {
        match item.get("type").and_then(Json::as_str) {
            Some("message") => parts.extend(message_parts(item.get("content"))),
            _ => parts.push(output_item_part(item)),
        }
    }
    let provider_word = finish_word(object, &parts);
    let mut message = Message::new("assistant", parts);
    message.finish_reason = Some(otel_finish_reason(&provider_word));
    Ok(ParsedResponse {
        output_messages: vec![message],
        finish_reasons: vec![provider_word],
        usage: USAGE.read(object.get("usage")),
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        error,
        complete: true,
    })
}

/// The Responses API has no finish reason: the status says it, or the
/// reason a response is incomplete; a completed turn that calls tools is a
/// tool call, as Chat Completions would say.
fn finish_word(object: &Map<String, Json>, parts: &[Part]) -> String {
    let status = object
        .get("status")
        .and_then(Json::as_str)
        .unwrap_or("completed");
    let incomplete_reason = object
        .get("incomplete_details")
        .and_then(|details| details.get("reason"))
        .and_then(Json::as_str);
    let calls_tools = parts
        .iter()
        .any(|part| matches!(part, Part::ToolCall { .. }));
    match (status, incomplete_reason) {
        ("incomplete", Some(reason)) => reason.to_owned(),
        ("completed", _) if calls_tools => "tool_calls".to_owned(),
        (status, _) => status.to_owned(),
    }
}

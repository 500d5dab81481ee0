//! Chat Completions responses in: a `chat.completion` body or an error body.

use serde_json::{Map, Value as Json};

use super::request::{MESSAGE, parse_assistant_parts};
use crate::model::Message;
use crate::providers::wire::common::{
    UsageKeys, as_object, error_from_body, otel_finish_reason, required_array, string_field,
};
use crate::providers::wire::{ParsedResponse, WireError};

const RESPONSE: &str = "an OpenAI chat response";

const USAGE: UsageKeys = UsageKeys {
    input: "prompt_tokens",
    output: "completion_tokens",
    input_details: "prompt_tokens_details",
    output_details: "completion_tokens_details",
};

/// Reads a `chat.completion` body, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    if !object.contains_key("choices")
        && let Some(error) = error_from_body(body)
    {
        return Ok(ParsedResponse {
            error: Some(error),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut choices: Vec<&Json> = required_array(object, "choices", RESPONSE)?
        .iter()
        .collect();
    choices.sort_by_key(|choice| choice.get("index").and_then(Json::as_u64).unwrap_or(0));
    let mut parsed = ParsedResponse {
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        usage: USAGE.read(object.get("usage")),
        complete: true,
        ..ParsedResponse::default()
    };
    for choice in choices {
        let message = match choice.get("message") {
            Some(message) => as_object(message, MESSAGE)?,
            None => &Map::new(),
        };
        let role = string_field(message, "role").unwrap_or_else(|| "assistant".to_owned());
        let mut output = Message::new(role, parse_assistant_parts(message)?);
        if let Some(reason) = choice.get("finish_reason").and_then(Json::as_str) {
            output.finish_reason = Some(otel_finish_reason(reason));
            parsed.finish_reasons.push(reason.to_owned());
        }
        parsed.output_messages.push(output);
    }
    Ok(parsed)
}

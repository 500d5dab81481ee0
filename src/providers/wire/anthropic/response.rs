//! Messages responses in: a `message` body or an error body.

use serde_json::Value as Json;

use super::request::parse_block;
use crate::model::{Message, Usage};
use crate::providers::wire::common::{
    as_object, error_from_body, otel_finish_reason, required_array, string_field, token_count,
};
use crate::providers::wire::{ParsedResponse, WireError};

const RESPONSE: &str = "an Anthropic messages response";

/// Reads a `message` body, or an error body.
pub fn parse_response(body: &Json) -> Result<ParsedResponse, WireError> {
    let object = as_object(body, RESPONSE)?;
    if object.get("type").and_then(Json::as_str) == Some("error")
        || !object.contains_key("content") && object.contains_key("error")
    {
        return Ok(ParsedResponse {
            error: error_from_body(body),
            complete: true,
            ..ParsedResponse::default()
        });
    }
    let mut parts = Vec::new();
    for block in required_array(object, "content", RESPONSE)? {
        parts.push(parse_block(block));
    }
    let role = string_field(object, "role").unwrap_or_else(|| "assistant".to_owned());
    let mut message = Message::new(role, parts);
    let mut finish_reasons = Vec::new();
    if let Some(reason) = object.get("stop_reason").and_then(Json::as_str) {
        message.finish_reason = Some(otel_finish_reason(reason));
        finish_reasons.push(reason.to_owned());
    }
    Ok(ParsedResponse {
        output_messages: vec![message],
        finish_reasons,
        usage: parse_usage(object.get("usage")),
        response_id: string_field(object, "id"),
        response_model: string_field(object, "model"),
        error: None,
        complete: true,
    })
}

/// Anthropic counts input tokens without the cache; the canonical count
/// includes cache reads and writes.
fn parse_usage(usage: Option<&Json>) -> Usage {
    let uncached = token_count(usage, "input_tokens");
    let cache_read = token_count(usage, "cache_read_input_tokens");
    let cache_write = token_count(usage, "cache_creation_input_tokens");
    let input_tokens = match (uncached, cache_read, cache_write) {
        (None, None, None) => None,
        (a, b, c) => Some(a.unwrap_or(0) + b.unwrap_or(0) + c.unwrap_or(0)),
    };
    Usage {
        input_tokens,
        output_tokens: token_count(usage, "output_tokens"),
        cached_input_tokens: cache_read,
        reasoning_tokens: None,
    }
}

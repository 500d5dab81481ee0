//! OpenInference (Arize / Phoenix; genai-conventions.md §3): every span
//! says what it is in `openinference.span.kind`, and only `LLM` spans are
//! model calls. Messages are flattened under `llm.input_messages.{i}.message.*`
//! and `llm.output_messages.{i}.message.*`; the raw request and response
//! bodies are in `input.value` / `output.value`, the request parameters in
//! the JSON string `llm.invocation_parameters`.

use serde_json::{Map, Value as Json};

use super::attrs::{
    AttrReader, field, field_str, group_by_index, json_str, parse_json, sub_entries,
};
use super::common::{self, set_if_none};
use super::messages;
use crate::model::{Call, Message, Part, Span, Value};

/// OpenInference semantic conventions
/// (<https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md>;
/// genai-conventions.md §3).
pub(crate) mod keys {
    pub const SPAN_KIND: &str = "openinference.span.kind";
    /// Hosting provider (`openai`, `anthropic`, `azure`, …).
    pub const PROVIDER: &str = "llm.provider";
    /// Model family; the provider when `llm.provider` is absent.
    pub const SYSTEM: &str = "llm.system";
    /// The response model when there is one, else what was requested.
    pub const MODEL_NAME: &str = "llm.model_name";
    pub const REQUEST_MODEL_NAME: &str = "llm.request.model_name";
    pub const RESPONSE_MODEL_NAME: &str = "llm.response.model_name";
    pub const INVOCATION_PARAMETERS: &str = "llm.invocation_parameters";
    pub const INPUT_VALUE: &str = "input.value";
    pub const INPUT_MIME_TYPE: &str = "input.mime_type";
    pub const OUTPUT_VALUE: &str = "output.value";
    pub const OUTPUT_MIME_TYPE: &str = "output.mime_type";
    pub const INPUT_MESSAGES_PREFIX: &str = "llm.input_messages.";
    pub const OUTPUT_MESSAGES_PREFIX: &str = "llm.output_messages.";
    pub const FINISH_REASON: &str = "llm.finish_reason";
    /// `llm.tools.{i}.tool.json_schema`, a JSON string per tool.
    pub const TOOLS_PREFIX: &str = "llm.tools.";
    pub const TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
    pub const TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
    pub const TOKEN_COUNT_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
    pub const TOKEN_COUNT_REASONING: &str = "llm.token_count.completion_details.reasoning";
    /// Prompts of the text-completion API.
    pub const PROMPTS: &str = "llm.prompts";
    pub const TAGS: &str = "tag.tags";
    /// Span event whose time is the first streamed token.
    pub const FIRST_TOKEN_EVENT: &str = "First Token Stream Event";
}

pub(crate) const LLM_SPAN_KIND: &str = "LLM";

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, span: &Span) {
    reader.mark(keys::SPAN_KIND);
    let provider = reader
        .take_str(keys::PROVIDER)
        .or_else(|| reader.take_str(keys::SYSTEM));
    call.provider = provider.and_then(|p| common::normalize_provider(&p));
    call.operation = Some(if reader.has(keys::PROMPTS) {
        "text_completion".to_owned()
    } else {
        "chat".to_owned()
    });
    let invocation = object(reader.take_json(keys::INVOCATION_PARAMETERS));
    let request_body = object(body_json(reader, keys::INPUT_VALUE, keys::INPUT_MIME_TYPE));
    let response_body = object(body_json(
        reader,
        keys::OUTPUT_VALUE,
        keys::OUTPUT_MIME_TYPE,
    ));
    fill_models(call, reader, &invocation, &request_body, &response_body);
    call.response_id = response_body.as_ref().and_then(|b| json_str(b, "id"));
    call.input_messages = flattened_messages(reader, keys::INPUT_MESSAGES_PREFIX, "user");
    call.output_messages = flattened_messages(reader, keys::OUTPUT_MESSAGES_PREFIX, "assistant");
    call.tool_definitions = tools(reader);
    fill_usage(call, reader);
    if let Some(reason) = reader.take_str(keys::FINISH_REASON) {
        if let Some(first) = call.output_messages.as_mut().and_then(|m| m.first_mut()) {
            set_if_none(&mut first.finish_reason, Some(reason.clone()));
        }
        call.finish_reasons = Some(vec![reason]);
    }
    if let Some(invocation) = invocation.as_ref() {
        common::params_from_object(call, invocation, INVOCATION_SETTINGS_PREFIX);
    }
    fill_streaming(call, span, &invocation, &request_body);
    call.session_id = reader.take_str(common::keys::SESSION_ID);
    call.user_id = reader.take_str(common::keys::USER_ID);
    call.tags = reader.take_str_list(keys::TAGS).unwrap_or_default();
}

/// Where the client settings found among the invocation parameters go in
/// the call's attributes (`llm.invocation_parameters.max_retries`).
const INVOCATION_SETTINGS_PREFIX: &str = "llm.invocation_parameters.";

fn object(json: Option<Json>) -> Option<Map<String, Json>> {
    match json? {
        Json::Object(map) => Some(map),
        _ => None,
    }
}

/// A raw request or response body; it is content, so it is marked used
/// whether or not it parses (the span keeps it).
fn body_json(reader: &mut AttrReader<'_>, value_key: &str, mime_key: &str) -> Option<Json> {
    let json = reader
        .peek(value_key)
        .and_then(Value::as_str)
        .and_then(parse_json);
    reader.mark(value_key);
    reader.mark(mime_key);
    json
}

fn fill_models(
    call: &mut Call,
    reader: &mut AttrReader<'_>,
    invocation: &Option<Map<String, Json>>,
    request_body: &Option<Map<String, Json>>,
    response_body: &Option<Map<String, Json>>,
) {
    let explicit_request = reader.take_str(keys::REQUEST_MODEL_NAME);
    let has_explicit_request = explicit_request.is_some();
    let model_name = reader.take_str(keys::MODEL_NAME);
    call.request_model = explicit_request
        .or_else(|| invocation.as_ref().and_then(|i| json_str(i, "model")))
        .or_else(|| request_body.as_ref().and_then(|b| json_str(b, "model")))
        .or_else(|| model_name.clone());
    // Instrumentations that write the request model separately also write
    // it into `llm.model_name` when no response came back, so there that
    // key is not evidence of a response model.
    let fallback = if has_explicit_request {
        None
    } else {
        model_name
    };
    call.response_model = reader
        .take_str(keys::RESPONSE_MODEL_NAME)
        .or_else(|| response_body.as_ref().and_then(|b| json_str(b, "model")))
        .or(fallback);
}

fn fill_usage(call: &mut Call, reader: &mut AttrReader<'_>) {
    call.usage.input_tokens = reader.take_i64(keys::TOKEN_COUNT_PROMPT);
    call.usage.output_tokens = reader.take_i64(keys::TOKEN_COUNT_COMPLETION);
    call.usage.cached_input_tokens = reader.take_i64(keys::TOKEN_COUNT_CACHE_READ);
    call.usage.reasoning_tokens = reader.take_i64(keys::TOKEN_COUNT_REASONING);
}

/// `stream` in the invocation parameters (or the raw request); the
/// invocation parameters are the request's own arguments, so without
/// `stream` the request was not streamed. The first-token event's time is
/// the time to first token.
fn fill_streaming(
    call: &mut Call,
    span: &Span,
    invocation: &Option<Map<String, Json>>,
    request_body: &Option<Map<String, Json>>,
) {
    let first_token = span
        .events
        .iter()
        .find(|e| e.name == keys::FIRST_TOKEN_EVENT);
    if let Some(event) = first_token {
        call.ttft_ms = common::ms_since_start(span, event.time_unix_nano);
    }
    let flag = invocation
        .as_ref()
        .and_then(|i| i.get("stream"))
        .or_else(|| request_body.as_ref().and_then(|b| b.get("stream")))
        .and_then(Json::as_bool);
    call.streaming = match (flag, first_token, invocation) {
        (Some(flag), _, _) => Some(flag),
        (None, Some(_), _) => Some(true),
        (None, None, Some(_)) => Some(false),
        (None, None, None) => None,
    };
}

/// `prefix{i}.message.*` into messages.
fn flattened_messages(
    reader: &mut AttrReader<'_>,
    prefix: &str,
    default_role: &str,
) -> Option<Vec<Message>> {
    let entries = reader.take_indexed(prefix);
    if entries.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for fields in group_by_index(entries).into_values() {
        out.push(message(&sub_entries(&fields, "message."), default_role));
    }
    Some(out)
}

fn message(fields: &[(&str, &Value)], default_role: &str) -> Message {
    let role = field_str(fields, "role").unwrap_or_else(|| default_role.to_owned());
    let tool_call_id = field_str(fields, "tool_call_id");
    let content = field(fields, "content").and_then(Value::as_str);
    let mut parts = Vec::new();
    if role == "tool" || tool_call_id.is_some() {
        if content.is_some() || tool_call_id.is_some() {
            parts.push(Part::ToolCallResponse {
                id: tool_call_id,
                response: content.map_or(Json::Null, |c| Json::String(c.to_owned())),
            });
        }
    } else if let Some(content) = content {
        parts.extend(messages::text_parts(content));
    }
    let mut content_tool_calls = Vec::new();
    for entry in group_by_index(sub_entries(fields, "contents.")).into_values() {
        match content_part(&entry) {
            Some(call @ Part::ToolCall { .. }) => content_tool_calls.push(call),
            Some(part) => parts.push(part),
            None => {}
        }
    }
    for entry in group_by_index(sub_entries(fields, "tool_calls.")).into_values() {
        parts.extend(tool_call(&sub_entries(&entry, "tool_call.")));
    }
    // The Anthropic instrumentation records each tool call twice: in
    // `tool_calls` and as a `tool_use` content; keep one.
    for call in content_tool_calls {
        let duplicate = match &call {
            Part::ToolCall { id: Some(id), .. } => parts
                .iter()
                .any(|p| matches!(p, Part::ToolCall { id: Some(other), .. } if other == id)),
            _ => false,
        };
        if !duplicate {
            parts.push(call);
        }
    }
    let mut message = Message::new(role, parts);
    message.name = field_str(fields, "name");
    message
}

/// `contents.{j}.message_content.*` (text, image) or `contents.{j}.tool_call.*`.
fn content_part(entry: &[(&str, &Value)]) -> Option<Part> {
    let tool = sub_entries(entry, "tool_call.");
    if !tool.is_empty() {
        return tool_call(&tool);
    }
    let content = sub_entries(entry, "message_content.");
    let kind = field_str(&content, "type");
    match kind.as_deref() {
        Some("text") | None => field(&content, "text")
            .and_then(Value::as_str)
            .and_then(|text| messages::text_parts(text).pop()),
        Some("image") => field_str(&content, "image.image.url")
            .map(|url| messages::uri_or_blob(&url, "image", None)),
        Some(other) => {
            let mut part = Map::new();
            part.insert("type".into(), other.into());
            for (key, value) in &content {
                if *key != "type" {
                    part.insert((*key).to_owned(), value.to_plain_json());
                }
            }
            Some(Part::Other(part))
        }
    }
}

fn tool_call(fields: &[(&str, &Value)]) -> Option<Part> {
    let name = field_str(fields, "function.name")?;
    Some(Part::ToolCall {
        id: field_str(fields, "id"),
        name,
        arguments: messages::tool_arguments(
            field(fields, "function.arguments")
                .map(Value::to_plain_json)
                .as_ref(),
        ),
    })
}

/// `llm.tools.{i}.tool.json_schema`: one JSON string per tool, in the
/// provider's own shape.
fn tools(reader: &mut AttrReader<'_>) -> Option<Vec<Json>> {
    let entries = reader.take_indexed(keys::TOOLS_PREFIX);
    if entries.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for fields in group_by_index(entries).into_values() {
        let schema = field(&fields, "tool.json_schema").and_then(super::attrs::value_to_json);
        if let Some(schema) = schema {
            out.push(messages::tool_definition(schema));
        }
    }
    Some(out)
}

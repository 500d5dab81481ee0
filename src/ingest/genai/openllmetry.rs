//! OpenLLMetry / Traceloop (`opentelemetry-instrumentation-openai`,
//! `-anthropic`, …; genai-conventions.md §2).
//!
//! Two forms are in the wild. The classic one (≤ ~0.4x) flattens content
//! into indexed attributes (`gen_ai.prompt.0.role`, `gen_ai.prompt.0.content`,
//! `gen_ai.completion.0.tool_calls.1.name`, …) and names the operation in
//! `llm.request.type`. The current one (0.5x+) writes OTel 1.37 content
//! attributes, with a few keys of its own (`gen_ai.is_streaming`, per-chunk
//! span events). Both are read here on top of [`super::otel`]. In event mode
//! the instrumentation emits the 1.28–1.36 per-message events instead of
//! content attributes; those are handled by [`super::events`].

use serde_json::Value as Json;

use super::attrs::{AttrReader, field, field_str, group_by_index, parse_json, sub_entries};
use super::common::{self, set_if_none};
use super::messages;
use super::otel;
use crate::model::{Call, Message, Part, Scope, Span, Value};

/// OpenLLMetry's own attribute keys (`opentelemetry-semantic-conventions-ai`,
/// `SpanAttributes`; genai-conventions.md §2.1–§2.3).
pub(crate) mod keys {
    /// `chat` / `completion` / `embedding` / `rerank` (classic form).
    pub const LLM_REQUEST_TYPE: &str = "llm.request.type";
    /// Flattened input messages: `gen_ai.prompt.{i}.role/content/tool_calls.{j}.*/tool_call_id`.
    pub const PROMPT_PREFIX: &str = "gen_ai.prompt.";
    /// Flattened choices: `gen_ai.completion.{i}.role/content/finish_reason/tool_calls.{j}.*`.
    pub const COMPLETION_PREFIX: &str = "gen_ai.completion.";
    /// Flattened tool definitions: `llm.request.functions.{i}.name/description/parameters`.
    pub const REQUEST_FUNCTIONS_PREFIX: &str = "llm.request.functions.";
    pub const IS_STREAMING_CLASSIC: &str = "llm.is_streaming";
    pub const IS_STREAMING: &str = "gen_ai.is_streaming";
    pub const FREQUENCY_PENALTY: &str = "llm.frequency_penalty";
    pub const PRESENCE_PENALTY: &str = "llm.presence_penalty";
    pub const TOP_K: &str = "llm.top_k";
    pub const STOP_SEQUENCES: &str = "llm.chat.stop_sequences";
    /// The OpenAI `user` request parameter.
    pub const USER: &str = "llm.user";
    pub const USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read_input_tokens";
    pub const USAGE_REASONING_TOKENS_CLASSIC: &str = "llm.usage.reasoning_tokens";
    pub const USAGE_REASONING_TOKENS: &str = "gen_ai.usage.reasoning_tokens";
    pub const RESPONSE_FINISH_REASON: &str = "llm.response.finish_reason";
    pub const RESPONSE_STOP_REASON: &str = "llm.response.stop_reason";
    /// Traceloop SDK association properties: `traceloop.association.properties.<key>`.
    pub const ASSOCIATION_PREFIX: &str = "traceloop.association.properties.";
    pub const TRACELOOP_PREFIX: &str = "traceloop.";
    /// Span events, one per streamed chunk, without attributes.
    pub const CHUNK_EVENT: &str = "gen_ai.content.completion.chunk";
    pub const CHUNK_EVENT_CLASSIC: &str = "llm.content.completion.chunk";
}

/// Scope names of the instrumentations (`opentelemetry.instrumentation.openai.v1`, …).
const SCOPE_PREFIX: &str = "opentelemetry.instrumentation.";

/// Association-property keys that name the session or the user.
const SESSION_KEYS: [&str; 4] = ["session_id", "sessionId", "conversation_id", "thread_id"];
const USER_KEYS: [&str; 2] = ["user_id", "userId"];

pub(crate) fn is_inference_request_type(request_type: Option<&str>) -> bool {
    matches!(request_type, Some("chat" | "completion"))
}

/// Whether an OTel-looking span was written by OpenLLMetry: one of its own
/// keys, or its span naming (`anthropic.chat`, `openai.completion`) under an
/// `opentelemetry.instrumentation.*` scope.
pub(crate) fn owns(scope: &Scope, span: &Span) -> bool {
    let attributes = &span.attributes;
    let own_key = [
        keys::LLM_REQUEST_TYPE,
        keys::IS_STREAMING,
        keys::IS_STREAMING_CLASSIC,
    ]
    .iter()
    .any(|key| attributes.get(key).is_some());
    let flattened = attributes.iter().any(|kv| {
        let after_prefix = kv
            .key
            .strip_prefix(keys::PROMPT_PREFIX)
            .or_else(|| kv.key.strip_prefix(keys::COMPLETION_PREFIX));
        after_prefix.is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    let traceloop = attributes
        .iter()
        .any(|kv| kv.key.starts_with(keys::TRACELOOP_PREFIX));
    let named = scope.name.starts_with(SCOPE_PREFIX)
        && !span.name.contains(' ')
        && span.name.split('.').count() == 2;
    own_key || flattened || traceloop || named
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, scope: &Scope, span: &Span) {
    fill_operation(call, reader);
    otel::fill_span(call, reader, scope, span);
    fill_usage(call, reader);
    fill_params(call, reader);
    if call.input_messages.is_none() {
        call.input_messages = flattened_messages(reader, keys::PROMPT_PREFIX, Direction::Input);
    }
    if call.output_messages.is_none() {
        call.output_messages =
            flattened_messages(reader, keys::COMPLETION_PREFIX, Direction::Output);
    }
    if call.tool_definitions.is_none() {
        call.tool_definitions = flattened_functions(reader);
    }
    fill_finish_reason(call, reader);
    fill_streaming(call, reader, span);
    fill_association(call, reader);
}

/// `llm.request.type`: `completion` is also what the 0.47 Anthropic
/// instrumentation writes for Messages API calls, so with role-tagged
/// prompts it is a chat.
fn fill_operation(call: &mut Call, reader: &mut AttrReader<'_>) {
    let Some(request_type) = reader.take_str(keys::LLM_REQUEST_TYPE) else {
        return;
    };
    let operation = match request_type.as_str() {
        "completion" => {
            let first_role = format!("{}0.role", keys::PROMPT_PREFIX);
            let has_roles = reader.peek(&first_role).is_some();
            if has_roles { "chat" } else { "text_completion" }
        }
        other => other,
    };
    set_if_none(&mut call.operation, Some(operation.to_owned()));
}

fn fill_usage(call: &mut Call, reader: &mut AttrReader<'_>) {
    set_if_none(
        &mut call.usage.cached_input_tokens,
        reader.take_i64(keys::USAGE_CACHE_READ_INPUT_TOKENS),
    );
    let reasoning = reader
        .take_i64(keys::USAGE_REASONING_TOKENS)
        .or_else(|| reader.take_i64(keys::USAGE_REASONING_TOKENS_CLASSIC));
    set_if_none(&mut call.usage.reasoning_tokens, reasoning);
}

fn fill_params(call: &mut Call, reader: &mut AttrReader<'_>) {
    let params = &mut call.request_params;
    set_if_none(
        &mut params.frequency_penalty,
        reader.take_f64(keys::FREQUENCY_PENALTY),
    );
    set_if_none(
        &mut params.presence_penalty,
        reader.take_f64(keys::PRESENCE_PENALTY),
    );
    set_if_none(&mut params.top_k, reader.take_f64(keys::TOP_K));
    set_if_none(
        &mut params.stop_sequences,
        reader.take_str_list(keys::STOP_SEQUENCES),
    );
    if let Some(user) = reader.take_str(keys::USER) {
        common::insert_extra(call, "user", Json::String(user));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

/// Messages from `prefix{i}.*` attributes. Prompt content that is a
/// serialized block list (the provider's content when it was not a plain
/// string) is parsed into parts; completion content is the answer text.
fn flattened_messages(
    reader: &mut AttrReader<'_>,
    prefix: &str,
    direction: Direction,
) -> Option<Vec<Message>> {
    let entries = reader.take_indexed(prefix);
    if entries.is_empty() {
        return None;
    }
    let default_role = match direction {
        Direction::Input => "user",
        Direction::Output => "assistant",
    };
    let mut out = Vec::new();
    for fields in group_by_index(entries).into_values() {
        let role = field_str(&fields, "role").unwrap_or_else(|| default_role.to_owned());
        let tool_call_id = field_str(&fields, "tool_call_id");
        let content = field(&fields, "content").and_then(Value::as_str);
        let mut parts = Vec::new();
        if role == "tool" || tool_call_id.is_some() {
            if content.is_some() || tool_call_id.is_some() {
                parts.push(Part::ToolCallResponse {
                    id: tool_call_id,
                    response: content.map_or(Json::Null, |c| Json::String(c.to_owned())),
                });
            }
        } else if let Some(content) = content {
            match direction {
                Direction::Input => parts.extend(messages::string_or_serialized_blocks(content)),
                Direction::Output => parts.extend(messages::text_parts(content)),
            }
        }
        parts.extend(flattened_tool_calls(&sub_entries(&fields, "tool_calls.")));
        let function_call = sub_entries(&fields, "function_call.");
        if let Some(name) = field_str(&function_call, "name") {
            parts.push(Part::ToolCall {
                id: None,
                name,
                arguments: messages::tool_arguments(
                    field(&function_call, "arguments")
                        .map(Value::to_plain_json)
                        .as_ref(),
                ),
            });
        }
        let mut message = Message::new(role, parts);
        message.finish_reason = field_str(&fields, "finish_reason");
        out.push(message);
    }
    Some(out)
}

fn flattened_tool_calls(entries: &[(&str, &Value)]) -> Vec<Part> {
    let mut out = Vec::new();
    for fields in group_by_index(entries.iter().copied()).into_values() {
        let Some(name) = field_str(&fields, "name") else {
            continue;
        };
        out.push(Part::ToolCall {
            id: field_str(&fields, "id"),
            name,
            arguments: messages::tool_arguments(
                field(&fields, "arguments")
                    .map(Value::to_plain_json)
                    .as_ref(),
            ),
        });
    }
    out
}

/// `llm.request.functions.{i}.name/description/parameters` (OpenAI) or
/// `.input_schema` (Anthropic); schemas are JSON strings.
fn flattened_functions(reader: &mut AttrReader<'_>) -> Option<Vec<Json>> {
    let entries = reader.take_indexed(keys::REQUEST_FUNCTIONS_PREFIX);
    if entries.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for fields in group_by_index(entries).into_values() {
        let mut definition = serde_json::Map::new();
        for (name, value) in fields {
            let json = match value {
                Value::String(text) if name != "name" && name != "description" => {
                    parse_json(text).unwrap_or_else(|| Json::String(text.clone()))
                }
                other => other.to_plain_json(),
            };
            definition.insert(name.to_owned(), json);
        }
        out.push(messages::tool_definition(Json::Object(definition)));
    }
    Some(out)
}

fn fill_finish_reason(call: &mut Call, reader: &mut AttrReader<'_>) {
    let from_messages = call
        .output_messages
        .as_ref()
        .is_some_and(|outputs| outputs.iter().any(|m| m.finish_reason.is_some()));
    if call.finish_reasons.is_some() || from_messages {
        return;
    }
    let reason = reader
        .take_str(keys::RESPONSE_FINISH_REASON)
        .or_else(|| reader.take_str(keys::RESPONSE_STOP_REASON));
    call.finish_reasons = reason.map(|r| vec![r]);
}

/// OpenLLMetry marks streamed calls (`is_streaming`, chunk events); a call
/// with neither was not streamed. The first chunk event is the first token.
fn fill_streaming(call: &mut Call, reader: &mut AttrReader<'_>, span: &Span) {
    let flag = reader
        .take_bool(keys::IS_STREAMING)
        .or_else(|| reader.take_bool(keys::IS_STREAMING_CLASSIC));
    let first_chunk = span
        .events
        .iter()
        .find(|e| e.name == keys::CHUNK_EVENT || e.name == keys::CHUNK_EVENT_CLASSIC);
    if let Some(chunk) = first_chunk {
        set_if_none(
            &mut call.ttft_ms,
            common::ms_since_start(span, chunk.time_unix_nano),
        );
    }
    let streamed = flag.unwrap_or(first_chunk.is_some());
    set_if_none(&mut call.streaming, Some(streamed));
}

fn fill_association(call: &mut Call, reader: &mut AttrReader<'_>) {
    for key in SESSION_KEYS {
        if call.session_id.is_none() {
            call.session_id = reader.take_str(&format!("{}{key}", keys::ASSOCIATION_PREFIX));
        }
    }
    for key in USER_KEYS {
        if call.user_id.is_none() {
            call.user_id = reader.take_str(&format!("{}{key}", keys::ASSOCIATION_PREFIX));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{resource, scope, span};
    use super::super::{apply_events, call_from_span, genai_event};
    use crate::model::{KeyValue, LogRecord, Message, Part, Value};

    const SCOPE: &str = "opentelemetry.instrumentation.openai.v1";

    fn record(name: &str, body: serde_json::Value, offset: u64) -> LogRecord {
        let span = span("openai.chat", json!({}));
        LogRecord {
            time_unix_nano: super::super::test_support::START + offset,
            event_name: name.to_owned(),
            body: Some(Value::from_plain_json(&body)),
            attributes: [KeyValue::new(
                "gen_ai.system",
                Value::String("openai".into()),
            )]
            .into_iter()
            .collect(),
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            ..LogRecord::default()
        }
    }

    /// Event mode (`use_legacy_attributes=False`): no `gen_ai.prompt.*` on
    /// the span; the content comes as 1.28–1.36 events (genai-conventions.md §2.1).
    #[test]
    fn event_mode_takes_content_from_log_records() {
        let span = span(
            "openai.chat",
            json!({
                "llm.request.type": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.prompt_tokens": 9,
                "gen_ai.usage.completion_tokens": 2,
                "traceloop.association.properties.session_id": "s-9",
                "traceloop.association.properties.user_id": "u-9",
            }),
        );
        let mut call = call_from_span(&resource(), &scope(SCOPE), &span).expect("an LLM call");
        assert_eq!(call.input_messages, None);
        let records = [
            record("gen_ai.system.message", json!({"content": "Be brief."}), 1),
            record("gen_ai.user.message", json!({"content": "Hi"}), 2),
            record(
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": "Hello."}}),
                3,
            ),
        ];
        let events: Vec<_> = records
            .iter()
            .filter_map(|r| genai_event(&resource(), &scope(SCOPE), r))
            .collect();
        assert_eq!(events.len(), 3);
        apply_events(&mut call, &events);
        assert_eq!(
            call.input_messages,
            Some(vec![
                Message::text("system", "Be brief."),
                Message::text("user", "Hi")
            ])
        );
        assert_eq!(call.output_text().as_deref(), Some("Hello."));
        assert_eq!(call.finish_reasons, Some(vec!["stop".to_owned()]));
        assert_eq!(call.usage.input_tokens, Some(9));
        assert_eq!(call.streaming, Some(false));
        assert_eq!(call.session_id.as_deref(), Some("s-9"));
        assert_eq!(call.user_id.as_deref(), Some("u-9"));
    }

    /// Legacy function calling and a classic text completion.
    #[test]
    fn classic_function_call_and_text_completion() {
        let span = span(
            "openai.completion",
            json!({
                "llm.request.type": "completion",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-3.5-turbo-instruct",
                "gen_ai.prompt.0.content": "Say hi",
                "gen_ai.completion.0.function_call.name": "greet",
                "gen_ai.completion.0.function_call.arguments": "{\"who\": \"you\"}",
                "llm.is_streaming": false,
            }),
        );
        let call = call_from_span(&resource(), &scope(SCOPE), &span).expect("an LLM call");
        assert_eq!(call.operation.as_deref(), Some("text_completion"));
        assert_eq!(
            call.input_messages,
            Some(vec![Message::text("user", "Say hi")])
        );
        let outputs = call.output_messages.expect("outputs");
        assert_eq!(
            outputs[0].parts,
            vec![Part::ToolCall {
                id: None,
                name: "greet".into(),
                arguments: json!({"who": "you"}),
            }]
        );
    }

    #[test]
    fn embedding_and_rerank_requests_are_not_llm_calls() {
        for request_type in ["embedding", "rerank"] {
            let span = span(
                "openai.embeddings",
                json!({"llm.request.type": request_type, "gen_ai.system": "openai",
                       "gen_ai.request.model": "text-embedding-3-small"}),
            );
            assert_eq!(call_from_span(&resource(), &scope(SCOPE), &span), None);
        }
    }
}

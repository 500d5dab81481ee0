//! The Vercel AI SDK (`ai` npm package, documented from ai 6.0.x;
//! genai-conventions.md §4.4). A call such as `generateText` makes a
//! wrapper span (`ai.generateText`) and one `ai.generateText.doGenerate` /
//! `ai.streamText.doStream` span per provider request; only the latter are
//! LLM calls. Content and usage are in `ai.*` attributes, with some OTel
//! ≤1.36 `gen_ai.*` attributes alongside, read as gaps are left.

use serde_json::{Map, Value as Json};

use super::attrs::{AttrReader, json_str, parse_json};
use super::common::{self, set_if_none};
use super::messages;
use super::otel;
use crate::model::{Call, Message, Part, Span, Value, canonical_tool_choice};

/// The AI SDK's attribute keys (ai/core telemetry; genai-conventions.md §4.4).
pub(crate) mod keys {
    pub const OPERATION_ID: &str = "ai.operationId";
    pub const MODEL_ID: &str = "ai.model.id";
    /// The SDK's provider id, e.g. `openai.chat`, `anthropic.messages`.
    pub const MODEL_PROVIDER: &str = "ai.model.provider";
    pub const PROMPT_MESSAGES: &str = "ai.prompt.messages";
    pub const PROMPT_TOOLS: &str = "ai.prompt.tools";
    pub const PROMPT_TOOL_CHOICE: &str = "ai.prompt.toolChoice";
    pub const RESPONSE_TEXT: &str = "ai.response.text";
    pub const RESPONSE_OBJECT: &str = "ai.response.object";
    pub const RESPONSE_TOOL_CALLS: &str = "ai.response.toolCalls";
    pub const RESPONSE_FINISH_REASON: &str = "ai.response.finishReason";
    pub const RESPONSE_ID: &str = "ai.response.id";
    pub const RESPONSE_MODEL: &str = "ai.response.model";
    pub const RESPONSE_MS_TO_FIRST_CHUNK: &str = "ai.response.msToFirstChunk";
    pub const USAGE_INPUT_TOKENS: &str = "ai.usage.inputTokens";
    pub const USAGE_OUTPUT_TOKENS: &str = "ai.usage.outputTokens";
    /// v4 names of the token counts.
    pub const USAGE_PROMPT_TOKENS: &str = "ai.usage.promptTokens";
    pub const USAGE_COMPLETION_TOKENS: &str = "ai.usage.completionTokens";
    pub const USAGE_CACHED_INPUT_TOKENS: &str = "ai.usage.cachedInputTokens";
    pub const USAGE_REASONING_TOKENS: &str = "ai.usage.reasoningTokens";
    pub const SETTINGS_PREFIX: &str = "ai.settings.";
    pub const METADATA_PREFIX: &str = "ai.telemetry.metadata.";
    /// Span event of streamed calls, with `ai.response.msToFirstChunk`.
    pub const STREAM_FIRST_CHUNK_EVENT: &str = "ai.stream.firstChunk";
}

/// The spans that are one provider request each.
const MODEL_CALL_OPERATIONS: [&str; 4] = [
    "ai.generateText.doGenerate",
    "ai.streamText.doStream",
    "ai.generateObject.doGenerate",
    "ai.streamObject.doStream",
];

const SESSION_KEYS: [&str; 2] = ["sessionId", "session_id"];
const USER_KEYS: [&str; 2] = ["userId", "user_id"];

fn operation_id(span: &Span) -> &str {
    span.attributes
        .str(keys::OPERATION_ID)
        .unwrap_or(span.name.as_str())
}

pub(crate) fn is_model_call(span: &Span) -> bool {
    MODEL_CALL_OPERATIONS.contains(&operation_id(span))
}

/// The SDK's other spans (`ai.generateText`, `ai.toolCall`, …).
pub(crate) fn is_wrapper(span: &Span) -> bool {
    span.attributes.get(keys::OPERATION_ID).is_some()
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader<'_>, span: &Span) {
    reader.mark(keys::OPERATION_ID);
    call.operation = Some("chat".to_owned());
    call.streaming = Some(operation_id(span).ends_with(".doStream"));
    let provider = reader
        .take_str(keys::MODEL_PROVIDER)
        .or_else(|| reader.take_str(otel::keys::SYSTEM));
    call.provider = provider.and_then(|p| provider_of(&p));
    call.response_model = reader.take_str(keys::RESPONSE_MODEL);
    call.response_id = reader.take_str(keys::RESPONSE_ID);
    fill_content(call, reader);
    fill_usage(call, reader);
    fill_settings(call, reader);
    fill_metadata(call, reader);
    fill_ttft(call, reader, span);
    otel::fill_attributes(call, reader);
    set_if_none(&mut call.request_model, reader.take_str(keys::MODEL_ID));
}

/// `openai.chat` → `openai`; the SDK's provider ids name the API after a
/// dot, and a few providers have their own registry names.
fn provider_of(sdk_provider: &str) -> Option<String> {
    let lower = sdk_provider.trim().to_ascii_lowercase();
    if lower.starts_with("google.vertex") {
        return Some("gcp.vertex_ai".to_owned());
    }
    let prefix = lower.split('.').next().unwrap_or(&lower);
    let mapped = match prefix {
        "google" => "gcp.gemini",
        "amazon-bedrock" => "aws.bedrock",
        "azure" | "azure-openai" => "azure.ai.openai",
        other => other,
    };
    common::normalize_provider(mapped)
}

fn fill_content(call: &mut Call, reader: &mut AttrReader<'_>) {
    call.input_messages = reader
        .take_json(keys::PROMPT_MESSAGES)
        .and_then(|json| sdk_messages(&json));
    call.tool_definitions = reader
        .take_json(keys::PROMPT_TOOLS)
        .and_then(|json| messages::tool_definitions(&json));
    call.request_params.tool_choice = reader.peek(keys::PROMPT_TOOL_CHOICE).and_then(|value| {
        let text = value.as_str()?;
        let recorded = parse_json(text).unwrap_or_else(|| Json::String(text.to_owned()));
        Some(canonical_tool_choice(&recorded))
    });
    if call.request_params.tool_choice.is_some() {
        reader.mark(keys::PROMPT_TOOL_CHOICE);
    }
    let mut parts = Vec::new();
    if let Some(text) = reader.peek(keys::RESPONSE_TEXT).and_then(Value::as_str) {
        parts.extend(messages::text_parts(text));
        reader.mark(keys::RESPONSE_TEXT);
    } else if let Some(text) = reader.peek(keys::RESPONSE_OBJECT).and_then(Value::as_str) {
        parts.extend(messages::text_parts(text));
        reader.mark(keys::RESPONSE_OBJECT);
    }
    if let Some(calls) = reader.take_json(keys::RESPONSE_TOOL_CALLS) {
        parts.extend(response_tool_calls(&calls));
    }
    let finish_reason = reader.take_str(keys::RESPONSE_FINISH_REASON);
    if !parts.is_empty() {
        let mut message = Message::new("assistant", parts);
        message.finish_reason = finish_reason.clone();
        call.output_messages = Some(vec![message]);
    }
    call.finish_reasons = finish_reason.map(|r| vec![r]);
}

/// AI SDK messages: `{role, content: string | [parts]}` with the SDK's part
/// types (`text`, `tool-call`, `tool-result`, `image`, `file`, `reasoning`).
fn sdk_messages(json: &Json) -> Option<Vec<Message>> {
    let items = json.as_array()?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(object) = item.as_object() else {
            continue;
        };
        let role = json_str(object, "role").unwrap_or_else(|| messages::UNKNOWN_ROLE.to_owned());
        let parts = object
            .get("content")
            .map(messages::content_parts)
            .unwrap_or_default();
        out.push(Message::new(role, parts));
    }
    Some(out)
}

/// `[{toolCallId, toolName, input}]` (`args` in v4); `input` is a JSON string.
fn response_tool_calls(json: &Json) -> Vec<Part> {
    let mut out = Vec::new();
    for item in json.as_array().into_iter().flatten() {
        let Some(object) = item.as_object() else {
            continue;
        };
        let Some(name) = json_str(object, "toolName") else {
            continue;
        };
        out.push(Part::ToolCall {
            id: json_str(object, "toolCallId"),
            name,
            arguments: messages::tool_arguments(object.get("input").or_else(|| object.get("args"))),
        });
    }
    out
}

fn fill_usage(call: &mut Call, reader: &mut AttrReader<'_>) {
    let usage = &mut call.usage;
    usage.input_tokens = reader
        .take_i64(keys::USAGE_INPUT_TOKENS)
        .or_else(|| reader.take_i64(keys::USAGE_PROMPT_TOKENS));
    usage.output_tokens = reader
        .take_i64(keys::USAGE_OUTPUT_TOKENS)
        .or_else(|| reader.take_i64(keys::USAGE_COMPLETION_TOKENS));
    usage.cached_input_tokens = reader.take_i64(keys::USAGE_CACHED_INPUT_TOKENS);
    usage.reasoning_tokens = reader.take_i64(keys::USAGE_REASONING_TOKENS);
}

/// The settings of an AI SDK call that the model receives. The SDK writes
/// its own client settings under the same prefix (`maxRetries`,
/// `abortSignal`, `headers`, `timeout`, and `output`/`mode` for object
/// generation); no provider takes those, so they stay in the call's
/// attributes and a replay never sends them.
const MODEL_SETTINGS: [&str; 9] = [
    "maxOutputTokens",
    "maxTokens",
    "temperature",
    "topP",
    "topK",
    "presencePenalty",
    "frequencyPenalty",
    "stopSequences",
    "seed",
];

fn fill_settings(call: &mut Call, reader: &mut AttrReader<'_>) {
    let mut settings = Map::new();
    for name in MODEL_SETTINGS {
        let key = format!("{}{name}", keys::SETTINGS_PREFIX);
        if let Some(value) = reader.peek(&key) {
            settings.insert(name.to_owned(), value.to_plain_json());
            reader.mark(&key);
        }
    }
    common::params_from_object(call, &settings, keys::SETTINGS_PREFIX);
}

fn fill_metadata(call: &mut Call, reader: &mut AttrReader<'_>) {
    for key in SESSION_KEYS {
        if call.session_id.is_none() {
            call.session_id = reader.take_str(&format!("{}{key}", keys::METADATA_PREFIX));
        }
    }
    for key in USER_KEYS {
        if call.user_id.is_none() {
            call.user_id = reader.take_str(&format!("{}{key}", keys::METADATA_PREFIX));
        }
    }
}

fn fill_ttft(call: &mut Call, reader: &mut AttrReader<'_>, span: &Span) {
    let from_event = || {
        span.events
            .iter()
            .find(|e| e.name == keys::STREAM_FIRST_CHUNK_EVENT)
            .and_then(|e| e.attributes.f64(keys::RESPONSE_MS_TO_FIRST_CHUNK))
    };
    let ms = reader
        .take_f64(keys::RESPONSE_MS_TO_FIRST_CHUNK)
        .or_else(from_event);
    call.ttft_ms = ms.filter(|ms| *ms >= 0.0);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::call_from_span;
    use super::super::test_support::{resource, scope, span};
    use crate::model::{Message, Part};

    const SCOPE: &str = "ai";

    /// A `doStream` span as the AI SDK (v5/v6) writes it, documented shape
    /// from genai-conventions.md §4.4.
    fn stream_span() -> crate::model::Span {
        let messages = json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Tokyo?"}]},
            {"role": "assistant", "content": [
                {"type": "tool-call", "toolCallId": "c1", "toolName": "weather", "input": {"city": "Tokyo"}}
            ]},
            {"role": "tool", "content": [
                {"type": "tool-result", "toolCallId": "c1", "toolName": "weather",
                 "output": {"type": "json", "value": {"temp": 18}}}
            ]},
        ]);
        span(
            "ai.streamText.doStream",
            json!({
                "ai.operationId": "ai.streamText.doStream",
                "operation.name": "ai.streamText.doStream weather-bot",
                "ai.model.id": "gpt-4o",
                "ai.model.provider": "openai.chat",
                "ai.prompt.messages": messages.to_string(),
                "ai.prompt.tools": [
                    r#"{"type":"function","name":"weather","description":"Weather now","inputSchema":{"type":"object"}}"#
                ],
                "ai.prompt.toolChoice": r#"{"type":"auto"}"#,
                "ai.response.text": "18 degrees and sunny.",
                "ai.response.finishReason": "stop",
                "ai.response.id": "resp_1",
                "ai.response.model": "gpt-4o-2024-08-06",
                "ai.response.msToFirstChunk": 120.5,
                "ai.usage.inputTokens": 30,
                "ai.usage.outputTokens": 5,
                "ai.usage.cachedInputTokens": 10,
                "ai.settings.maxOutputTokens": 100,
                "ai.settings.temperature": 0.3,
                "ai.settings.maxRetries": 2,
                "ai.telemetry.metadata.sessionId": "session-1",
                "ai.telemetry.metadata.userId": "user-1",
                "gen_ai.system": "openai.chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 30,
            }),
        )
    }

    #[test]
    fn a_do_stream_span_is_a_streamed_chat_call() {
        let call = call_from_span(&resource(), &scope(SCOPE), &stream_span()).expect("an LLM call");
        assert_eq!(call.provider.as_deref(), Some("openai"));
        assert_eq!(call.operation.as_deref(), Some("chat"));
        assert_eq!(call.request_model.as_deref(), Some("gpt-4o"));
        assert_eq!(call.response_model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(call.response_id.as_deref(), Some("resp_1"));
        assert_eq!(call.streaming, Some(true));
        assert_eq!(call.ttft_ms, Some(120.5));
        assert_eq!(call.usage.input_tokens, Some(30));
        assert_eq!(call.usage.output_tokens, Some(5));
        assert_eq!(call.usage.cached_input_tokens, Some(10));
        assert_eq!(call.session_id.as_deref(), Some("session-1"));
        assert_eq!(call.user_id.as_deref(), Some("user-1"));
        assert_eq!(call.output_text().as_deref(), Some("18 degrees and sunny."));
        assert_eq!(call.finish_reasons, Some(vec!["stop".to_owned()]));
    }

    #[test]
    fn sdk_messages_tools_and_settings_take_the_canonical_shape() {
        let call = call_from_span(&resource(), &scope(SCOPE), &stream_span()).expect("an LLM call");
        let inputs = call.input_messages.expect("input messages");
        let roles: Vec<&str> = inputs.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool"]);
        assert_eq!(inputs[1], Message::text("user", "Weather in Tokyo?"));
        assert_eq!(
            inputs[2].parts,
            vec![Part::ToolCall {
                id: Some("c1".into()),
                name: "weather".into(),
                arguments: json!({"city": "Tokyo"}),
            }]
        );
        assert_eq!(
            inputs[3].parts,
            vec![Part::ToolCallResponse {
                id: Some("c1".into()),
                response: json!({"temp": 18}),
            }]
        );
        assert_eq!(
            call.tool_definitions,
            Some(vec![json!({
                "type": "function", "name": "weather", "description": "Weather now",
                "parameters": {"type": "object"}
            })])
        );
        let params = &call.request_params;
        // The SDK's `{"type":"auto"}` in the canonical flat shape.
        assert_eq!(params.tool_choice, Some(json!("auto")));
        assert_eq!(params.max_tokens, Some(100));
        assert_eq!(params.temperature, Some(0.3));
        // An SDK client setting, not a model parameter: kept, but not sent.
        assert_eq!(params.extra.get("maxRetries"), None);
        assert_eq!(
            call.attributes.get("ai.settings.maxRetries"),
            Some(&json!(2))
        );
    }

    #[test]
    fn v4_do_generate_with_tool_calls_and_old_usage_names() {
        let span = span(
            "ai.generateText.doGenerate",
            json!({
                "ai.operationId": "ai.generateText.doGenerate",
                "ai.model.id": "claude-3-5-haiku",
                "ai.model.provider": "anthropic.messages",
                "ai.prompt.messages": r#"[{"role":"user","content":"Weather?"}]"#,
                "ai.response.toolCalls": r#"[{"toolCallId":"t1","toolName":"weather","args":"{\"city\":\"Paris\"}"}]"#,
                "ai.response.finishReason": "tool-calls",
                "ai.usage.promptTokens": 12,
                "ai.usage.completionTokens": 7,
            }),
        );
        let call = call_from_span(&resource(), &scope(SCOPE), &span).expect("an LLM call");
        assert_eq!(call.provider.as_deref(), Some("anthropic"));
        assert_eq!(call.request_model.as_deref(), Some("claude-3-5-haiku"));
        assert_eq!(call.streaming, Some(false));
        assert_eq!(call.usage.input_tokens, Some(12));
        assert_eq!(call.usage.output_tokens, Some(7));
        let outputs = call.output_messages.expect("output messages");
        assert_eq!(outputs[0].finish_reason.as_deref(), Some("tool-calls"));
        assert_eq!(
            outputs[0].parts,
            vec![Part::ToolCall {
                id: Some("t1".into()),
                name: "weather".into(),
                arguments: json!({"city": "Paris"}),
            }]
        );
    }

    #[test]
    fn wrapper_and_tool_spans_are_not_llm_calls() {
        for name in ["ai.streamText", "ai.generateText", "ai.toolCall"] {
            let span = span(
                name,
                json!({"ai.operationId": name, "ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat"}),
            );
            assert_eq!(
                call_from_span(&resource(), &scope(SCOPE), &span),
                None,
                "{name}"
            );
        }
    }

    #[test]
    fn sdk_provider_ids_map_to_registry_names() {
        assert_eq!(
            super::provider_of("openai.responses").as_deref(),
            Some("openai")
        );
        assert_eq!(
            super::provider_of("google.vertex.chat").as_deref(),
            Some("gcp.vertex_ai")
        );
        assert_eq!(
            super::provider_of("google.generative-ai").as_deref(),
            Some("gcp.gemini")
        );
        assert_eq!(
            super::provider_of("mistral.chat").as_deref(),
            Some("mistral_ai")
        );
    }
}

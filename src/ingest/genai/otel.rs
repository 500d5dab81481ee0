//! OpenTelemetry GenAI semantic conventions, every generation of them
//! (genai-conventions.md §1):
//!
//! - 1.37+ : `gen_ai.provider.name` and structured content attributes
//!   (`gen_ai.input.messages`, `gen_ai.output.messages`,
//!   `gen_ai.system_instructions`, `gen_ai.tool.definitions`), as JSON
//!   strings on spans or structured values on the
//!   `gen_ai.client.inference.operation.details` log record;
//! - 1.28–1.36: `gen_ai.system`, content as per-message events (log records
//!   or span events; see [`super::events`]);
//! - 1.26/1.27: content as `gen_ai.content.prompt` / `gen_ai.content.completion`
//!   span events holding `gen_ai.prompt` / `gen_ai.completion` JSON strings,
//!   and `gen_ai.usage.prompt_tokens` / `completion_tokens`.
//!
//! [`fill_attributes`] reads the attributes all generations share; the other
//! conventions that build on OTel (OpenLLMetry, OpenLIT, the Anthropic SDK,
//! Pydantic AI, the Vercel AI SDK) call it and then add their own keys.

use super::attrs::{AttrReader, value_to_json};
use super::common::{self, set_if_none};
use super::messages;
use crate::model::{Call, Scope, Span};

/// Attribute keys of the OTel GenAI registry as of v1.41.0, the last
/// semantic-conventions release that carried them
/// (<https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/>;
/// genai-conventions.md §1.2, §1.3, §1.5).
pub(crate) mod keys {
    pub const OPERATION_NAME: &str = "gen_ai.operation.name";
    /// Provider key since 1.37.
    pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
    /// Provider key up to 1.36 (still written by many libraries).
    pub const SYSTEM: &str = "gen_ai.system";
    pub const REQUEST_MODEL: &str = "gen_ai.request.model";
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    pub const REQUEST_PREFIX: &str = "gen_ai.request.";
    pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
    pub const REQUEST_TOP_P: &str = "gen_ai.request.top_p";
    pub const REQUEST_TOP_K: &str = "gen_ai.request.top_k";
    pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    pub const REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
    pub const REQUEST_SEED: &str = "gen_ai.request.seed";
    /// Seed before it moved to `gen_ai.request.seed`.
    pub const OPENAI_REQUEST_SEED: &str = "gen_ai.openai.request.seed";
    pub const OPENAI_REQUEST_RESPONSE_FORMAT: &str = "gen_ai.openai.request.response_format";
    pub const REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
    pub const REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
    pub const REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
    /// 1.40+; unset means not streamed for producers that follow 1.40+.
    pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
    /// 1.40+, seconds.
    pub const RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
    pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    /// 1.26 names of the token counts.
    pub const USAGE_PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";
    pub const USAGE_COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";
    pub const USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    pub const USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    pub const SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
    pub const TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
    /// 1.26/1.27 content: span event names and their attributes (§1.5).
    pub const CONTENT_PROMPT_EVENT: &str = "gen_ai.content.prompt";
    pub const CONTENT_COMPLETION_EVENT: &str = "gen_ai.content.completion";
    pub const PROMPT: &str = "gen_ai.prompt";
    pub const COMPLETION: &str = "gen_ai.completion";
}

/// A span in any OTel GenAI generation.
pub(crate) fn fill_span(call: &mut Call, reader: &mut AttrReader<'_>, scope: &Scope, span: &Span) {
    fill_attributes(call, reader);
    fill_content_events(call, span);
    if call.streaming.is_none() && follows_stream_attribute(scope) {
        call.streaming = Some(false);
    }
}

/// The attributes every OTel generation shares; also used for the
/// attributes of the `gen_ai.client.inference.operation.details` log record.
pub(crate) fn fill_attributes(call: &mut Call, reader: &mut AttrReader<'_>) {
    let provider = reader
        .take_str(keys::PROVIDER_NAME)
        .or_else(|| reader.take_str(keys::SYSTEM));
    set_if_none(
        &mut call.provider,
        provider.and_then(|p| common::normalize_provider(&p)),
    );
    set_if_none(&mut call.operation, reader.take_str(keys::OPERATION_NAME));
    set_if_none(
        &mut call.request_model,
        reader.take_str(keys::REQUEST_MODEL),
    );
    set_if_none(
        &mut call.response_model,
        reader.take_str(keys::RESPONSE_MODEL),
    );
    set_if_none(&mut call.response_id, reader.take_str(keys::RESPONSE_ID));
    set_if_none(
        &mut call.finish_reasons,
        reader.take_str_list(keys::RESPONSE_FINISH_REASONS),
    );
    set_if_none(&mut call.streaming, reader.take_bool(keys::REQUEST_STREAM));
    if let Some(seconds) = reader.take_f64(keys::RESPONSE_TIME_TO_FIRST_CHUNK) {
        set_if_none(&mut call.ttft_ms, common::seconds_to_ms(seconds));
        // Only streamed responses have a first chunk.
        set_if_none(&mut call.streaming, Some(true));
    }
    set_if_none(&mut call.session_id, reader.take_str(keys::CONVERSATION_ID));
    set_if_none(
        &mut call.session_id,
        reader.take_str(common::keys::SESSION_ID),
    );
    set_if_none(&mut call.user_id, reader.take_str(common::keys::USER_ID));
    fill_usage(call, reader);
    fill_params(call, reader);
    fill_content(call, reader);
}

fn fill_usage(call: &mut Call, reader: &mut AttrReader<'_>) {
    let usage = &mut call.usage;
    let input = reader
        .take_i64(keys::USAGE_INPUT_TOKENS)
        .or_else(|| reader.take_i64(keys::USAGE_PROMPT_TOKENS));
    set_if_none(&mut usage.input_tokens, input);
    let output = reader
        .take_i64(keys::USAGE_OUTPUT_TOKENS)
        .or_else(|| reader.take_i64(keys::USAGE_COMPLETION_TOKENS));
    set_if_none(&mut usage.output_tokens, output);
    set_if_none(
        &mut usage.cached_input_tokens,
        reader.take_i64(keys::USAGE_CACHE_READ_INPUT_TOKENS),
    );
    set_if_none(
        &mut usage.reasoning_tokens,
        reader.take_i64(keys::USAGE_REASONING_OUTPUT_TOKENS),
    );
}

/// `gen_ai.request.*` into typed parameters; any other request attribute
/// (e.g. `encoding_formats`, `user`) is kept in the extras under its name.
fn fill_params(call: &mut Call, reader: &mut AttrReader<'_>) {
    let params = &mut call.request_params;
    set_if_none(
        &mut params.temperature,
        reader.take_f64(keys::REQUEST_TEMPERATURE),
    );
    set_if_none(&mut params.top_p, reader.take_f64(keys::REQUEST_TOP_P));
    set_if_none(&mut params.top_k, reader.take_f64(keys::REQUEST_TOP_K));
    set_if_none(
        &mut params.max_tokens,
        reader.take_i64(keys::REQUEST_MAX_TOKENS),
    );
    set_if_none(
        &mut params.stop_sequences,
        reader.take_str_list(keys::REQUEST_STOP_SEQUENCES),
    );
    let seed = reader
        .take_i64(keys::REQUEST_SEED)
        .or_else(|| reader.take_i64(keys::OPENAI_REQUEST_SEED));
    set_if_none(&mut params.seed, seed);
    set_if_none(
        &mut params.frequency_penalty,
        reader.take_f64(keys::REQUEST_FREQUENCY_PENALTY),
    );
    set_if_none(
        &mut params.presence_penalty,
        reader.take_f64(keys::REQUEST_PRESENCE_PENALTY),
    );
    set_if_none(
        &mut params.choice_count,
        reader.take_i64(keys::REQUEST_CHOICE_COUNT),
    );
    set_if_none(
        &mut params.response_format,
        reader
            .take_str(keys::OPENAI_REQUEST_RESPONSE_FORMAT)
            .map(serde_json::Value::String),
    );
    for (name, value) in reader.take_remaining_prefix(keys::REQUEST_PREFIX) {
        common::insert_extra(call, name, value.to_plain_json());
    }
}

/// The structured content attributes (1.37+), and the 1.26 JSON-string
/// `gen_ai.prompt` / `gen_ai.completion` some early libraries set on spans.
fn fill_content(call: &mut Call, reader: &mut AttrReader<'_>) {
    if call.input_messages.is_none() {
        call.input_messages = reader
            .take_json(keys::INPUT_MESSAGES)
            .and_then(|json| messages::otel_messages(&json));
    }
    if call.output_messages.is_none() {
        call.output_messages = reader
            .take_json(keys::OUTPUT_MESSAGES)
            .and_then(|json| messages::otel_messages(&json));
    }
    if call.system_instructions.is_none() {
        call.system_instructions = reader
            .take_json(keys::SYSTEM_INSTRUCTIONS)
            .and_then(|json| messages::otel_parts(&json));
    }
    if call.tool_definitions.is_none() {
        call.tool_definitions = reader
            .take_json(keys::TOOL_DEFINITIONS)
            .and_then(|json| messages::tool_definitions(&json));
    }
    if call.input_messages.is_none() {
        call.input_messages = reader
            .take_json(keys::PROMPT)
            .and_then(|json| messages::provider_messages(&json, "user"));
    }
    if call.output_messages.is_none() {
        call.output_messages = reader
            .take_json(keys::COMPLETION)
            .and_then(|json| messages::provider_messages(&json, "assistant"));
    }
}

/// 1.26/1.27: `gen_ai.content.prompt` / `gen_ai.content.completion` span
/// events, each with one JSON-string attribute of `[{role, content}]`.
fn fill_content_events(call: &mut Call, span: &Span) {
    for event in &span.events {
        if event.name == keys::CONTENT_PROMPT_EVENT && call.input_messages.is_none() {
            call.input_messages = event
                .attributes
                .get(keys::PROMPT)
                .and_then(value_to_json)
                .and_then(|json| messages::provider_messages(&json, "user"));
        }
        if event.name == keys::CONTENT_COMPLETION_EVENT && call.output_messages.is_none() {
            call.output_messages = event
                .attributes
                .get(keys::COMPLETION)
                .and_then(value_to_json)
                .and_then(|json| messages::provider_messages(&json, "assistant"));
        }
    }
}

/// Whether the scope declares semantic conventions 1.40 or later, where an
/// unset `gen_ai.request.stream` means the request was not streamed.
fn follows_stream_attribute(scope: &Scope) -> bool {
    schema_version(&scope.schema_url).is_some_and(|version| version >= (1, 40))
}

/// `(major, minor)` from a schema URL such as
/// `https://opentelemetry.io/schemas/1.37.0`.
fn schema_version(url: &str) -> Option<(u32, u32)> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    let mut numbers = last.split('.');
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::call_from_span;
    use super::super::test_support::{event, resource, scope, span};
    use super::*;
    use crate::model::{Message, Part};

    /// 1.26: no operation name yet, old token names, content in
    /// `gen_ai.content.*` span events (genai-conventions.md §1.1, §1.5).
    #[test]
    fn semconv_1_26_span_events_carry_the_content() {
        let mut span = span(
            "chat gpt-4",
            json!({
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4",
                "gen_ai.response.model": "gpt-4-0613",
                "gen_ai.usage.prompt_tokens": 10,
                "gen_ai.usage.completion_tokens": 3,
            }),
        );
        span.events.push(event(
            "gen_ai.content.prompt",
            1,
            json!({"gen_ai.prompt": r#"[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]"#}),
        ));
        span.events.push(event(
            "gen_ai.content.completion",
            2,
            json!({"gen_ai.completion": r#"[{"role":"assistant","content":"Hello."}]"#}),
        ));
        let call =
            call_from_span(&resource(), &scope("my.instrumentation"), &span).expect("an LLM call");
        assert_eq!(call.provider.as_deref(), Some("openai"));
        assert_eq!(call.operation, None);
        assert_eq!(call.usage.input_tokens, Some(10));
        assert_eq!(call.usage.output_tokens, Some(3));
        assert_eq!(
            call.input_messages,
            Some(vec![
                Message::text("system", "Be brief."),
                Message::text("user", "Hi")
            ])
        );
        assert_eq!(call.output_text().as_deref(), Some("Hello."));
    }

    /// 1.27: the operation name and the new token names, content still in
    /// span events.
    #[test]
    fn semconv_1_27_reads_new_token_names() {
        let mut span = span(
            "chat gpt-4",
            json!({
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "az.ai.inference",
                "gen_ai.request.model": "gpt-4",
                "gen_ai.usage.input_tokens": 11,
                "gen_ai.usage.output_tokens": 4,
            }),
        );
        span.events.push(event(
            "gen_ai.content.prompt",
            1,
            json!({"gen_ai.prompt": r#"[{"role":"user","content":"Hi"}]"#}),
        ));
        let call = call_from_span(&resource(), &scope("x"), &span).expect("an LLM call");
        assert_eq!(call.provider.as_deref(), Some("azure.ai.inference"));
        assert_eq!(call.operation.as_deref(), Some("chat"));
        assert_eq!(call.usage.input_tokens, Some(11));
        assert_eq!(call.input_messages, Some(vec![Message::text("user", "Hi")]));
        assert_eq!(call.output_messages, None);
    }

    /// 1.28–1.36 per-message events exported as span events, with the body
    /// in `gen_ai.event.content` (Azure AI Inference) or as attributes.
    #[test]
    fn per_message_span_events_fill_the_messages() {
        let mut span = span(
            "chat gpt-4o",
            json!({"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                   "gen_ai.request.model": "gpt-4o"}),
        );
        span.events.push(event(
            "gen_ai.user.message",
            1,
            json!({"gen_ai.system": "openai", "gen_ai.event.content": r#"{"content":"Weather?"}"#}),
        ));
        span.events.push(event(
            "gen_ai.choice",
            2,
            json!({"gen_ai.event.content": r#"{"index":0,"finish_reason":"tool_calls","message":{"tool_calls":[{"id":"c1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]}}"#}),
        ));
        let call =
            call_from_span(&resource(), &scope("azure.ai.inference"), &span).expect("an LLM call");
        assert_eq!(
            call.input_messages,
            Some(vec![Message::text("user", "Weather?")])
        );
        let outputs = call.output_messages.expect("outputs");
        assert_eq!(
            outputs[0].parts,
            vec![Part::ToolCall {
                id: Some("c1".into()),
                name: "weather".into(),
                arguments: json!({"city": "Oslo"}),
            }]
        );
        assert_eq!(call.finish_reasons, Some(vec!["tool_calls".to_owned()]));
    }

    /// Producers that follow 1.40+ leave `gen_ai.request.stream` unset on
    /// requests that were not streamed; older ones say nothing either way.
    #[test]
    fn an_unset_stream_flag_means_false_only_from_1_40() {
        let span = span(
            "chat gpt-4o",
            json!({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"}),
        );
        let mut new_scope = scope("x");
        new_scope.schema_url = "https://opentelemetry.io/schemas/1.40.0".into();
        let call = call_from_span(&resource(), &new_scope, &span).expect("an LLM call");
        assert_eq!(call.streaming, Some(false));
        let mut old_scope = scope("x");
        old_scope.schema_url = "https://opentelemetry.io/schemas/1.37.0".into();
        let call = call_from_span(&resource(), &old_scope, &span).expect("an LLM call");
        assert_eq!(call.streaming, None);
    }

    #[test]
    fn schema_versions_parse_from_urls() {
        assert_eq!(
            schema_version("https://opentelemetry.io/schemas/1.37.0"),
            Some((1, 37))
        );
        assert_eq!(schema_version(""), None);
        assert_eq!(schema_version("https://example.com/x"), None);
    }
}

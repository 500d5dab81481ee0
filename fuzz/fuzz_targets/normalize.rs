//! GenAI normalization on arbitrary spans and log records built from the
//! keys, event names and scopes the conventions use, so the fuzzer spends
//! its time inside the readers rather than guessing attribute names.
//!
//! Besides "never panics", the target checks what `ingest::genai`
//! documents: merging a set of events into a call does not depend on their
//! order or on duplicates, `merge_same_call` is symmetric, and every call
//! comes back from its stored encoding unchanged.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use reprise::ingest::calls::normalize;
use reprise::ingest::genai::{
    CallFacts, GenAiEvent, apply_events, call_from_events, call_from_span, describe_same_call,
    genai_event, merge_same_call,
};
use reprise::model::telemetry::{LogGroup, SpanGroup};
use reprise::ingest::prepare::encode;
use reprise::model::{
    Attributes, Event, KeyValue, LogRecord, Resource, Scope, Span, SpanId, SpanStatus, TraceId,
    Value,
};
use reprise_fuzz::{assert_same, check_call};

const START_UNIX_NANO: u64 = 1_700_000_000_000_000_000;

/// Nesting beyond this is cut: deep values exercise the codec (its own
/// target), not the readers.
const MAX_DEPTH: usize = 6;

const KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.request.temperature",
    "gen_ai.request.max_tokens",
    "gen_ai.request.stop_sequences",
    "gen_ai.request.seed",
    "gen_ai.request.stream",
    "gen_ai.request.choice.count",
    "gen_ai.openai.request.response_format",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.conversation.id",
    "gen_ai.is_streaming",
    "gen_ai.server.time_to_first_token",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.0.role",
    "gen_ai.prompt.1.content",
    "gen_ai.prompt.1.role",
    "gen_ai.prompt.1.tool_calls.0.name",
    "gen_ai.prompt.1.tool_calls.0.arguments",
    "gen_ai.prompt.2.tool_call_id",
    "gen_ai.completion.0.content",
    "gen_ai.completion.0.role",
    "gen_ai.completion.0.finish_reason",
    "gen_ai.completion.0.tool_calls.0.id",
    "gen_ai.completion.0.tool_calls.0.name",
    "gen_ai.completion.0.tool_calls.0.arguments",
    "gen_ai.event.content",
    "gen_ai.message.index",
    "event.name",
    "llm.request.type",
    "llm.request.model_name",
    "llm.response.model_name",
    "llm.is_streaming",
    "llm.request.functions.0.name",
    "llm.request.functions.0.parameters",
    "llm.usage.reasoning_tokens",
    "llm.model_name",
    "llm.provider",
    "llm.system",
    "llm.invocation_parameters",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "llm.input_messages.1.message.role",
    "llm.input_messages.1.message.contents.0.message_content.type",
    "llm.input_messages.1.message.contents.0.message_content.text",
    "llm.input_messages.1.message.tool_call_id",
    "llm.output_messages.0.message.role",
    "llm.output_messages.0.message.content",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "llm.token_count.prompt_details.cache_read",
    "llm.tools.0.tool.json_schema",
    "openinference.span.kind",
    "input.value",
    "input.mime_type",
    "output.value",
    "output.mime_type",
    "session.id",
    "user.id",
    "tag.tags",
    "ai.operationId",
    "ai.model.id",
    "ai.model.provider",
    "ai.prompt.messages",
    "ai.prompt.tools",
    "ai.prompt.toolChoice",
    "ai.response.text",
    "ai.response.toolCalls",
    "ai.response.finishReason",
    "ai.response.id",
    "ai.response.model",
    "ai.response.msToFirstChunk",
    "ai.usage.promptTokens",
    "ai.usage.completionTokens",
    "ai.settings.maxOutputTokens",
    "ai.telemetry.metadata.user",
    "traceloop.association.properties.session_id",
    "events",
    "model_request_parameters",
    "anthropic.message.stop_reason",
    "error.type",
    "exception.type",
    "exception.message",
];

const WORDS: &[&str] = &[
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "completion",
    "LLM",
    "CHAIN",
    "openai",
    "anthropic",
    "aws.bedrock",
    "gpt-4o",
    "claude-3-5-sonnet",
    "user",
    "assistant",
    "system",
    "tool",
    "developer",
    "text",
    "tool_call",
    "tool_call_response",
    "reasoning",
    "stop",
    "length",
    "tool_calls",
    "end_turn",
    "application/json",
    "text/plain",
    "ai.streamText.doStream",
    "ai.generateText.doGenerate",
    "ai.generateText",
    "true",
    "42",
    "",
];

const JSON_KEYS: &[&str] = &[
    "role",
    "content",
    "parts",
    "type",
    "text",
    "tool_calls",
    "tool_call_id",
    "function",
    "name",
    "arguments",
    "id",
    "finish_reason",
    "message",
    "messages",
    "index",
    "response",
    "input",
    "result",
    "toolCallId",
    "toolName",
    "args",
    "model",
    "usage",
    "input_tokens",
    "output_tokens",
    "parameters",
    "description",
];

const SCOPES: &[&str] = &[
    "opentelemetry.instrumentation.openai_v2",
    "opentelemetry.instrumentation.openai.v1",
    "opentelemetry.instrumentation.anthropic",
    "opentelemetry.util.genai.handler",
    "openinference.instrumentation.openai",
    "openlit.otel.tracing",
    "openlit.instrumentation.anthropic",
    "com.anthropic.sdk",
    "pydantic-ai",
    "logfire",
    "ai",
    "unknown",
];

const SPAN_NAMES: &[&str] = &[
    "chat gpt-4o",
    "chat",
    "anthropic.chat",
    "openai.chat",
    "ChatCompletion",
    "ai.streamText.doStream",
    "text_completion claude",
    "POST /v1/chat",
];

const EVENT_NAMES: &[&str] = &[
    "gen_ai.system.message",
    "gen_ai.user.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "exception",
    "ai.stream.firstChunk",
    "other",
];

fn pick<'a>(list: &[&'a str], index: u8) -> &'a str {
    list[usize::from(index) % list.len()]
}

#[derive(Arbitrary, Debug)]
enum Text {
    Word(u8),
    Any(String),
    Json(JsonInput),
}

#[derive(Arbitrary, Debug)]
enum JsonInput {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Word(u8),
    Any(String),
    Array(Vec<JsonInput>),
    Object(Vec<(u8, JsonInput)>),
}

#[derive(Arbitrary, Debug)]
enum ValueInput {
    Empty,
    Text(Text),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<ValueInput>),
    KvList(Vec<(u8, ValueInput)>),
}

#[derive(Arbitrary, Debug)]
struct SpanInput {
    scope: u8,
    name: u8,
    /// Index of an earlier span of the input to be the parent of this one.
    parent: Option<u8>,
    start_offset_ms: u16,
    duration_ms: u16,
    status_code: u8,
    attributes: Vec<(u8, ValueInput)>,
    events: Vec<EventInput>,
}

#[derive(Arbitrary, Debug)]
struct EventInput {
    name: u8,
    offset_ms: u16,
    attributes: Vec<(u8, ValueInput)>,
}

#[derive(Arbitrary, Debug)]
struct RecordInput {
    name: u8,
    /// Name the event in the `event.name` attribute instead of the field.
    name_as_attribute: bool,
    /// Which span the record belongs to; `None` stands outside any span.
    span: Option<u8>,
    offset_ms: u16,
    body: Option<ValueInput>,
    attributes: Vec<(u8, ValueInput)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    spans: Vec<SpanInput>,
    records: Vec<RecordInput>,
}

fn json(input: &JsonInput, depth: usize) -> serde_json::Value {
    use serde_json::Value as Json;
    match input {
        JsonInput::Null => Json::Null,
        JsonInput::Bool(b) => Json::Bool(*b),
        JsonInput::Int(i) => Json::from(*i),
        JsonInput::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        JsonInput::Word(w) => Json::String(pick(WORDS, *w).to_owned()),
        JsonInput::Any(s) => Json::String(s.clone()),
        JsonInput::Array(_) | JsonInput::Object(_) if depth >= MAX_DEPTH => Json::Null,
        JsonInput::Array(items) => Json::Array(items.iter().map(|i| json(i, depth + 1)).collect()),
        JsonInput::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(key, value)| (pick(JSON_KEYS, *key).to_owned(), json(value, depth + 1)))
                .collect(),
        ),
    }
}

fn text(input: &Text) -> String {
    match input {
        Text::Word(w) => pick(WORDS, *w).to_owned(),
        Text::Any(s) => s.clone(),
        Text::Json(j) => json(j, 0).to_string(),
    }
}

fn value(input: &ValueInput, depth: usize) -> Value {
    match input {
        ValueInput::Empty => Value::Empty,
        ValueInput::Text(t) => Value::String(text(t)),
        ValueInput::Bool(b) => Value::Bool(*b),
        ValueInput::Int(i) => Value::Int(*i),
        ValueInput::Double(d) => Value::Double(*d),
        ValueInput::Bytes(b) => Value::Bytes(b.clone()),
        ValueInput::Array(_) | ValueInput::KvList(_) if depth >= MAX_DEPTH => Value::Empty,
        ValueInput::Array(items) => {
            Value::Array(items.iter().map(|i| value(i, depth + 1)).collect())
        }
        ValueInput::KvList(fields) => Value::KvList(key_values(fields, depth + 1)),
    }
}

fn key_values(fields: &[(u8, ValueInput)], depth: usize) -> Vec<KeyValue> {
    fields
        .iter()
        .map(|(key, v)| KeyValue::new(pick(KEYS, *key), value(v, depth)))
        .collect()
}

fn attributes(fields: &[(u8, ValueInput)]) -> Attributes {
    Attributes::new(key_values(fields, 0))
}

fn span_id(index: usize) -> SpanId {
    SpanId([index as u8 + 1; 8])
}

const TRACE_ID: TraceId = TraceId([7; 16]);

fn span(index: usize, input: &SpanInput) -> Span {
    let start = START_UNIX_NANO + u64::from(input.start_offset_ms) * 1_000_000;
    let parent = input
        .parent
        .map(usize::from)
        .filter(|parent| *parent < index)
        .map(span_id);
    Span {
        trace_id: TRACE_ID,
        span_id: span_id(index),
        parent_span_id: parent,
        trace_state: String::new(),
        flags: 0,
        name: pick(SPAN_NAMES, input.name).to_owned(),
        kind: 3,
        start_time_unix_nano: start,
        end_time_unix_nano: start + u64::from(input.duration_ms) * 1_000_000,
        attributes: attributes(&input.attributes),
        dropped_attributes_count: 0,
        events: input
            .events
            .iter()
            .map(|event| Event {
                time_unix_nano: start + u64::from(event.offset_ms) * 1_000_000,
                name: pick(EVENT_NAMES, event.name).to_owned(),
                attributes: attributes(&event.attributes),
                dropped_attributes_count: 0,
            })
            .collect(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: SpanStatus {
            code: i32::from(input.status_code % 3),
            message: String::new(),
        },
    }
}

fn record(input: &RecordInput, span_count: usize) -> LogRecord {
    let mut attributes = attributes(&input.attributes);
    let name = pick(EVENT_NAMES, input.name).to_owned();
    let event_name = if input.name_as_attribute {
        attributes
            .0
            .push(KeyValue::new("event.name", Value::String(name)));
        String::new()
    } else {
        name
    };
    let span = input
        .span
        .map(usize::from)
        .filter(|index| *index < span_count);
    LogRecord {
        time_unix_nano: START_UNIX_NANO + u64::from(input.offset_ms) * 1_000_000,
        body: input.body.as_ref().map(|body| value(body, 0)),
        attributes,
        trace_id: span.map(|_| TRACE_ID),
        span_id: span.map(span_id),
        event_name,
        ..LogRecord::default()
    }
}

fn resource() -> Resource {
    Resource {
        attributes: Attributes::new(vec![KeyValue::new(
            "service.name",
            Value::String("fuzz".into()),
        )]),
        ..Resource::default()
    }
}

fuzz_target!(|input: Input| {
    let resource = Arc::new(resource());
    let spans: Vec<(Arc<Scope>, Span)> = input
        .spans
        .iter()
        .take(4)
        .enumerate()
        .map(|(i, s)| {
            let scope = Scope {
                name: pick(SCOPES, s.scope).to_owned(),
                ..Scope::default()
            };
            (Arc::new(scope), span(i, s))
        })
        .collect();
    let log_scope = Arc::new(Scope {
        name: pick(SCOPES, 0).to_owned(),
        ..Scope::default()
    });
    let records: Vec<LogRecord> = input
        .records
        .iter()
        .take(8)
        .map(|r| record(r, spans.len()))
        .collect();
    let events: Vec<GenAiEvent> = records
        .iter()
        .filter_map(|r| genai_event(&resource, &log_scope, r))
        .collect();

    let mut calls = Vec::new();
    for (scope, span) in &spans {
        let Some(mut call) = call_from_span(&resource, scope, span) else {
            continue;
        };
        check_call(&call);
        let own: Vec<GenAiEvent> = events
            .iter()
            .filter(|e| e.span_id == Some(span.span_id))
            .cloned()
            .collect();
        check_event_set_semantics(&call, &own);
        apply_events(&mut call, &own);
        check_call(&call);
        calls.push((CallFacts::from_span(span, &call), call));
    }
    if let Some(call) = call_from_events(&resource, &log_scope, &events) {
        check_call(&call);
        calls.push((CallFacts::from_call(&call), call));
    }
    for (i, (facts_a, a)) in calls.iter().enumerate() {
        for (facts_b, b) in &calls[..i] {
            let _ = describe_same_call(facts_a, facts_b);
            let ab = merge_same_call(a.clone(), b.clone());
            let ba = merge_same_call(b.clone(), a.clone());
            assert_same("merge_same_call(a, b) against (b, a)", &ab, &ba);
        }
    }

    let span_groups: Vec<SpanGroup> = spans
        .into_iter()
        .map(|(scope, span)| SpanGroup {
            resource: resource.clone(),
            scope,
            spans: vec![span],
        })
        .collect();
    let log_groups = vec![LogGroup {
        resource: resource.clone(),
        scope: log_scope,
        records,
    }];
    let normalized = normalize(&span_groups, &log_groups, reprise_fuzz::prices());
    reprise_fuzz::check_calls(&normalized);
    let _ = encode(&span_groups, &log_groups, normalized);
});

/// `apply_events` promises a result that depends only on the set of
/// events: reversed, or with every event twice, the call must not change,
/// and applying the same set again must change nothing.
fn check_event_set_semantics(call: &reprise::model::Call, events: &[GenAiEvent]) {
    let mut forward = call.clone();
    apply_events(&mut forward, events);
    let mut reversed = call.clone();
    let backwards: Vec<GenAiEvent> = events.iter().rev().cloned().collect();
    apply_events(&mut reversed, &backwards);
    assert_same("events applied in reverse order", &forward, &reversed);
    let mut doubled = call.clone();
    let twice: Vec<GenAiEvent> = events.iter().chain(events).cloned().collect();
    apply_events(&mut doubled, &twice);
    assert_same("events applied with duplicates", &forward, &doubled);
    let mut again = forward.clone();
    apply_events(&mut again, events);
    assert_same("events applied twice", &forward, &again);
}

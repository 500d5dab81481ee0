//! GenAI normalization: spans and log records in any of the GenAI
//! telemetry conventions become one canonical [`Call`].
//!
//! Instrumentation libraries put the model, the prompt, the answer and the
//! token counts in different places (shared/docs/genai-conventions.md, and
//! docs/genai-mapping.md for what this module reads where). [`call_from_span`]
//! first decides whether a span is an LLM call at all and which convention
//! wrote it (section 0 of the conventions note), then hands it to the file
//! for that convention:
//!
//! - `otel`: OpenTelemetry GenAI, all generations (1.26 → 1.41);
//! - `openllmetry`: Traceloop's classic flattened `gen_ai.prompt.N.*` form
//!   and its current OTel-like form;
//! - `openinference`: Arize/Phoenix `llm.*` attributes;
//! - `openlit`, `anthropic_sdk`, `pydantic`: OTel plus their own keys;
//! - `vercel`: the AI SDK's `ai.*` attributes.
//!
//! Content that arrives in log records (or span events) is read by
//! [`genai_event`] into [`GenAiEvent`]s and merged with [`apply_events`],
//! or made into a call of its own by [`call_from_events`] when no span
//! names it. [`describe_same_call`] and [`merge_same_call`] fold the two
//! records that appear when two instrumentations watch the same request.
//!
//! Everything here is pure and total: no I/O, and no input — however
//! malformed — panics or fails; what cannot be read is `None`. A field the
//! telemetry did not carry is `None`, never a guess.

mod anthropic_sdk;
mod attrs;
mod common;
mod events;
mod messages;
mod openinference;
mod openlit;
mod openllmetry;
mod otel;
mod pydantic;
mod same_call;
mod vercel;

pub use events::{GenAiEvent, GenAiEventKind};
pub use same_call::CallFacts;

use crate::model::{Call, LogRecord, Resource, Scope, Span};
use attrs::AttrReader;

/// Operations that are a model inference (genai-conventions.md §0); spans
/// with other operations (`embeddings`, `execute_tool`, `invoke_agent`, …)
/// are not LLM calls.
const INFERENCE_OPERATIONS: [&str; 3] = ["chat", "text_completion", "generate_content"];

pub(crate) fn is_inference_operation(operation: &str) -> bool {
    INFERENCE_OPERATIONS.contains(&operation)
}

/// Which convention wrote a span that is an LLM call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Convention {
    Otel,
    OpenLlmetry,
    OpenInference,
    OpenLit,
    AnthropicSdk,
    Pydantic,
    Vercel,
    /// No GenAI attributes at all, but a GenAI library's scope and an OTel
    /// span name `"{operation} {model}"` (OpenLIT's error spans).
    SpanNameOnly,
}

fn detect(scope: &Scope, span: &Span) -> Option<Convention> {
    let attributes = &span.attributes;
    if let Some(kind) = attributes.get(openinference::keys::SPAN_KIND) {
        return (kind.as_str() == Some(openinference::LLM_SPAN_KIND))
            .then_some(Convention::OpenInference);
    }
    if vercel::is_model_call(span) {
        return Some(Convention::Vercel);
    }
    if let Some(operation) = attributes.get(otel::keys::OPERATION_NAME) {
        if !operation.as_str().is_some_and(is_inference_operation) {
            return None;
        }
        return Some(otel_flavour(scope, span));
    }
    if let Some(request_type) = attributes.get(openllmetry::keys::LLM_REQUEST_TYPE) {
        return openllmetry::is_inference_request_type(request_type.as_str())
            .then_some(Convention::OpenLlmetry);
    }
    if vercel::is_wrapper(span) {
        return None;
    }
    // 1.26 spans had no operation name yet: provider and model say it.
    if attributes.get(otel::keys::SYSTEM).is_some()
        && attributes.get(otel::keys::REQUEST_MODEL).is_some()
    {
        return Some(otel_flavour(scope, span));
    }
    if is_genai_scope(&scope.name) && common::split_span_name(&span.name).is_some() {
        return Some(Convention::SpanNameOnly);
    }
    None
}

/// Libraries that write OTel GenAI attributes plus keys of their own.
fn otel_flavour(scope: &Scope, span: &Span) -> Convention {
    if anthropic_sdk::owns(scope) {
        Convention::AnthropicSdk
    } else if openlit::owns(scope, span) {
        Convention::OpenLit
    } else if pydantic::owns(scope, span) {
        Convention::Pydantic
    } else if openllmetry::owns(scope, span) {
        Convention::OpenLlmetry
    } else {
        Convention::Otel
    }
}

/// Instrumentation scopes of the GenAI libraries we know.
fn is_genai_scope(name: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "openlit.",
        "opentelemetry.instrumentation.",
        "opentelemetry.util.genai",
        "openinference.instrumentation.",
        "com.anthropic.sdk",
        "pydantic-ai",
        "logfire",
    ];
    PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The client library an instrumentation scope names
/// (`openlit.instrumentation.anthropic` → `anthropic`,
/// `opentelemetry.instrumentation.openai_v2` → `openai`). Used only when the
/// telemetry names no provider at all.
pub(crate) fn provider_from_scope(scope_name: &str) -> Option<String> {
    let (_, rest) = scope_name.split_once(".instrumentation.")?;
    let library = rest.split('.').next()?;
    let library = library.strip_suffix("_v2").unwrap_or(library);
    common::normalize_provider(library)
}

/// The canonical call of a span, or `None` when the span is not an LLM call
/// (non-LLM spans are still stored by the caller as the trace around it).
///
/// Content the span carries as events (1.26/1.27 `gen_ai.content.*`, 1.28+
/// per-message span events) is included; content in separate log records is
/// added with [`apply_events`].
pub fn call_from_span(resource: &Resource, scope: &Scope, span: &Span) -> Option<Call> {
    let convention = detect(scope, span)?;
    let mut call = common::base_call(resource, span);
    let mut reader = AttrReader::new(&span.attributes);
    match convention {
        Convention::Otel => otel::fill_span(&mut call, &mut reader, scope, span),
        Convention::OpenLlmetry => openllmetry::fill(&mut call, &mut reader, scope, span),
        Convention::OpenInference => openinference::fill(&mut call, &mut reader, span),
        Convention::OpenLit => openlit::fill(&mut call, &mut reader, scope, span),
        Convention::AnthropicSdk => anthropic_sdk::fill(&mut call, &mut reader, scope, span),
        Convention::Pydantic => pydantic::fill(&mut call, &mut reader, scope, span),
        Convention::Vercel => vercel::fill(&mut call, &mut reader, span),
        Convention::SpanNameOnly => fill_from_span_name(&mut call, scope, span),
    }
    let span_events: Vec<GenAiEvent> = span
        .events
        .iter()
        .filter_map(|event| events::from_span_event(span, event))
        .collect();
    events::apply(&mut call, &span_events);
    common::apply_span_error(&mut call, &mut reader, span);
    common::finish(&mut call);
    // A convention may have moved a setting into the attributes already
    // (client settings found among the request parameters).
    for (key, value) in reader.leftover() {
        call.attributes.entry(key).or_insert(value);
    }
    Some(call)
}

/// A span with no GenAI attributes: the OTel span name gives operation and
/// request model, the instrumentation scope the provider.
fn fill_from_span_name(call: &mut Call, scope: &Scope, span: &Span) {
    if let Some((operation, model)) = common::split_span_name(&span.name) {
        call.operation = Some(operation.to_owned());
        call.request_model = model.map(str::to_owned);
    }
    call.provider = provider_from_scope(&scope.name);
}

/// Classifies a log record that carries GenAI content (the per-message
/// events of 1.28–1.36, `gen_ai.choice`, the 1.37+
/// `gen_ai.client.inference.operation.details` record, …); `None` for any
/// other record. The scope is not needed to read a record; it is taken so
/// callers pass the same context as for spans.
pub fn genai_event(resource: &Resource, _scope: &Scope, record: &LogRecord) -> Option<GenAiEvent> {
    events::from_log_record(resource, record)
}

/// Merges the events that belong to one span (same trace and span id) into
/// its call, filling what the call lacks; what the span said wins.
///
/// Pass every event stored for the span: the result depends only on that
/// set, not on its order, on how the events were split across requests or
/// on duplicates, so the writer re-deriving `call_from_span(span)` plus all
/// stored events always gets the same call. Applying the same set again
/// changes nothing.
pub fn apply_events(call: &mut Call, events: &[GenAiEvent]) {
    events::apply(call, events);
}

/// A call made from log events alone, for when no span names them (or
/// before the span arrives); `None` when there are no events.
///
/// Pass the events of one span (same trace and span id), or a single event
/// that has no span id (OpenLIT's operation-details record). The call takes
/// its trace and span id from the events and its start time from the
/// earliest event; its id therefore differs from the id the span's call
/// will have, and the writer replaces it by (trace, span) when the span
/// arrives. An event-only call without span ids matches its span's call
/// through [`describe_same_call`] by response id.
pub fn call_from_events(resource: &Resource, scope: &Scope, events: &[GenAiEvent]) -> Option<Call> {
    events::call_from_events(resource, scope, events)
}

/// Whether two calls describe the same provider API call: equal response
/// ids (even across traces) on records that overlap in time (give or take a
/// second) and do not name different services, or spans in a parent/child
/// relation with the same request model. Different response ids are never
/// the same call.
pub fn describe_same_call(a: &CallFacts, b: &CallFacts) -> bool {
    same_call::describe_same_call(a, b)
}

/// One call from two records of the same API call: the one tied to a span
/// is kept over an event-only one, else the one with more content (ties:
/// the smaller id), and its empty fields are filled from the other.
/// Symmetric in its arguments.
pub fn merge_same_call(primary: Call, other: Call) -> Call {
    same_call::merge_same_call(primary, other)
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::test_support::{resource, scope, span};
    use super::*;
    use crate::model::{CallStatus, KeyValue, SpanStatus, Value};

    #[test]
    fn spans_that_are_not_model_calls_give_none() {
        let cases = [
            (
                "opentelemetry.instrumentation.fastapi",
                span(
                    "POST /v1/chat",
                    json!({"http.request.method": "POST", "url.path": "/v1/chat"}),
                ),
            ),
            (
                "opentelemetry.util.genai.handler",
                span(
                    "execute_tool get_weather",
                    json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"}),
                ),
            ),
            (
                "opentelemetry.instrumentation.openai_v2",
                span(
                    "embeddings text-embedding-3-small",
                    json!({"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                           "gen_ai.request.model": "text-embedding-3-small"}),
                ),
            ),
            (
                "openinference.instrumentation.langchain",
                span(
                    "RunnableSequence",
                    json!({"openinference.span.kind": "CHAIN", "input.value": "hi",
                           "llm.model_name": "gpt-4o"}),
                ),
            ),
            // An OTel-looking name alone is not enough outside GenAI scopes.
            ("my.app", span("chat gpt-4o", json!({}))),
        ];
        for (scope_name, span) in cases {
            assert_eq!(
                call_from_span(&resource(), &scope(scope_name), &span),
                None,
                "{} in {scope_name}",
                span.name
            );
        }
    }

    /// OpenLIT's error spans carry no attributes: the span name and the
    /// scope are all there is (genai-conventions.md §0, fallback).
    #[test]
    fn a_bare_genai_span_is_read_from_its_name_and_scope() {
        let mut span = span("chat claude-3-5-haiku", json!({}));
        span.status = SpanStatus {
            code: SpanStatus::ERROR,
            message: "InternalServerError: Error code: 500".into(),
        };
        let call = call_from_span(
            &resource(),
            &scope("openlit.instrumentation.anthropic"),
            &span,
        )
        .expect("an LLM call");
        assert_eq!(call.operation.as_deref(), Some("chat"));
        assert_eq!(call.request_model.as_deref(), Some("claude-3-5-haiku"));
        assert_eq!(call.provider.as_deref(), Some("anthropic"));
        assert_eq!(call.status, CallStatus::Error);
        let error = call.error.expect("an error");
        assert_eq!(error.error_type.as_deref(), Some("InternalServerError"));
        assert_eq!(error.message.as_deref(), Some("Error code: 500"));
        assert_eq!(call.streaming, None);
    }

    #[test]
    fn call_identity_and_timing_come_from_the_span() {
        let span = span("chat gpt-4o", json!({"gen_ai.operation.name": "chat"}));
        let call = call_from_span(&resource(), &scope("x"), &span).expect("an LLM call");
        let mut seed = span.trace_id.as_bytes().to_vec();
        seed.extend_from_slice(span.span_id.as_bytes());
        assert_eq!(
            call.id,
            crate::model::CallId::derived(span.start_time_unix_nano, &seed)
        );
        assert_eq!(call.trace_id, Some(span.trace_id));
        assert_eq!(call.service.as_deref(), Some("unit"));
        assert_eq!(call.duration_ms, Some(250.0));
        assert_eq!(call.start_time_unix_nano, span.start_time_unix_nano);
    }

    /// Content attributes holding garbage read as missing fields; the call
    /// itself is still made from what is readable.
    #[test]
    fn garbage_content_gives_none_fields_not_failures() {
        let span = span(
            "chat gpt-4o",
            json!({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": ["not", "a", "string"],
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": "[{\"role\": \"user\", \"parts\": [",
                "gen_ai.output.messages": 42,
                "gen_ai.system_instructions": "{\"type\": \"text\"}",
                "gen_ai.tool.definitions": "null",
                "gen_ai.usage.input_tokens": "many",
                "gen_ai.usage.output_tokens": 1.5,
                "gen_ai.request.temperature": "hot",
                "gen_ai.response.finish_reasons": 7,
            }),
        );
        let call = call_from_span(&resource(), &scope("x"), &span).expect("still an LLM call");
        assert_eq!(call.request_model.as_deref(), Some("gpt-4o"));
        assert_eq!(call.provider, None);
        assert_eq!(call.input_messages, None);
        assert_eq!(call.output_messages, None);
        assert_eq!(call.system_instructions, None);
        assert_eq!(call.tool_definitions, None);
        assert_eq!(call.usage.input_tokens, None);
        assert_eq!(call.usage.output_tokens, None);
        assert_eq!(call.request_params.temperature, None);
        assert_eq!(call.finish_reasons, None);
        // What could not be read is kept, not lost.
        assert!(call.attributes.contains_key("gen_ai.usage.input_tokens"));
    }

    #[test]
    fn garbage_in_flattened_conventions_does_not_panic() {
        let openinference = span(
            "ChatCompletion",
            json!({
                "openinference.span.kind": "LLM",
                "llm.invocation_parameters": "[",
                "output.value": "{\"id\": 5}",
                "llm.input_messages.x.message.role": "user",
                "llm.input_messages.99999999999999999999999.message.content": "overflow",
                "llm.input_messages.0.message.contents.0.message_content.type": 3,
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{{",
            }),
        );
        let call = call_from_span(
            &resource(),
            &scope("openinference.instrumentation.openai"),
            &openinference,
        )
        .expect("an LLM call");
        assert_eq!(call.response_id, None);
        assert_eq!(call.streaming, None);
        let openllmetry = span(
            "openai.chat",
            json!({
                "llm.request.type": "chat",
                "gen_ai.prompt.0.content": "[{\"type\": ",
                "gen_ai.prompt.0.tool_calls.0.arguments": "{{",
                "gen_ai.completion.0.tool_calls.0.name": "f",
                "gen_ai.completion.0.tool_calls.0.arguments": "{{",
                "llm.request.functions.0.parameters": "{",
            }),
        );
        let call = call_from_span(
            &resource(),
            &scope("opentelemetry.instrumentation.openai.v1"),
            &openllmetry,
        )
        .expect("an LLM call");
        let outputs = call.output_messages.expect("outputs");
        // Arguments that are not JSON stay the string they were.
        assert!(matches!(
            &outputs[0].parts[0],
            crate::model::Part::ToolCall { arguments, .. } if *arguments == json!("{{")
        ));
    }

    #[test]
    fn event_only_call_takes_ids_and_content_from_its_events() {
        let span = span("chat gpt-4o", json!({}));
        let record = LogRecord {
            time_unix_nano: span.start_time_unix_nano + 10,
            event_name: "gen_ai.client.inference.operation.details".into(),
            attributes: test_support::attributes(json!({
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.id": "chatcmpl-1",
                "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}],
            })),
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            ..LogRecord::default()
        };
        let event = genai_event(&resource(), &scope("x"), &record).expect("a GenAI event");
        let call = call_from_events(&resource(), &scope("x"), &[event]).expect("a call");
        assert_eq!(call.trace_id, Some(span.trace_id));
        assert_eq!(call.span_id, Some(span.span_id));
        assert_eq!(call.response_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(call.input_messages.map(|m| m.len()), Some(1));
        assert_eq!(call_from_events(&resource(), &scope("x"), &[]), None);
    }

    #[test]
    fn operation_details_for_other_operations_are_not_events() {
        let record = LogRecord {
            event_name: "gen_ai.client.inference.operation.details".into(),
            attributes: test_support::attributes(json!({"gen_ai.operation.name": "embeddings"})),
            ..LogRecord::default()
        };
        assert_eq!(genai_event(&resource(), &scope("x"), &record), None);
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Double),
            any::<bool>().prop_map(Value::Bool),
            ".{0,12}".prop_map(Value::String),
            prop_oneof![
                Just("[{\"role\":\"user\",\"parts\":[{\"type\":\"tool_call\"}]}]"),
                Just("[{\"type\":\"tool_result\",\"content\":[{\"type\":\"text\"}]}]"),
                Just("{\"model\":[],\"stream\":\"yes\",\"n\":-1}"),
                Just("[{\"role\":7,\"content\":{\"type\":null}}]"),
                Just("[null, 1, \"x\", {\"index\": \"z\"}]"),
            ]
            .prop_map(|s| Value::String(s.to_owned())),
            Just(Value::Empty),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z_.]{1,8}", inner), 0..4).prop_map(|kvs| {
                    Value::KvList(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
                }),
            ]
        })
    }

    const KEYS: [&str; 24] = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.response.finish_reasons",
        "gen_ai.prompt",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.0.role",
        "gen_ai.completion.0.tool_calls.0.arguments",
        "llm.request.functions.0.parameters",
        "llm.input_messages.0.message.content",
        "llm.output_messages.0.message.contents.0.message_content.type",
        "llm.invocation_parameters",
        "output.value",
        "llm.tools.0.tool.json_schema",
        "tag.tags",
        "ai.prompt.messages",
        "ai.response.toolCalls",
        "ai.prompt.tools",
        "ai.settings.maxOutputTokens",
        "events",
        "model_request_parameters",
    ];

    proptest! {
        /// Whatever values the known keys hold, every convention's reader
        /// returns; nothing panics.
        #[test]
        fn arbitrary_values_under_known_keys_never_panic(
            values in prop::collection::vec(any_value(), KEYS.len()),
            body in any_value(),
        ) {
            let attributes: Vec<KeyValue> = KEYS
                .iter()
                .zip(values)
                .map(|(key, value)| KeyValue::new(*key, value))
                .collect();
            let setups = [
                ("gen_ai.operation.name", "chat", "opentelemetry.util.genai.handler"),
                ("llm.request.type", "chat", "opentelemetry.instrumentation.openai.v1"),
                ("openinference.span.kind", "LLM", "openinference.instrumentation.openai"),
                ("ai.operationId", "ai.streamText.doStream", "ai"),
                ("gen_ai.operation.name", "chat", "pydantic-ai"),
            ];
            for (key, value, scope_name) in setups {
                let mut span = span("chat m", json!({}));
                span.attributes = attributes.iter().cloned().collect();
                span.attributes.0.push(KeyValue::new(key, Value::String(value.into())));
                let call = call_from_span(&resource(), &scope(scope_name), &span);
                prop_assert!(call.is_some());
            }
            for name in ["gen_ai.choice", "gen_ai.tool.message", "gen_ai.client.inference.operation.details"] {
                let record = LogRecord {
                    event_name: name.into(),
                    body: Some(body.clone()),
                    attributes: attributes.iter().cloned().collect(),
                    ..LogRecord::default()
                };
                let events: Vec<GenAiEvent> =
                    genai_event(&resource(), &scope("x"), &record).into_iter().collect();
                let _ = call_from_events(&resource(), &scope("x"), &events);
            }
        }
    }
}

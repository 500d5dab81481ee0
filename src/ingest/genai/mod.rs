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
    call.attributes = reader.leftover();
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
/// ids (even across traces), or spans in a parent/child relation with the
/// same request model. Different response ids are never the same call.
pub fn describe_same_call(a: &CallFacts, b: &CallFacts) -> bool {
    same_call::describe_same_call(a, b)
}

/// One call from two records of the same API call: the one with more
/// content is kept (ties: the smaller id) and its empty fields are filled
/// from the other. Symmetric in its arguments.
pub fn merge_same_call(primary: Call, other: Call) -> Call {
    same_call::merge_same_call(primary, other)
}

#[cfg(test)]
pub(crate) mod test_support;

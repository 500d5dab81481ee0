//! What every convention shares: the call's identity and timing from the
//! span, errors from the span status and `exception` events, provider
//! spellings, and the gap-filling merge that events and duplicate spans use.

use serde_json::Value as Json;

use super::attrs::{AttrReader, json_f64, json_i64, non_empty};
use super::messages;
use crate::model::{
    Call, CallError, CallId, CallStatus, Resource, Source, Span, SpanStatus, canonical_tool_choice,
};

/// Attribute and event names that are not specific to GenAI.
pub(crate) mod keys {
    /// Error class of a failed operation (OTel general conventions, `error.type`).
    pub const ERROR_TYPE: &str = "error.type";
    /// Span event recording an exception (OTel exceptions conventions).
    pub const EXCEPTION_EVENT: &str = "exception";
    pub const EXCEPTION_TYPE: &str = "exception.type";
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    /// Session and user of the end user (OTel `session.id`, `user.id`;
    /// OpenInference uses the same keys, genai-conventions.md §3).
    pub const SESSION_ID: &str = "session.id";
    pub const USER_ID: &str = "user.id";
}

/// A call with what the span itself says: identity, service, timing and
/// whether the span status is an error.
pub(crate) fn base_call(resource: &Resource, span: &Span) -> Call {
    let mut seed = Vec::with_capacity(24);
    seed.extend_from_slice(span.trace_id.as_bytes());
    seed.extend_from_slice(span.span_id.as_bytes());
    let id = CallId::derived(span.start_time_unix_nano, &seed);
    let mut call = Call::new(id, Source::Otlp, span.start_time_unix_nano);
    call.trace_id = Some(span.trace_id);
    call.span_id = Some(span.span_id);
    call.service = resource.service_name().and_then(non_empty);
    if span.end_time_unix_nano != 0 && span.end_time_unix_nano >= span.start_time_unix_nano {
        call.duration_ms = Some(nanos_to_ms(span.duration_nanos()));
    }
    if span.status.code == SpanStatus::ERROR {
        call.status = CallStatus::Error;
    }
    call
}

pub(crate) fn nanos_to_ms(nanos: u64) -> f64 {
    nanos as f64 / 1_000_000.0
}

pub(crate) fn seconds_to_ms(seconds: f64) -> Option<f64> {
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds * 1000.0)
}

/// Milliseconds from the span start to an event inside it.
pub(crate) fn ms_since_start(span: &Span, time_unix_nano: u64) -> Option<f64> {
    if time_unix_nano < span.start_time_unix_nano || span.start_time_unix_nano == 0 {
        return None;
    }
    Some(nanos_to_ms(time_unix_nano - span.start_time_unix_nano))
}

/// Sets `slot` when it is still empty: the first source to say something wins.
pub(crate) fn set_if_none<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// The call's status and error from the span: status code 2, `error.type`,
/// the first `exception` event, and the status message (OpenInference
/// writes `"Class: message"` there).
pub(crate) fn apply_span_error(call: &mut Call, reader: &mut AttrReader<'_>, span: &Span) {
    let error_type = reader
        .take_str(keys::ERROR_TYPE)
        .map(|t| clean_error_type(&t));
    if span.status.code != SpanStatus::ERROR && error_type.is_none() {
        return;
    }
    call.status = CallStatus::Error;
    let exception = span.events.iter().find(|e| e.name == keys::EXCEPTION_EVENT);
    let exception_type =
        exception.and_then(|e| e.attributes.str(keys::EXCEPTION_TYPE).and_then(non_empty));
    let exception_message = exception.and_then(|e| {
        e.attributes
            .str(keys::EXCEPTION_MESSAGE)
            .and_then(non_empty)
    });
    let (status_class, status_message) = split_status_message(&span.status.message);
    let error = CallError {
        error_type: error_type.or(exception_type).or(status_class),
        message: exception_message.or(status_message),
    };
    if error.error_type.is_some() || error.message.is_some() {
        call.error = Some(error);
    }
}

/// Python instrumentations sometimes write the class repr
/// (`<class 'openai.InternalServerError'>`); the class name is what it means.
fn clean_error_type(raw: &str) -> String {
    raw.strip_prefix("<class '")
        .and_then(|rest| rest.strip_suffix("'>"))
        .unwrap_or(raw)
        .to_owned()
}

/// Splits `"InternalServerError: Error code: 500"` into class and message.
/// The part before the first `": "` counts as a class only when it looks
/// like one (a dotted identifier), so `"Error code: 500"` stays whole.
fn split_status_message(text: &str) -> (Option<String>, Option<String>) {
    let Some(text) = non_empty(text) else {
        return (None, None);
    };
    if let Some((head, rest)) = text.split_once(": ")
        && !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return (Some(head.to_owned()), non_empty(rest));
    }
    (None, Some(text))
}

/// The provider name in its current OTel spelling, lower-case. Spellings
/// that older conventions and other libraries use map to the registry's
/// well-known values (genai-conventions.md §1.2).
pub(crate) fn normalize_provider(raw: &str) -> Option<String> {
    let lower = non_empty(raw)?.trim().to_ascii_lowercase();
    let mapped = match lower.as_str() {
        "az.ai.inference" => "azure.ai.inference",
        "az.ai.openai" => "azure.ai.openai",
        "vertex_ai" | "vertexai" => "gcp.vertex_ai",
        "gemini" => "gcp.gemini",
        "xai" => "x_ai",
        "mistralai" | "mistral" => "mistral_ai",
        "bedrock" | "aws_bedrock" => "aws.bedrock",
        "watsonx" => "ibm.watsonx.ai",
        other => other,
    };
    Some(mapped.to_owned())
}

/// Fills every empty field of `target` from `source`; fields `target`
/// already has are kept. Identity fields (id, trace, span, start time) are
/// never taken from `source`. Messages are taken as whole lists: two
/// partial histories are never interleaved.
pub(crate) fn fill_gaps(target: &mut Call, source: &Call) {
    set_if_none(&mut target.service, source.service.clone());
    set_if_none(&mut target.provider, source.provider.clone());
    set_if_none(&mut target.operation, source.operation.clone());
    set_if_none(&mut target.request_model, source.request_model.clone());
    set_if_none(&mut target.response_model, source.response_model.clone());
    set_if_none(&mut target.response_id, source.response_id.clone());
    set_if_none(&mut target.duration_ms, source.duration_ms);
    set_if_none(&mut target.ttft_ms, source.ttft_ms);
    set_if_none(&mut target.streaming, source.streaming);
    set_if_none(
        &mut target.system_instructions,
        source.system_instructions.clone(),
    );
    if inputs_say_nothing(target) && has_messages(&source.input_messages) {
        target.input_messages = source.input_messages.clone();
    } else {
        fill_messages(&mut target.input_messages, &source.input_messages);
    }
    fill_messages(&mut target.output_messages, &source.output_messages);
    set_if_none(
        &mut target.tool_definitions,
        source.tool_definitions.clone(),
    );
    fill_params(target, source);
    set_if_none(&mut target.finish_reasons, source.finish_reasons.clone());
    set_if_none(&mut target.usage.input_tokens, source.usage.input_tokens);
    set_if_none(&mut target.usage.output_tokens, source.usage.output_tokens);
    set_if_none(
        &mut target.usage.cached_input_tokens,
        source.usage.cached_input_tokens,
    );
    set_if_none(
        &mut target.usage.reasoning_tokens,
        source.usage.reasoning_tokens,
    );
    set_if_none(&mut target.cost_usd, source.cost_usd);
    if source.status == CallStatus::Error {
        target.status = CallStatus::Error;
    }
    fill_error(target, source);
    set_if_none(&mut target.session_id, source.session_id.clone());
    set_if_none(&mut target.user_id, source.user_id.clone());
    for tag in &source.tags {
        if !target.tags.contains(tag) {
            target.tags.push(tag.clone());
        }
    }
    for (key, value) in &source.attributes {
        target
            .attributes
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
}

/// Whether a call's input history is empty, or only the system message that
/// normalization made from its `system_instructions` (normalization adds it
/// back once the real history is in).
fn inputs_say_nothing(call: &Call) -> bool {
    let Some(inputs) = call.input_messages.as_ref() else {
        return true;
    };
    match inputs.as_slice() {
        [] => true,
        [only] => {
            only.role == "system"
                && call
                    .system_instructions
                    .as_ref()
                    .is_some_and(|system| *system == only.parts)
        }
        _ => false,
    }
}

fn has_messages<T>(list: &Option<Vec<T>>) -> bool {
    list.as_ref().is_some_and(|l| !l.is_empty())
}

/// An empty list says as little as a missing one, so it is filled too.
fn fill_messages<T: Clone>(target: &mut Option<Vec<T>>, source: &Option<Vec<T>>) {
    let target_empty = target.as_ref().is_none_or(Vec::is_empty);
    if (target_empty && has_messages(source)) || target.is_none() {
        *target = source.clone();
    }
}

fn fill_params(target: &mut Call, source: &Call) {
    let to = &mut target.request_params;
    let from = &source.request_params;
    set_if_none(&mut to.temperature, from.temperature);
    set_if_none(&mut to.top_p, from.top_p);
    set_if_none(&mut to.top_k, from.top_k);
    set_if_none(&mut to.max_tokens, from.max_tokens);
    set_if_none(&mut to.stop_sequences, from.stop_sequences.clone());
    set_if_none(&mut to.seed, from.seed);
    set_if_none(&mut to.frequency_penalty, from.frequency_penalty);
    set_if_none(&mut to.presence_penalty, from.presence_penalty);
    set_if_none(&mut to.choice_count, from.choice_count);
    set_if_none(&mut to.response_format, from.response_format.clone());
    set_if_none(&mut to.tool_choice, from.tool_choice.clone());
    for (key, value) in &from.extra {
        to.extra.entry(key.clone()).or_insert_with(|| value.clone());
    }
}

fn fill_error(target: &mut Call, source: &Call) {
    let Some(from) = source.error.as_ref() else {
        return;
    };
    let to = target.error.get_or_insert_with(CallError::default);
    set_if_none(&mut to.error_type, from.error_type.clone());
    set_if_none(&mut to.message, from.message.clone());
}

/// Final touches every path shares: finish reasons from the output messages
/// when no list was given, then the message normalization rules.
pub(crate) fn finish(call: &mut Call) {
    if call.finish_reasons.is_none()
        && let Some(outputs) = call.output_messages.as_ref()
    {
        let reasons: Vec<String> = outputs
            .iter()
            .filter_map(|m| m.finish_reason.clone())
            .collect();
        if !reasons.is_empty() {
            call.finish_reasons = Some(reasons);
        }
    }
    messages::normalize(call);
}

/// How much a call says: message parts and tool definitions first, then
/// the number of filled scalar fields. Used to pick which of two records of
/// the same API call to keep.
pub(crate) fn content_score(call: &Call) -> (usize, usize) {
    let mut parts = 0;
    for list in [&call.input_messages, &call.output_messages]
        .into_iter()
        .flatten()
    {
        for message in list {
            parts += message.parts.len();
        }
    }
    parts += call.system_instructions.as_ref().map_or(0, Vec::len);
    parts += call.tool_definitions.as_ref().map_or(0, Vec::len);
    let filled = [
        call.service.is_some(),
        call.provider.is_some(),
        call.operation.is_some(),
        call.request_model.is_some(),
        call.response_model.is_some(),
        call.response_id.is_some(),
        call.duration_ms.is_some(),
        call.ttft_ms.is_some(),
        call.streaming.is_some(),
        call.finish_reasons.is_some(),
        call.usage.input_tokens.is_some(),
        call.usage.output_tokens.is_some(),
        call.usage.cached_input_tokens.is_some(),
        call.usage.reasoning_tokens.is_some(),
        call.error.is_some(),
        call.session_id.is_some(),
        call.user_id.is_some(),
    ]
    .iter()
    .filter(|filled| **filled)
    .count()
        + call.attributes.len()
        + usize::from(!call.request_params.is_empty());
    (parts, filled)
}

/// `"{operation} {model}"`, the OTel span name, split into its two halves
/// when the operation is an inference one.
pub(crate) fn split_span_name(name: &str) -> Option<(&str, Option<&str>)> {
    let (operation, model) = match name.split_once(' ') {
        Some((operation, model)) => (operation, non_empty(model).map(|_| model.trim())),
        None => (name, None),
    };
    super::is_inference_operation(operation).then_some((operation, model))
}

/// Request parameters from a JSON object of the provider's request (as
/// OpenInference's `llm.invocation_parameters` or the AI SDK's
/// `ai.settings.*` carry them). Keys may be snake_case or camelCase; keys
/// that are not parameters (`model`, `stream`, `messages`, `tools`,
/// `system`) are skipped because other fields hold them, and anything else
/// goes to the extras. A `null` parameter was not set, as the provider
/// parsers read it too. Settings of the SDK client rather than the model
/// ([`CLIENT_SETTINGS`]) go to the call's attributes under
/// `attributes_prefix`, so a replay does not send them to a provider that
/// would refuse them.
pub(crate) fn params_from_object(
    call: &mut Call,
    object: &serde_json::Map<String, Json>,
    attributes_prefix: &str,
) {
    for (key, value) in object {
        if value.is_null() {
            continue;
        }
        let name = snake_case(key);
        if CLIENT_SETTINGS.contains(&name.as_str()) {
            call.attributes
                .insert(format!("{attributes_prefix}{key}"), value.clone());
            continue;
        }
        let params = &mut call.request_params;
        match name.as_str() {
            "model" | "stream" | "messages" | "tools" | "system" | "prompt" => {}
            "temperature" => set_if_none(&mut params.temperature, json_f64(value)),
            "top_p" => set_if_none(&mut params.top_p, json_f64(value)),
            "top_k" => set_if_none(&mut params.top_k, json_f64(value)),
            "max_tokens" | "max_completion_tokens" | "max_output_tokens" => {
                set_if_none(&mut params.max_tokens, json_i64(value));
            }
            "stop" | "stop_sequences" => {
                set_if_none(&mut params.stop_sequences, string_list(value))
            }
            "seed" => set_if_none(&mut params.seed, json_i64(value)),
            "frequency_penalty" => set_if_none(&mut params.frequency_penalty, json_f64(value)),
            "presence_penalty" => set_if_none(&mut params.presence_penalty, json_f64(value)),
            "n" => set_if_none(&mut params.choice_count, json_i64(value)),
            "response_format" => set_if_none(&mut params.response_format, Some(value.clone())),
            "tool_choice" => {
                set_if_none(&mut params.tool_choice, Some(canonical_tool_choice(value)))
            }
            _ => insert_extra(call, key, value.clone()),
        }
    }
}

/// Settings SDKs record beside the model's parameters that configure the
/// client (retries, timeouts, headers, cancellation, telemetry), in
/// snake_case. No provider API takes them.
pub(crate) const CLIENT_SETTINGS: [&str; 12] = [
    "max_retries",
    "timeout",
    "request_timeout",
    "headers",
    "extra_headers",
    "default_headers",
    "abort_signal",
    "telemetry",
    "experimental_telemetry",
    "api_key",
    "base_url",
    "api_base",
];

fn string_list(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::String(text) => Some(vec![text.clone()]),
        Json::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(item.as_str()?.to_owned());
            }
            Some(out)
        }
        _ => None,
    }
}

/// `maxOutputTokens` → `max_output_tokens`; snake_case stays as it is.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keeps a request parameter that has no typed field, first writer wins.
pub(crate) fn insert_extra(call: &mut Call, key: &str, value: Json) {
    call.request_params
        .extra
        .entry(key.to_owned())
        .or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_message_class_is_split_only_when_it_looks_like_a_class() {
        assert_eq!(
            split_status_message("InternalServerError: Error code: 500 - boom"),
            (
                Some("InternalServerError".into()),
                Some("Error code: 500 - boom".into())
            )
        );
        assert_eq!(
            split_status_message("Error code: 500 - boom"),
            (None, Some("Error code: 500 - boom".into()))
        );
        assert_eq!(split_status_message(""), (None, None));
    }

    #[test]
    fn provider_spellings_map_to_the_registry() {
        assert_eq!(
            normalize_provider("Anthropic").as_deref(),
            Some("anthropic")
        );
        assert_eq!(
            normalize_provider("az.ai.openai").as_deref(),
            Some("azure.ai.openai")
        );
        assert_eq!(normalize_provider("xai").as_deref(), Some("x_ai"));
        assert_eq!(normalize_provider("  "), None);
    }

    #[test]
    fn a_null_response_format_or_tool_choice_is_not_recorded() {
        // `Some(null)` cannot survive storage (JSON reads `null` back as
        // none), so the stored call differed from the one derived; and a
        // parameter sent as null was not set in the first place.
        let mut call = Call::new(CallId(1), Source::Otlp, 0);
        let invocation = serde_json::json!({
            "response_format": null,
            "tool_choice": null,
            "logit_bias": null,
            "temperature": 0.5,
        });
        params_from_object(&mut call, invocation.as_object().expect("object"), "");
        assert_eq!(call.request_params.response_format, None);
        assert_eq!(call.request_params.tool_choice, None);
        assert!(call.request_params.extra.is_empty());
        assert_eq!(call.request_params.temperature, Some(0.5));
    }

    #[test]
    fn python_class_reprs_are_reduced_to_the_class() {
        assert_eq!(
            clean_error_type("<class 'openai.InternalServerError'>"),
            "openai.InternalServerError"
        );
        assert_eq!(clean_error_type("api_error"), "api_error");
    }

    #[test]
    fn client_settings_go_to_the_attributes_not_the_parameters() {
        let mut call = Call::new(CallId(1), Source::Otlp, 0);
        let invocation = serde_json::json!({
            "temperature": 0.5,
            "max_retries": 2,
            "timeout": 30,
            "logit_bias": {"1": 2},
        });
        params_from_object(
            &mut call,
            invocation.as_object().expect("object"),
            "llm.invocation_parameters.",
        );
        let params = &call.request_params;
        assert_eq!(params.temperature, Some(0.5));
        assert_eq!(params.extra.get("max_retries"), None);
        assert_eq!(params.extra.get("timeout"), None);
        assert!(params.extra.contains_key("logit_bias"));
        assert_eq!(
            call.attributes.get("llm.invocation_parameters.max_retries"),
            Some(&serde_json::json!(2))
        );
    }
}

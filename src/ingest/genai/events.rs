//! GenAI content that arrives as events rather than span attributes: the
//! 1.28–1.36 per-message events (`gen_ai.user.message`, `gen_ai.choice`, …)
//! as log records or span events, the 1.37+
//! `gen_ai.client.inference.operation.details` log record, and the 1.26/1.27
//! `gen_ai.content.*` events when they come as log records.
//!
//! Events are merged into a call by filling what the call lacks; the span's
//! own attributes always win. The result depends only on the *set* of
//! events: they are put in a canonical order (time, then kind, then
//! content) and exact duplicates are dropped before anything is read, so
//! the order in which events arrived, how they were split across requests
//! and whether one was delivered twice do not change the call.

use serde_json::Value as Json;

use super::attrs::{AttrReader, json_i64, json_str, value_to_json};
use super::common::{self, set_if_none};
use super::messages;
use super::otel;
use crate::model::{
    Call, CallId, Event, LogRecord, Message, Resource, Scope, Source, Span, SpanId, TraceId, Value,
};

/// Event names (genai-conventions.md §1.3–§1.5).
pub(crate) mod keys {
    pub const SYSTEM_MESSAGE: &str = "gen_ai.system.message";
    pub const USER_MESSAGE: &str = "gen_ai.user.message";
    pub const ASSISTANT_MESSAGE: &str = "gen_ai.assistant.message";
    pub const TOOL_MESSAGE: &str = "gen_ai.tool.message";
    pub const CHOICE: &str = "gen_ai.choice";
    pub const OPERATION_DETAILS: &str = "gen_ai.client.inference.operation.details";
    /// The event name as an attribute, as SDKs wrote it before the log
    /// record had an `event_name` field (§1.4).
    pub const EVENT_NAME_ATTRIBUTE: &str = "event.name";
    /// Some libraries (e.g. Azure AI Inference) emit the per-message events
    /// as span events with the body serialized into this attribute.
    pub const EVENT_CONTENT: &str = "gen_ai.event.content";
}

/// One piece of GenAI content from a log record (or span event), with the
/// ids that tie it to its span.
#[derive(Clone, Debug, PartialEq)]
pub struct GenAiEvent {
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    /// The record's time (or observed time when it has none).
    pub time_unix_nano: u64,
    /// The provider the record names (`gen_ai.provider.name` /
    /// `gen_ai.system`), normalized.
    pub provider: Option<String>,
    pub kind: GenAiEventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GenAiEventKind {
    /// One input message: `gen_ai.{system,user,assistant,tool}.message`.
    InputMessage(Message),
    /// One choice (`gen_ai.choice`): its index and the message, whose
    /// `finish_reason` is set when the event gave one.
    Choice {
        index: Option<i64>,
        message: Message,
    },
    /// A record carrying a whole call's facts and content
    /// (`gen_ai.client.inference.operation.details`, or a 1.26/1.27
    /// `gen_ai.content.prompt`/`completion` record), read into a partial
    /// call whose identity fields mean nothing.
    CallDetails(Box<Call>),
}

/// See [`super::genai_event`].
pub(crate) fn from_log_record(resource: &Resource, record: &LogRecord) -> Option<GenAiEvent> {
    let name = record.event_name()?;
    let body = record.body.as_ref().and_then(body_json);
    let kind = match name {
        keys::OPERATION_DETAILS => details_kind(resource, record)?,
        otel::keys::CONTENT_PROMPT_EVENT | otel::keys::CONTENT_COMPLETION_EVENT => {
            content_event_kind(name, &record.attributes, record.effective_time_unix_nano())?
        }
        other => message_kind(other, body.as_ref())?,
    };
    Some(GenAiEvent {
        trace_id: record.trace_id,
        span_id: record.span_id,
        time_unix_nano: record.effective_time_unix_nano(),
        provider: provider_of(&record.attributes),
        kind,
    })
}

/// A span event with a per-message event name, read the same way as the log
/// record form. The body is the `gen_ai.event.content` JSON string when
/// present, else the event's attributes themselves.
pub(crate) fn from_span_event(span: &Span, event: &Event) -> Option<GenAiEvent> {
    message_name(&event.name)?;
    let body = match event.attributes.get(keys::EVENT_CONTENT) {
        Some(content) => value_to_json(content),
        None => Some(attributes_as_body(event)),
    };
    let kind = message_kind(&event.name, body.as_ref())?;
    Some(GenAiEvent {
        trace_id: Some(span.trace_id),
        span_id: Some(span.span_id),
        time_unix_nano: event.time_unix_nano,
        provider: provider_of(&event.attributes),
        kind,
    })
}

/// A span event's attributes as an event body, without the attributes
/// that describe the event rather than the message.
fn attributes_as_body(event: &Event) -> Json {
    let mut body = event.attributes.to_plain_json_object();
    body.remove(otel::keys::SYSTEM);
    body.remove(otel::keys::PROVIDER_NAME);
    body.remove(keys::EVENT_NAME_ATTRIBUTE);
    Json::Object(body)
}

fn body_json(body: &Value) -> Option<Json> {
    match body {
        Value::Empty => None,
        Value::String(text) if text.is_empty() => None,
        // A string body is either serialized JSON or the content itself.
        Value::String(text) => {
            Some(super::attrs::parse_json(text).unwrap_or_else(|| Json::String(text.clone())))
        }
        other => Some(other.to_plain_json()),
    }
}

fn provider_of(attributes: &crate::model::Attributes) -> Option<String> {
    attributes
        .str(otel::keys::PROVIDER_NAME)
        .or_else(|| attributes.str(otel::keys::SYSTEM))
        .and_then(common::normalize_provider)
}

fn message_name(name: &str) -> Option<&str> {
    match name {
        keys::SYSTEM_MESSAGE
        | keys::USER_MESSAGE
        | keys::ASSISTANT_MESSAGE
        | keys::TOOL_MESSAGE
        | keys::CHOICE => Some(name),
        _ => None,
    }
}

/// A per-message event's body as a message or choice. Events without
/// content (capture off) still count: they tell the role and the count.
pub(crate) fn message_kind(name: &str, body: Option<&Json>) -> Option<GenAiEventKind> {
    message_name(name)?;
    let empty = serde_json::Map::new();
    let object = match body {
        Some(Json::Object(object)) => object.clone(),
        // A bare body is the content itself.
        Some(other) => {
            let mut object = serde_json::Map::new();
            object.insert("content".into(), other.clone());
            object
        }
        None => empty,
    };
    if name == keys::CHOICE {
        let index = object.get("index").and_then(json_i64);
        let message_object = object
            .get("message")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let mut message = messages::provider_message(&message_object, "assistant");
        message.finish_reason = json_str(&object, "finish_reason");
        return Some(GenAiEventKind::Choice { index, message });
    }
    let role = role_from_event_name(name).unwrap_or("user");
    Some(GenAiEventKind::InputMessage(messages::provider_message(
        &object, role,
    )))
}

/// The role a per-message event implies when its body names none (the
/// 1.28–1.36 events omit the obvious one).
fn role_from_event_name(name: &str) -> Option<&'static str> {
    match name {
        keys::SYSTEM_MESSAGE => Some("system"),
        keys::USER_MESSAGE => Some("user"),
        keys::ASSISTANT_MESSAGE => Some("assistant"),
        keys::TOOL_MESSAGE => Some("tool"),
        _ => None,
    }
}

/// The operation-details record: the same attributes as an inference span,
/// content as structured values. `None` when it names a non-inference
/// operation.
fn details_kind(resource: &Resource, record: &LogRecord) -> Option<GenAiEventKind> {
    let mut partial = Call::new(CallId(0), Source::Otlp, record.effective_time_unix_nano());
    partial.service = resource.service_name().and_then(super::attrs::non_empty);
    let mut reader = AttrReader::new(&record.attributes);
    otel::fill_attributes(&mut partial, &mut reader);
    if let Some(operation) = partial.operation.as_deref()
        && !super::is_inference_operation(operation)
    {
        return None;
    }
    if let Some(error_type) = reader.take_str(common::keys::ERROR_TYPE) {
        partial.status = crate::model::CallStatus::Error;
        partial.error = Some(crate::model::CallError {
            error_type: Some(error_type),
            message: None,
        });
    }
    partial.attributes = reader.leftover();
    Some(GenAiEventKind::CallDetails(Box::new(partial)))
}

/// 1.26/1.27 content events that arrive as log records.
fn content_event_kind(
    name: &str,
    attributes: &crate::model::Attributes,
    time_unix_nano: u64,
) -> Option<GenAiEventKind> {
    let mut partial = Call::new(CallId(0), Source::Otlp, time_unix_nano);
    if name == otel::keys::CONTENT_PROMPT_EVENT {
        let json = value_to_json(attributes.get(otel::keys::PROMPT)?)?;
        partial.input_messages = messages::provider_messages(&json, "user");
    } else {
        let json = value_to_json(attributes.get(otel::keys::COMPLETION)?)?;
        partial.output_messages = messages::provider_messages(&json, "assistant");
    }
    Some(GenAiEventKind::CallDetails(Box::new(partial)))
}

/// The content of a set of events, read in canonical order.
struct EventContent<'a> {
    inputs: Vec<Message>,
    choices: Vec<(Option<i64>, Message)>,
    details: Vec<&'a Call>,
    provider: Option<String>,
}

/// Events sorted by time, then kind, then content, with exact duplicates
/// removed: the same set always reads the same way.
fn canonical_order(events: &[GenAiEvent]) -> Vec<&GenAiEvent> {
    let mut keyed: Vec<(u64, u8, String, &GenAiEvent)> = Vec::with_capacity(events.len());
    for event in events {
        let rank = match event.kind {
            GenAiEventKind::CallDetails(_) => 0,
            GenAiEventKind::InputMessage(_) => 1,
            GenAiEventKind::Choice { .. } => 2,
        };
        keyed.push((event.time_unix_nano, rank, format!("{event:?}"), event));
    }
    keyed.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    keyed.dedup_by(|a, b| a.2 == b.2);
    keyed.into_iter().map(|(_, _, _, event)| event).collect()
}

impl<'a> EventContent<'a> {
    fn collect(events: &'a [GenAiEvent]) -> Self {
        let mut content = EventContent {
            inputs: Vec::new(),
            choices: Vec::new(),
            details: Vec::new(),
            provider: None,
        };
        for event in canonical_order(events) {
            set_if_none(&mut content.provider, event.provider.clone());
            match &event.kind {
                GenAiEventKind::InputMessage(message) => content.inputs.push(message.clone()),
                GenAiEventKind::Choice { index, message } => {
                    content.choices.push((*index, message.clone()));
                }
                GenAiEventKind::CallDetails(partial) => content.details.push(partial),
            }
        }
        // Stable: choices with the same index keep their time order.
        content.choices.sort_by_key(|(index, _)| *index);
        content
    }

    fn apply_to(self, call: &mut Call) {
        for partial in self.details {
            common::fill_gaps(call, partial);
        }
        if !self.inputs.is_empty() {
            let mut from_messages = Call::new(call.id, call.source, call.start_time_unix_nano);
            from_messages.input_messages = Some(self.inputs);
            common::fill_gaps(call, &from_messages);
        }
        if !self.choices.is_empty() {
            let outputs: Vec<Message> = self.choices.into_iter().map(|(_, m)| m).collect();
            let mut from_choices = Call::new(call.id, call.source, call.start_time_unix_nano);
            let reasons: Vec<String> = outputs
                .iter()
                .filter_map(|m| m.finish_reason.clone())
                .collect();
            if !reasons.is_empty() {
                from_choices.finish_reasons = Some(reasons);
            }
            from_choices.output_messages = Some(outputs);
            common::fill_gaps(call, &from_choices);
        }
        set_if_none(&mut call.provider, self.provider);
    }
}

/// See [`super::apply_events`].
pub(crate) fn apply(call: &mut Call, events: &[GenAiEvent]) {
    if events.is_empty() {
        return;
    }
    EventContent::collect(events).apply_to(call);
    common::finish(call);
}

/// See [`super::call_from_events`].
pub(crate) fn call_from_events(
    resource: &Resource,
    scope: &Scope,
    events: &[GenAiEvent],
) -> Option<Call> {
    let ordered = canonical_order(events);
    let first = ordered.first()?;
    let mut start_time_unix_nano = first.time_unix_nano;
    for event in &ordered {
        if event.time_unix_nano != 0 && event.time_unix_nano < start_time_unix_nano {
            start_time_unix_nano = event.time_unix_nano;
        }
    }
    let ids = ordered.iter().find_map(|e| Some((e.trace_id?, e.span_id?)));
    let seed = match ids {
        Some((trace_id, span_id)) => {
            let mut seed = trace_id.as_bytes().to_vec();
            seed.extend_from_slice(span_id.as_bytes());
            seed
        }
        // No span to name the call: the content identifies it.
        None => format!("genai-events:{first:?}").into_bytes(),
    };
    let id = CallId::derived(start_time_unix_nano, &seed);
    let mut call = Call::new(id, Source::Otlp, start_time_unix_nano);
    if let Some((trace_id, span_id)) = ids {
        call.trace_id = Some(trace_id);
        call.span_id = Some(span_id);
    }
    call.service = resource.service_name().and_then(super::attrs::non_empty);
    EventContent::collect(events).apply_to(&mut call);
    set_if_none(&mut call.provider, super::provider_from_scope(&scope.name));
    common::finish(&mut call);
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeyValue, Part};
    use serde_json::json;

    fn record(name: &str, body: Json, time: u64) -> LogRecord {
        LogRecord {
            time_unix_nano: time,
            body: Some(Value::from_plain_json(&body)),
            attributes: [
                KeyValue::new("event.name", Value::String(name.into())),
                KeyValue::new("gen_ai.system", Value::String("openai".into())),
            ]
            .into_iter()
            .collect(),
            ..LogRecord::default()
        }
    }

    #[test]
    fn per_message_records_become_messages_and_choices() {
        let resource = Resource::default();
        let user = from_log_record(
            &resource,
            &record("gen_ai.user.message", json!({"content": "hi"}), 1),
        )
        .expect("user event");
        assert_eq!(
            user.kind,
            GenAiEventKind::InputMessage(Message::text("user", "hi"))
        );
        assert_eq!(user.provider.as_deref(), Some("openai"));
        let choice = from_log_record(
            &resource,
            &record(
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": "yo"}}),
                2,
            ),
        )
        .expect("choice event");
        let GenAiEventKind::Choice { index, message } = choice.kind else {
            panic!("not a choice: {choice:?}");
        };
        assert_eq!(index, Some(0));
        assert_eq!(message.role, "assistant");
        assert_eq!(message.finish_reason.as_deref(), Some("stop"));
        assert_eq!(message.parts, vec![Part::text("yo")]);
    }

    #[test]
    fn a_record_without_a_genai_name_is_not_an_event() {
        let resource = Resource::default();
        let log = record("app.started", json!({"x": 1}), 1);
        assert_eq!(from_log_record(&resource, &log), None);
        let evaluation = record("gen_ai.evaluation.result", json!({}), 1);
        assert_eq!(from_log_record(&resource, &evaluation), None);
    }

    #[test]
    fn content_free_choice_still_reads() {
        let kind = message_kind(
            "gen_ai.choice",
            Some(&json!({"index": 0, "finish_reason": "stop", "message": {}})),
        )
        .expect("choice");
        let GenAiEventKind::Choice { message, .. } = kind else {
            panic!("not a choice");
        };
        assert!(message.parts.is_empty());
    }
}

//! Pydantic AI / Logfire (genai-conventions.md §4.3). Model requests are
//! OTel spans named `chat {model}`; the content depends on
//! `InstrumentationSettings.version`:
//!
//! - version 1 writes the 1.28–1.36 per-message events, as log records
//!   (read by [`super::events`]) or packed into ONE span attribute `events`
//!   (a JSON array of event objects: the body's fields plus the event's
//!   attributes), which is read here;
//! - versions 2 and 3 write the OTel 1.37 content attributes, with Pydantic's
//!   part spellings (`result`, `thinking`) that [`super::messages`] accepts.
//!
//! Tool definitions come from `model_request_parameters`.

use serde_json::{Map, Value as Json};

use super::attrs::{AttrReader, json_str};
use super::events::{self, GenAiEvent};
use super::messages;
use super::otel;
use crate::model::{Call, Scope, Span};

/// Pydantic AI's own keys (pydantic_ai/models/instrumented.py).
pub(crate) mod keys {
    pub const SCOPE_NAME: &str = "pydantic-ai";
    /// Version 1, `event_mode="attributes"`: all events as one JSON string.
    pub const EVENTS: &str = "events";
    /// JSON of the request's parameters: `function_tools`, `output_tools`, …
    pub const MODEL_REQUEST_PARAMETERS: &str = "model_request_parameters";
    /// Keys inside an event object that are event attributes, not content.
    pub const EVENT_NAME: &str = "event.name";
    pub const MESSAGE_INDEX: &str = "gen_ai.message.index";
}

pub(crate) fn owns(scope: &Scope, span: &Span) -> bool {
    scope.name == keys::SCOPE_NAME
        || scope.name.starts_with("logfire")
        || span.attributes.get(keys::EVENTS).is_some()
        || span
            .attributes
            .get(keys::MODEL_REQUEST_PARAMETERS)
            .is_some()
}

pub(crate) fn fill(call: &mut Call, reader: &mut AttrReader, scope: &Scope, span: &Span) {
    otel::fill_span(call, reader, scope, span);
    if let Some(Json::Array(items)) = reader.take_json(keys::EVENTS) {
        let packed = packed_events(span, &items);
        events::apply(call, &packed);
    }
    if call.tool_definitions.is_none()
        && let Some(Json::Object(parameters)) = reader.take_json(keys::MODEL_REQUEST_PARAMETERS)
    {
        call.tool_definitions = tool_definitions(&parameters);
    }
}

/// The `events` attribute's objects as events of this span. Their order in
/// the array is the message order, so each gets the span start plus its
/// position as time: canonical event ordering then keeps that order.
fn packed_events(span: &Span, items: &[Json]) -> Vec<GenAiEvent> {
    let mut out = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            continue;
        };
        let Some(name) = event_name(object) else {
            continue;
        };
        let mut body = object.clone();
        for key in [keys::EVENT_NAME, keys::MESSAGE_INDEX, otel::keys::SYSTEM] {
            body.remove(key);
        }
        let Some(kind) = events::message_kind(&name, Some(&Json::Object(body))) else {
            continue;
        };
        out.push(GenAiEvent {
            trace_id: Some(span.trace_id),
            span_id: Some(span.span_id),
            time_unix_nano: span.start_time_unix_nano.saturating_add(position as u64),
            provider: None,
            kind,
        });
    }
    out
}

/// The event name an object carries, or the one its shape implies (newer
/// versions leave `event.name` out of the packed objects): a `message`
/// field makes a choice, else the role names the message event.
fn event_name(object: &Map<String, Json>) -> Option<String> {
    if let Some(name) = json_str(object, keys::EVENT_NAME) {
        return Some(name);
    }
    if object.contains_key("message") {
        return Some(events::keys::CHOICE.to_owned());
    }
    let role = json_str(object, "role")?;
    Some(format!("gen_ai.{role}.message"))
}

/// `function_tools` and `output_tools` of `model_request_parameters`.
fn tool_definitions(parameters: &Map<String, Json>) -> Option<Vec<Json>> {
    let mut out = Vec::new();
    let mut found = false;
    for key in ["function_tools", "output_tools"] {
        if let Some(Json::Array(tools)) = parameters.get(key) {
            found = true;
            for tool in tools {
                out.push(messages::tool_definition(tool.clone()));
            }
        }
    }
    found.then_some(out)
}

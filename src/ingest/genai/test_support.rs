//! Small builders for unit tests of conventions that have no captured
//! fixtures: a span is its name, scope and attributes, written as JSON.

use serde_json::Value as Json;

use crate::model::{
    Attributes, Event, KeyValue, Resource, Scope, Span, SpanId, SpanStatus, TraceId, Value,
};

pub(crate) const START: u64 = 1_700_000_000_000_000_000;

/// Attributes from a JSON object; JSON strings, numbers, bools and arrays
/// map to the OTLP value of the same kind.
pub(crate) fn attributes(json: Json) -> Attributes {
    let mut out = Vec::new();
    if let Json::Object(map) = json {
        for (key, value) in map {
            out.push(KeyValue::new(key, Value::from_plain_json(&value)));
        }
    }
    Attributes::new(out)
}

pub(crate) fn span(name: &str, attrs: Json) -> Span {
    Span {
        trace_id: TraceId([7; 16]),
        span_id: SpanId([3; 8]),
        parent_span_id: None,
        trace_state: String::new(),
        flags: 0,
        name: name.to_owned(),
        kind: 3,
        start_time_unix_nano: START,
        end_time_unix_nano: START + 250_000_000,
        attributes: attributes(attrs),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: SpanStatus::default(),
    }
}

pub(crate) fn event(name: &str, offset_nanos: u64, attrs: Json) -> Event {
    Event {
        time_unix_nano: START + offset_nanos,
        name: name.to_owned(),
        attributes: attributes(attrs),
        dropped_attributes_count: 0,
    }
}

pub(crate) fn scope(name: &str) -> Scope {
    Scope {
        name: name.to_owned(),
        ..Scope::default()
    }
}

pub(crate) fn resource() -> Resource {
    Resource {
        attributes: attributes(serde_json::json!({"service.name": "unit"})),
        ..Resource::default()
    }
}

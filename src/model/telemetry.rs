//! Spans and log records as received, with their resource and scope: the
//! lossless domain form of OTLP's trace and log data.

use std::sync::Arc;

use super::ids::{SpanId, TraceId};
use super::value::{Attributes, Value};

/// The entity that produced telemetry (`service.name` and friends).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

impl Resource {
    pub fn service_name(&self) -> Option<&str> {
        self.attributes.str("service.name")
    }
}

/// The instrumentation scope (library) that produced telemetry.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// OTLP span status; `code` is 0 unset, 1 ok, 2 error.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SpanStatus {
    pub code: i32,
    pub message: String,
}

impl SpanStatus {
    pub const UNSET: i32 = 0;
    pub const OK: i32 = 1;
    pub const ERROR: i32 = 2;

    pub fn is_error(&self) -> bool {
        self.code == Self::ERROR
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Event {
    pub time_unix_nano: u64,
    pub name: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub flags: u32,
}

/// One span, every field of OTLP's `Span` kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    pub flags: u32,
    pub name: String,
    /// OTLP `SpanKind`: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: SpanStatus,
}

impl Span {
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano)
    }
}

/// One OTLP log record (an "event" when `event_name` is set).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LogRecord {
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_number: i32,
    pub severity_text: String,
    /// `None` when the record carried no body at all.
    pub body: Option<Value>,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub flags: u32,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub event_name: String,
}

impl LogRecord {
    /// The event name: the `event_name` field, or the older `event.name`
    /// attribute that SDKs wrote before the field existed.
    pub fn event_name(&self) -> Option<&str> {
        if !self.event_name.is_empty() {
            return Some(&self.event_name);
        }
        self.attributes.str("event.name")
    }

    /// The time that best places the record: its own time, else when it was observed.
    pub fn effective_time_unix_nano(&self) -> u64 {
        if self.time_unix_nano != 0 {
            self.time_unix_nano
        } else {
            self.observed_time_unix_nano
        }
    }
}

/// Spans that share a resource and a scope.
#[derive(Debug, Clone)]
pub struct SpanGroup {
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub spans: Vec<Span>,
}

/// Log records that share a resource and a scope.
#[derive(Debug, Clone)]
pub struct LogGroup {
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
    pub records: Vec<LogRecord>,
}

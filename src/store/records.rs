//! Stored forms of spans, log records, resources and scopes: what the
//! indexed columns of a row do not hold, encoded with [`codec`](super::codec).

use std::collections::HashMap;

use super::codec::{
    DecodeError, Decoder, Encoder, StoredKeyValue, StoredValue, collect_hashes, collect_kv_hashes,
};
use crate::model::{Event, Link, LogRecord, Resource, Scope, Span, SpanId, SpanStatus, TraceId};

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredSpanBody {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
    #[prost(message, repeated, tag = "3")]
    pub events: Vec<StoredEvent>,
    #[prost(uint32, tag = "4")]
    pub dropped_events_count: u32,
    #[prost(message, repeated, tag = "5")]
    pub links: Vec<StoredLink>,
    #[prost(uint32, tag = "6")]
    pub dropped_links_count: u32,
    #[prost(string, tag = "7")]
    pub trace_state: String,
    #[prost(fixed32, tag = "8")]
    pub flags: u32,
    #[prost(string, tag = "9")]
    pub status_message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredEvent {
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "4")]
    pub dropped_attributes_count: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredLink {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub trace_state: String,
    #[prost(message, repeated, tag = "4")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "5")]
    pub dropped_attributes_count: u32,
    #[prost(fixed32, tag = "6")]
    pub flags: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredLogBody {
    #[prost(fixed64, tag = "1")]
    pub observed_time_unix_nano: u64,
    #[prost(string, tag = "2")]
    pub severity_text: String,
    /// Absent when the record had no body at all.
    #[prost(message, optional, tag = "3")]
    pub body: Option<StoredValue>,
    #[prost(message, repeated, tag = "4")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "5")]
    pub dropped_attributes_count: u32,
    #[prost(fixed32, tag = "6")]
    pub flags: u32,
    #[prost(string, tag = "7")]
    pub event_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredResource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<StoredKeyValue>,
    #[prost(uint32, tag = "4")]
    pub dropped_attributes_count: u32,
    #[prost(string, tag = "5")]
    pub schema_url: String,
}

impl StoredSpanBody {
    pub fn encode_from(span: &Span, encoder: &mut Encoder) -> Self {
        Self {
            attributes: encoder.attributes(&span.attributes),
            dropped_attributes_count: span.dropped_attributes_count,
            events: span
                .events
                .iter()
                .map(|event| StoredEvent {
                    time_unix_nano: event.time_unix_nano,
                    name: event.name.clone(),
                    attributes: encoder.attributes(&event.attributes),
                    dropped_attributes_count: event.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: span.dropped_events_count,
            links: span
                .links
                .iter()
                .map(|link| StoredLink {
                    trace_id: link.trace_id.as_bytes().to_vec(),
                    span_id: link.span_id.as_bytes().to_vec(),
                    trace_state: link.trace_state.clone(),
                    attributes: encoder.attributes(&link.attributes),
                    dropped_attributes_count: link.dropped_attributes_count,
                    flags: link.flags,
                })
                .collect(),
            dropped_links_count: span.dropped_links_count,
            trace_state: span.trace_state.clone(),
            flags: span.flags,
            status_message: span.status.message.clone(),
        }
    }

    pub fn hashes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        collect_kv_hashes(&self.attributes, &mut out);
        for event in &self.events {
            collect_kv_hashes(&event.attributes, &mut out);
        }
        for link in &self.links {
            collect_kv_hashes(&link.attributes, &mut out);
        }
        out
    }
}

/// The indexed columns of a span row, which together with the body make the span.
#[derive(Clone, Debug)]
pub struct SpanColumns {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub status_code: i32,
}

impl SpanColumns {
    pub fn of(span: &Span) -> Self {
        Self {
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            name: span.name.clone(),
            kind: span.kind,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            status_code: span.status.code,
        }
    }

    pub fn into_span(
        self,
        body: &StoredSpanBody,
        blobs: &HashMap<Vec<u8>, Vec<u8>>,
    ) -> Result<Span, DecodeError> {
        let decoder = Decoder { blobs };
        let mut events = Vec::with_capacity(body.events.len());
        for event in &body.events {
            events.push(Event {
                time_unix_nano: event.time_unix_nano,
                name: event.name.clone(),
                attributes: decoder.attributes(&event.attributes)?,
                dropped_attributes_count: event.dropped_attributes_count,
            });
        }
        let mut links = Vec::with_capacity(body.links.len());
        for link in &body.links {
            links.push(Link {
                trace_id: TraceId::try_from(link.trace_id.as_slice())
                    .map_err(|_| corrupt("link trace id"))?,
                span_id: SpanId::try_from(link.span_id.as_slice())
                    .map_err(|_| corrupt("link span id"))?,
                trace_state: link.trace_state.clone(),
                attributes: decoder.attributes(&link.attributes)?,
                dropped_attributes_count: link.dropped_attributes_count,
                flags: link.flags,
            });
        }
        Ok(Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            trace_state: body.trace_state.clone(),
            flags: body.flags,
            name: self.name,
            kind: self.kind,
            start_time_unix_nano: self.start_time_unix_nano,
            end_time_unix_nano: self.end_time_unix_nano,
            attributes: decoder.attributes(&body.attributes)?,
            dropped_attributes_count: body.dropped_attributes_count,
            events,
            dropped_events_count: body.dropped_events_count,
            links,
            dropped_links_count: body.dropped_links_count,
            status: SpanStatus {
                code: self.status_code,
                message: body.status_message.clone(),
            },
        })
    }
}

fn corrupt(what: &'static str) -> DecodeError {
    DecodeError::Invalid(what)
}

impl StoredLogBody {
    pub fn encode_from(record: &LogRecord, encoder: &mut Encoder) -> Self {
        Self {
            observed_time_unix_nano: record.observed_time_unix_nano,
            severity_text: record.severity_text.clone(),
            body: record.body.as_ref().map(|body| encoder.value(body)),
            attributes: encoder.attributes(&record.attributes),
            dropped_attributes_count: record.dropped_attributes_count,
            flags: record.flags,
            event_name: record.event_name.clone(),
        }
    }

    pub fn hashes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(body) = &self.body {
            collect_hashes(body, &mut out);
        }
        collect_kv_hashes(&self.attributes, &mut out);
        out
    }
}

/// The indexed columns of a log record row.
#[derive(Clone, Debug)]
pub struct LogColumns {
    pub time_unix_nano: u64,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub severity_number: i32,
}

impl LogColumns {
    pub fn of(record: &LogRecord) -> Self {
        Self {
            time_unix_nano: record.time_unix_nano,
            trace_id: record.trace_id,
            span_id: record.span_id,
            severity_number: record.severity_number,
        }
    }

    pub fn into_record(
        self,
        body: &StoredLogBody,
        blobs: &HashMap<Vec<u8>, Vec<u8>>,
    ) -> Result<LogRecord, DecodeError> {
        let decoder = Decoder { blobs };
        Ok(LogRecord {
            time_unix_nano: self.time_unix_nano,
            observed_time_unix_nano: body.observed_time_unix_nano,
            severity_number: self.severity_number,
            severity_text: body.severity_text.clone(),
            body: body.body.as_ref().map(|b| decoder.value(b)).transpose()?,
            attributes: decoder.attributes(&body.attributes)?,
            dropped_attributes_count: body.dropped_attributes_count,
            flags: body.flags,
            trace_id: self.trace_id,
            span_id: self.span_id,
            event_name: body.event_name.clone(),
        })
    }
}

impl StoredResource {
    /// Resources are small and few; their attributes are stored inline
    /// (no blob references) so a resource row stands alone.
    pub fn of(resource: &Resource) -> Self {
        Self {
            attributes: Encoder::inline().attributes(&resource.attributes),
            dropped_attributes_count: resource.dropped_attributes_count,
            schema_url: resource.schema_url.clone(),
        }
    }

    pub fn into_resource(self) -> Result<Resource, DecodeError> {
        let blobs = HashMap::new();
        Ok(Resource {
            attributes: Decoder { blobs: &blobs }.attributes(&self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count,
            schema_url: self.schema_url,
        })
    }
}

impl StoredScope {
    pub fn of(scope: &Scope) -> Self {
        Self {
            name: scope.name.clone(),
            version: scope.version.clone(),
            attributes: Encoder::inline().attributes(&scope.attributes),
            dropped_attributes_count: scope.dropped_attributes_count,
            schema_url: scope.schema_url.clone(),
        }
    }

    pub fn into_scope(self) -> Result<Scope, DecodeError> {
        let blobs = HashMap::new();
        Ok(Scope {
            name: self.name,
            version: self.version,
            attributes: Decoder { blobs: &blobs }.attributes(&self.attributes)?,
            dropped_attributes_count: self.dropped_attributes_count,
            schema_url: self.schema_url,
        })
    }
}

//! Stored forms of spans, log records, resources and scopes: what the
//! indexed columns of a row do not hold, encoded with [`codec`](crate::store::encoding::codec).

use std::collections::HashMap;

use crate::model::{Event, Link, LogRecord, Resource, Scope, Span, SpanId, SpanStatus, TraceId};
use crate::store::encoding::codec::{
    DecodeError, Decoder, Encoder, StoredKeyValue, StoredValue, collect_hashes, collect_kv_hashes,
};

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

#[cfg(test)]
mod tests {
    //! Spans and log records through their stored form: the body encoded
    //! with the codec, serialized by prost, parsed, and joined again with
    //! the row's columns.

    use super::*;
    use crate::model::{Attributes, KeyValue, Value};
    use proptest::prelude::*;
    use prost::Message as _;

    fn blob_map(encoder: Encoder) -> HashMap<Vec<u8>, Vec<u8>> {
        encoder
            .blobs
            .into_iter()
            .map(|(hash, content)| (hash.to_vec(), content))
            .collect()
    }

    fn value() -> impl Strategy<Value = Value> {
        use prop::num::f64;
        let leaf = prop_oneof![
            Just(Value::Empty),
            any::<String>().prop_map(Value::String),
            // Long enough to be stored as blobs, JSON or not.
            "[a-z \"{}\\[\\]:,]{120,200}".prop_map(Value::String),
            "[a-zé \n]{130,160}".prop_map(|text| Value::String(
                serde_json::json!([{"role": "user", "content": text}]).to_string()
            )),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            (f64::NORMAL | f64::ZERO | f64::INFINITE | f64::SUBNORMAL).prop_map(Value::Double),
            prop::collection::vec(any::<u8>(), 0..200).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-z.]{1,10}", inner), 0..4).prop_map(|kvs| {
                    Value::KvList(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
                }),
            ]
        })
    }

    fn attributes() -> impl Strategy<Value = Attributes> {
        prop::collection::vec(("[a-z_.]{0,16}", value()), 0..5)
            .prop_map(|kvs| kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
    }

    fn event() -> impl Strategy<Value = Event> {
        (any::<u64>(), any::<String>(), attributes(), any::<u32>()).prop_map(
            |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
                time_unix_nano,
                name,
                attributes,
                dropped_attributes_count,
            },
        )
    }

    fn link() -> impl Strategy<Value = Link> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 8]>(),
            any::<String>(),
            attributes(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(trace_id, span_id, trace_state, attributes, dropped, flags)| Link {
                    trace_id: TraceId(trace_id),
                    span_id: SpanId(span_id),
                    trace_state,
                    attributes,
                    dropped_attributes_count: dropped,
                    flags,
                },
            )
    }

    fn span() -> impl Strategy<Value = Span> {
        let ids = (
            any::<[u8; 16]>(),
            any::<[u8; 8]>(),
            any::<Option<[u8; 8]>>(),
        );
        let header = (
            any::<String>(),
            any::<u32>(),
            any::<String>(),
            any::<i32>(),
            any::<u64>(),
            any::<u64>(),
        );
        let content = (
            attributes(),
            prop::collection::vec(event(), 0..3),
            prop::collection::vec(link(), 0..2),
            any::<[u32; 3]>(),
            (any::<i32>(), any::<String>()),
        );
        (ids, header, content).prop_map(
            |(
                (trace_id, span_id, parent),
                (trace_state, flags, name, kind, start, end),
                (attributes, events, links, dropped, (code, message)),
            )| Span {
                trace_id: TraceId(trace_id),
                span_id: SpanId(span_id),
                parent_span_id: parent.map(SpanId),
                trace_state,
                flags,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count: dropped[0],
                events,
                dropped_events_count: dropped[1],
                links,
                dropped_links_count: dropped[2],
                status: SpanStatus { code, message },
            },
        )
    }

    fn log_record() -> impl Strategy<Value = LogRecord> {
        let header = (
            any::<u64>(),
            any::<u64>(),
            any::<i32>(),
            any::<String>(),
            any::<u32>(),
            any::<u32>(),
        );
        let content = (
            prop::option::of(value()),
            attributes(),
            any::<Option<[u8; 16]>>(),
            any::<Option<[u8; 8]>>(),
            any::<String>(),
        );
        (header, content).prop_map(
            |(
                (time, observed, severity_number, severity_text, dropped, flags),
                (body, attributes, trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano: time,
                observed_time_unix_nano: observed,
                severity_number,
                severity_text,
                body,
                attributes,
                dropped_attributes_count: dropped,
                flags,
                trace_id: trace_id.map(TraceId),
                span_id: span_id.map(SpanId),
                event_name,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn span_round_trips_through_its_row_and_body(span in span()) {
            let mut encoder = Encoder::new();
            let bytes = StoredSpanBody::encode_from(&span, &mut encoder).encode_to_vec();
            let blobs = blob_map(encoder);
            let body = StoredSpanBody::decode(bytes.as_slice()).expect("body parses");
            let mut needed = body.hashes();
            needed.retain(|hash| !blobs.contains_key(hash));
            prop_assert!(needed.is_empty(), "body names blobs it did not hand over");
            let decoded = SpanColumns::of(&span).into_span(&body, &blobs).expect("rebuilds");
            prop_assert_eq!(decoded, span);
        }

        #[test]
        fn log_record_round_trips_through_its_row_and_body(record in log_record()) {
            let mut encoder = Encoder::new();
            let bytes = StoredLogBody::encode_from(&record, &mut encoder).encode_to_vec();
            let blobs = blob_map(encoder);
            let body = StoredLogBody::decode(bytes.as_slice()).expect("body parses");
            let mut needed = body.hashes();
            needed.retain(|hash| !blobs.contains_key(hash));
            prop_assert!(needed.is_empty(), "body names blobs it did not hand over");
            let decoded = LogColumns::of(&record).into_record(&body, &blobs).expect("rebuilds");
            prop_assert_eq!(decoded, record);
        }

        #[test]
        fn resource_and_scope_round_trip_inline(
            attributes in attributes(),
            dropped in any::<u32>(),
            texts in any::<[String; 3]>(),
        ) {
            let [schema_url, name, version] = texts;
            let resource = Resource {
                attributes: attributes.clone(),
                dropped_attributes_count: dropped,
                schema_url: schema_url.clone(),
            };
            let bytes = StoredResource::of(&resource).encode_to_vec();
            let decoded = StoredResource::decode(bytes.as_slice())
                .expect("resource parses")
                .into_resource()
                .expect("needs no blobs");
            prop_assert_eq!(decoded, resource);
            let scope = Scope {
                name,
                version,
                attributes,
                dropped_attributes_count: dropped,
                schema_url,
            };
            let bytes = StoredScope::of(&scope).encode_to_vec();
            let decoded = StoredScope::decode(bytes.as_slice())
                .expect("scope parses")
                .into_scope()
                .expect("needs no blobs");
            prop_assert_eq!(decoded, scope);
        }
    }
}

//! OTLP protobuf bodies, decoded with a nesting budget of reprise's own.
//!
//! prost stops at 100 message levels and `AnyValue` costs three per level
//! of kvlist (`AnyValue` → `KeyValueList` → `KeyValue`), so a single span
//! nesting about 31 kvlists failed the whole request, good spans and all,
//! before the per-item limit of [`Limits::max_depth`] could reject that
//! span alone. Here the request is decoded into mirror messages ([`wire`])
//! in which the contents of an array or kvlist value stay encoded, so
//! prost's descent has a fixed depth whatever the body holds. Each nested
//! value is then decoded on its own, one level at a time, counting levels.
//!
//! A value that would nest deeper than `max_depth` is not decoded further:
//! the container at level `max_depth + 1` is replaced by an empty array, so
//! the value has a depth of exactly `max_depth + 1` and
//! [`super::convert`] rejects the span or log record carrying it, alone,
//! as it rejects any value over the limit. Recursion is thereby bounded by
//! `max_depth` on any input, and what is stored is never a truncated value.
//!
//! [`Limits::max_depth`]: crate::ingest::limits::Limits::max_depth

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_proto::tonic::logs::v1 as pb_logs;
use opentelemetry_proto::tonic::resource::v1 as pb_resource;
use opentelemetry_proto::tonic::trace::v1 as pb_trace;
use prost::{DecodeError, Message as _};

/// Decodes a protobuf `ExportTraceServiceRequest`, cutting values off
/// below `max_depth` levels of nesting (see the module docs).
pub fn decode_traces(
    body: Bytes,
    max_depth: usize,
) -> Result<ExportTraceServiceRequest, DecodeError> {
    let request = wire::TraceRequest::decode(body)?;
    let nesting = Nesting { max_depth };
    let mut resource_spans = Vec::with_capacity(request.resource_spans.len());
    for item in request.resource_spans {
        resource_spans.push(nesting.resource_spans(item)?);
    }
    Ok(ExportTraceServiceRequest { resource_spans })
}

/// Decodes a protobuf `ExportLogsServiceRequest`, as [`decode_traces`] does.
pub fn decode_logs(body: Bytes, max_depth: usize) -> Result<ExportLogsServiceRequest, DecodeError> {
    let request = wire::LogsRequest::decode(body)?;
    let nesting = Nesting { max_depth };
    let mut resource_logs = Vec::with_capacity(request.resource_logs.len());
    for item in request.resource_logs {
        resource_logs.push(nesting.resource_logs(item)?);
    }
    Ok(ExportLogsServiceRequest { resource_logs })
}

/// Turns mirror messages into the prost types of `opentelemetry-proto`,
/// decoding nested values within the budget. Every struct is built with
/// all its fields named, so a field added to the protocol fails to compile
/// here until the mirror carries it too.
struct Nesting {
    max_depth: usize,
}

impl Nesting {
    fn resource_spans(
        &self,
        item: wire::ResourceSpans,
    ) -> Result<pb_trace::ResourceSpans, DecodeError> {
        let mut scope_spans = Vec::with_capacity(item.scope_spans.len());
        for scope in item.scope_spans {
            let mut spans = Vec::with_capacity(scope.spans.len());
            for span in scope.spans {
                spans.push(self.span(span)?);
            }
            scope_spans.push(pb_trace::ScopeSpans {
                scope: scope.scope.map(|s| self.scope(s)).transpose()?,
                spans,
                schema_url: scope.schema_url,
            });
        }
        Ok(pb_trace::ResourceSpans {
            resource: item.resource.map(|r| self.resource(r)).transpose()?,
            scope_spans,
            schema_url: item.schema_url,
        })
    }

    fn resource_logs(
        &self,
        item: wire::ResourceLogs,
    ) -> Result<pb_logs::ResourceLogs, DecodeError> {
        let mut scope_logs = Vec::with_capacity(item.scope_logs.len());
        for scope in item.scope_logs {
            let mut log_records = Vec::with_capacity(scope.log_records.len());
            for record in scope.log_records {
                log_records.push(self.log_record(record)?);
            }
            scope_logs.push(pb_logs::ScopeLogs {
                scope: scope.scope.map(|s| self.scope(s)).transpose()?,
                log_records,
                schema_url: scope.schema_url,
            });
        }
        Ok(pb_logs::ResourceLogs {
            resource: item.resource.map(|r| self.resource(r)).transpose()?,
            scope_logs,
            schema_url: item.schema_url,
        })
    }

    fn resource(&self, resource: wire::Resource) -> Result<pb_resource::Resource, DecodeError> {
        Ok(pb_resource::Resource {
            attributes: self.attributes(resource.attributes)?,
            dropped_attributes_count: resource.dropped_attributes_count,
            entity_refs: resource.entity_refs,
        })
    }

    fn scope(
        &self,
        scope: wire::InstrumentationScope,
    ) -> Result<pb_common::InstrumentationScope, DecodeError> {
        Ok(pb_common::InstrumentationScope {
            name: scope.name,
            version: scope.version,
            attributes: self.attributes(scope.attributes)?,
            dropped_attributes_count: scope.dropped_attributes_count,
        })
    }

    fn span(&self, span: wire::Span) -> Result<pb_trace::Span, DecodeError> {
        let mut events = Vec::with_capacity(span.events.len());
        for event in span.events {
            events.push(pb_trace::span::Event {
                time_unix_nano: event.time_unix_nano,
                name: event.name,
                attributes: self.attributes(event.attributes)?,
                dropped_attributes_count: event.dropped_attributes_count,
            });
        }
        let mut links = Vec::with_capacity(span.links.len());
        for link in span.links {
            links.push(pb_trace::span::Link {
                trace_id: link.trace_id,
                span_id: link.span_id,
                trace_state: link.trace_state,
                attributes: self.attributes(link.attributes)?,
                dropped_attributes_count: link.dropped_attributes_count,
                flags: link.flags,
            });
        }
        Ok(pb_trace::Span {
            trace_id: span.trace_id,
            span_id: span.span_id,
            trace_state: span.trace_state,
            parent_span_id: span.parent_span_id,
            flags: span.flags,
            name: span.name,
            kind: span.kind,
            start_time_unix_nano: span.start_time_unix_nano,
            end_time_unix_nano: span.end_time_unix_nano,
            attributes: self.attributes(span.attributes)?,
            dropped_attributes_count: span.dropped_attributes_count,
            events,
            dropped_events_count: span.dropped_events_count,
            links,
            dropped_links_count: span.dropped_links_count,
            status: span.status,
        })
    }

    fn log_record(&self, record: wire::LogRecord) -> Result<pb_logs::LogRecord, DecodeError> {
        Ok(pb_logs::LogRecord {
            time_unix_nano: record.time_unix_nano,
            observed_time_unix_nano: record.observed_time_unix_nano,
            severity_number: record.severity_number,
            severity_text: record.severity_text,
            body: record.body.map(|b| self.value(b, 1)).transpose()?,
            attributes: self.attributes(record.attributes)?,
            dropped_attributes_count: record.dropped_attributes_count,
            flags: record.flags,
            trace_id: record.trace_id,
            span_id: record.span_id,
            event_name: record.event_name,
        })
    }

    /// The attributes of a span, event, link, log record, resource or
    /// scope: their values sit at level 1.
    fn attributes(
        &self,
        attributes: Vec<wire::KeyValue>,
    ) -> Result<Vec<pb_common::KeyValue>, DecodeError> {
        self.key_values(attributes, 1)
    }

    fn key_values(
        &self,
        key_values: Vec<wire::KeyValue>,
        level: usize,
    ) -> Result<Vec<pb_common::KeyValue>, DecodeError> {
        let mut out = Vec::with_capacity(key_values.len());
        for kv in key_values {
            out.push(self.key_value(kv, level)?);
        }
        Ok(out)
    }

    fn key_value(
        &self,
        kv: wire::KeyValue,
        level: usize,
    ) -> Result<pb_common::KeyValue, DecodeError> {
        Ok(pb_common::KeyValue {
            key: kv.key,
            value: kv.value.map(|v| self.value(v, level)).transpose()?,
            key_strindex: kv.key_strindex,
        })
    }

    /// A value at `level` (1 for an attribute's value or a log body). An
    /// array or kvlist here makes the outermost value at least `level`
    /// deep; past the budget it is not decoded, only marked (module docs).
    fn value(
        &self,
        value: wire::AnyValue,
        level: usize,
    ) -> Result<pb_common::AnyValue, DecodeError> {
        use pb_common::any_value::Value as V;
        use wire::Kind as W;
        let value = match value.value {
            None => None,
            Some(W::StringValue(s)) => Some(V::StringValue(s)),
            Some(W::BoolValue(b)) => Some(V::BoolValue(b)),
            Some(W::IntValue(i)) => Some(V::IntValue(i)),
            Some(W::DoubleValue(d)) => Some(V::DoubleValue(d)),
            Some(W::BytesValue(b)) => Some(V::BytesValue(b)),
            Some(W::StringValueStrindex(i)) => Some(V::StringValueStrindex(i)),
            Some(W::ArrayValue(_) | W::KvlistValue(_)) if level > self.max_depth => {
                Some(too_deep_marker())
            }
            Some(W::ArrayValue(array)) => {
                let mut values = Vec::with_capacity(array.values.len());
                for encoded in array.values {
                    let element = wire::AnyValue::decode(encoded)?;
                    values.push(self.value(element, level + 1)?);
                }
                Some(V::ArrayValue(pb_common::ArrayValue { values }))
            }
            Some(W::KvlistValue(list)) => {
                let mut values = Vec::with_capacity(list.values.len());
                for encoded in list.values {
                    let kv = wire::KeyValue::decode(encoded)?;
                    values.push(self.key_value(kv, level + 1)?);
                }
                Some(V::KvlistValue(pb_common::KeyValueList { values }))
            }
        };
        Ok(pb_common::AnyValue { value })
    }
}

/// What stands for a container past the nesting budget: an empty array,
/// one level deep, so the value is exactly one level over the limit and is
/// rejected with its span or log record.
pub fn too_deep_marker() -> pb_common::any_value::Value {
    pb_common::any_value::Value::ArrayValue(pb_common::ArrayValue::default())
}

/// Mirrors of the OTLP messages that lead to an `AnyValue`, with the same
/// field numbers and wire types. The one difference: the elements of an
/// array or kvlist value are kept as their encoded bytes (a repeated
/// message and a repeated `bytes` field look the same on the wire), so
/// decoding a request descends a fixed number of levels. Messages that
/// hold no values (`Status`, `EntityRef`) are the originals. Enums are
/// decoded as `int32`, which is what prost stores them as.
mod wire {
    use bytes::Bytes;
    use opentelemetry_proto::tonic::common::v1::EntityRef;
    use opentelemetry_proto::tonic::trace::v1::Status;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TraceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogsRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_logs: Vec<ResourceLogs>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(string, tag = "3")]
        pub trace_state: String,
        #[prost(bytes = "vec", tag = "4")]
        pub parent_span_id: Vec<u8>,
        #[prost(fixed32, tag = "16")]
        pub flags: u32,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(int32, tag = "6")]
        pub kind: i32,
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "10")]
        pub dropped_attributes_count: u32,
        #[prost(message, repeated, tag = "11")]
        pub events: Vec<Event>,
        #[prost(uint32, tag = "12")]
        pub dropped_events_count: u32,
        #[prost(message, repeated, tag = "13")]
        pub links: Vec<Link>,
        #[prost(uint32, tag = "14")]
        pub dropped_links_count: u32,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        #[prost(string, tag = "2")]
        pub name: String,
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "4")]
        pub dropped_attributes_count: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Link {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(string, tag = "3")]
        pub trace_state: String,
        #[prost(message, repeated, tag = "4")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "5")]
        pub dropped_attributes_count: u32,
        #[prost(fixed32, tag = "6")]
        pub flags: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceLogs {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_logs: Vec<ScopeLogs>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeLogs {
        #[prost(message, optional, tag = "1")]
        pub scope: Option<InstrumentationScope>,
        #[prost(message, repeated, tag = "2")]
        pub log_records: Vec<LogRecord>,
        #[prost(string, tag = "3")]
        pub schema_url: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LogRecord {
        #[prost(fixed64, tag = "1")]
        pub time_unix_nano: u64,
        #[prost(fixed64, tag = "11")]
        pub observed_time_unix_nano: u64,
        #[prost(int32, tag = "2")]
        pub severity_number: i32,
        #[prost(string, tag = "3")]
        pub severity_text: String,
        #[prost(message, optional, tag = "5")]
        pub body: Option<AnyValue>,
        #[prost(message, repeated, tag = "6")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "7")]
        pub dropped_attributes_count: u32,
        #[prost(fixed32, tag = "8")]
        pub flags: u32,
        #[prost(bytes = "vec", tag = "9")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "10")]
        pub span_id: Vec<u8>,
        #[prost(string, tag = "12")]
        pub event_name: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "2")]
        pub dropped_attributes_count: u32,
        #[prost(message, repeated, tag = "3")]
        pub entity_refs: Vec<EntityRef>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InstrumentationScope {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub version: String,
        #[prost(message, repeated, tag = "3")]
        pub attributes: Vec<KeyValue>,
        #[prost(uint32, tag = "4")]
        pub dropped_attributes_count: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
        #[prost(int32, tag = "3")]
        pub key_strindex: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "Kind", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
        pub value: Option<Kind>,
    }

    /// The oneof of `AnyValue`. The two containers are messages, so a
    /// value sent twice merges as protobuf says (the elements add up).
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        #[prost(message, tag = "5")]
        ArrayValue(EncodedArray),
        #[prost(message, tag = "6")]
        KvlistValue(EncodedKeyValueList),
        #[prost(bytes = "vec", tag = "7")]
        BytesValue(Vec<u8>),
        #[prost(int32, tag = "8")]
        StringValueStrindex(i32),
    }

    /// `ArrayValue` with each element (an `AnyValue`) still encoded.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncodedArray {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        pub values: Vec<Bytes>,
    }

    /// `KeyValueList` with each element (a `KeyValue`) still encoded.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncodedKeyValueList {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        pub values: Vec<Bytes>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

    fn fixtures(extension: &str) -> Vec<std::path::PathBuf> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/otlp/");
        let mut out = Vec::new();
        for dir in std::fs::read_dir(root).expect("fixtures") {
            let dir = dir.expect("entry").path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).expect("fixture dir") {
                let path = file.expect("entry").path();
                if path.extension().is_some_and(|e| e == extension) {
                    out.push(path);
                }
            }
        }
        out
    }

    fn string(s: &str) -> pb_common::AnyValue {
        pb_common::AnyValue {
            value: Some(V::StringValue(s.into())),
        }
    }

    /// A value `depth` levels deep, alternating kvlists and arrays.
    fn nested(depth: usize) -> pb_common::AnyValue {
        let mut value = string("leaf");
        for level in 0..depth {
            value = pb_common::AnyValue {
                value: Some(if level % 2 == 0 {
                    V::KvlistValue(pb_common::KeyValueList {
                        values: vec![pb_common::KeyValue {
                            key: format!("k{level}"),
                            value: Some(value),
                            key_strindex: 0,
                        }],
                    })
                } else {
                    V::ArrayValue(pb_common::ArrayValue {
                        values: vec![string("beside"), value],
                    })
                }),
            };
        }
        value
    }

    fn request_with(value: pb_common::AnyValue) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![pb_trace::ResourceSpans {
                scope_spans: vec![pb_trace::ScopeSpans {
                    spans: vec![pb_trace::Span {
                        name: "deep".into(),
                        attributes: vec![pb_common::KeyValue {
                            key: "deep".into(),
                            value: Some(value),
                            key_strindex: 0,
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn first_value(request: &ExportTraceServiceRequest) -> &pb_common::AnyValue {
        request.resource_spans[0].scope_spans[0].spans[0].attributes[0]
            .value
            .as_ref()
            .expect("value")
    }

    fn depth(value: &pb_common::AnyValue) -> usize {
        crate::ingest::otlp::convert::convert_any_value(value.clone()).depth()
    }

    #[test]
    fn every_fixture_decodes_as_prost_decodes_it() {
        let paths = fixtures("pb");
        assert!(!paths.is_empty());
        for path in paths {
            let body = Bytes::from(std::fs::read(&path).expect("fixture"));
            if path.to_string_lossy().ends_with(".logs.pb") {
                let expected = ExportLogsServiceRequest::decode(body.clone()).expect("prost");
                let decoded = decode_logs(body, 32).expect("decodes");
                assert_eq!(decoded, expected, "{}", path.display());
            } else {
                let expected = ExportTraceServiceRequest::decode(body.clone()).expect("prost");
                let decoded = decode_traces(body, 32).expect("decodes");
                assert_eq!(decoded, expected, "{}", path.display());
            }
        }
    }

    #[test]
    fn a_value_at_the_limit_decodes_whole() {
        let request = request_with(nested(32));
        let decoded = decode_traces(request.encode_to_vec().into(), 32).expect("decodes");
        assert_eq!(decoded, request);
        assert_eq!(depth(first_value(&decoded)), 32);
    }

    #[test]
    fn a_value_past_the_limit_is_cut_one_level_over_it() {
        for levels in [33, 40, 64, 200] {
            let request = request_with(nested(levels));
            let decoded = decode_traces(request.encode_to_vec().into(), 32).expect("decodes");
            assert_eq!(depth(first_value(&decoded)), 33, "{levels} levels");
        }
    }

    #[test]
    fn a_repeated_container_merges_as_protobuf_says() {
        // Two `array_value` fields in one AnyValue: protobuf merges them.
        let one = pb_common::AnyValue {
            value: Some(V::ArrayValue(pb_common::ArrayValue {
                values: vec![string("a")],
            })),
        };
        let two = pb_common::AnyValue {
            value: Some(V::ArrayValue(pb_common::ArrayValue {
                values: vec![string("b")],
            })),
        };
        let mut encoded = one.encode_to_vec();
        encoded.extend(two.encode_to_vec());
        let mut value_bytes = Vec::new();
        prost::encoding::bytes::encode(2, &encoded, &mut value_bytes);
        let mut kv = Vec::new();
        prost::encoding::string::encode(1, &"k".to_owned(), &mut kv);
        kv.extend(value_bytes);
        let mut span = Vec::new();
        prost::encoding::bytes::encode(9, &kv, &mut span);
        let mut scope = Vec::new();
        prost::encoding::bytes::encode(2, &span, &mut scope);
        let mut resource = Vec::new();
        prost::encoding::bytes::encode(2, &scope, &mut resource);
        let mut body = Vec::new();
        prost::encoding::bytes::encode(1, &resource, &mut body);
        let expected = ExportTraceServiceRequest::decode(body.as_slice()).expect("prost");
        let decoded = decode_traces(body.into(), 32).expect("decodes");
        assert_eq!(decoded, expected);
        let Some(V::ArrayValue(array)) = &first_value(&decoded).value else {
            panic!("an array");
        };
        assert_eq!(array.values.len(), 2);
    }

    #[test]
    fn a_hundred_thousand_levels_decode_without_overflowing_the_stack() {
        let body = deep_body(100_000);
        let error = ExportTraceServiceRequest::decode(body.as_slice()).expect_err("prost refuses");
        assert!(error.to_string().contains("recursion"), "{error}");
        let decoded = decode_traces(body.into(), 32).expect("decodes");
        assert_eq!(depth(first_value(&decoded)), 33);
    }

    #[test]
    fn garbage_inside_a_nested_value_is_a_decode_error() {
        let mut kvlist = Vec::new();
        prost::encoding::bytes::encode(1, &b"\xff\xff\xff".to_vec(), &mut kvlist);
        let mut value = Vec::new();
        prost::encoding::bytes::encode(6, &kvlist, &mut value);
        let body = wrap_in_request(&value);
        assert!(ExportTraceServiceRequest::decode(body.as_slice()).is_err());
        assert!(decode_traces(body.into(), 32).is_err());
    }

    /// `cargo test --release --lib protobuf::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost_against_plain_prost() {
        // One large batch of every trace fixture, the shape of a busy
        // exporter's request.
        let mut merged = ExportTraceServiceRequest::default();
        for path in fixtures("pb") {
            if path.to_string_lossy().ends_with(".logs.pb") {
                continue;
            }
            let body = std::fs::read(&path).expect("fixture");
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("prost");
            merged.resource_spans.extend(request.resource_spans);
        }
        let mut large = ExportTraceServiceRequest::default();
        while large.encoded_len() < 4 << 20 {
            large
                .resource_spans
                .extend(merged.resource_spans.iter().cloned());
        }
        let body = Bytes::from(large.encode_to_vec());
        let rounds = 20;
        let speed = |work: &dyn Fn()| {
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                work();
            }
            (body.len() * rounds) as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64()
        };
        // Warm up the allocator and caches once each.
        let _ = ExportTraceServiceRequest::decode(body.clone());
        let _ = decode_traces(body.clone(), 32);
        let prost = speed(&|| {
            std::hint::black_box(ExportTraceServiceRequest::decode(body.clone()).expect("prost"));
        });
        let bounded = speed(&|| {
            std::hint::black_box(decode_traces(body.clone(), 32).expect("decodes"));
        });
        println!(
            "one {} byte batch: prost {prost:.1} MiB/s, bounded {bounded:.1} MiB/s \
             ({:+.0}% time)",
            body.len(),
            (prost / bounded - 1.0) * 100.0
        );
    }

    /// A trace request whose one span has one attribute holding `value`
    /// (an encoded AnyValue).
    fn wrap_in_request(value: &[u8]) -> Vec<u8> {
        let mut kv = Vec::new();
        prost::encoding::string::encode(1, &"deep".to_owned(), &mut kv);
        prost::encoding::bytes::encode(2, &value.to_vec(), &mut kv);
        let mut span = Vec::new();
        prost::encoding::bytes::encode(9, &kv, &mut span);
        let mut scope = Vec::new();
        prost::encoding::bytes::encode(2, &span, &mut scope);
        let mut resource = Vec::new();
        prost::encoding::bytes::encode(2, &scope, &mut resource);
        let mut body = Vec::new();
        prost::encoding::bytes::encode(1, &resource, &mut body);
        body
    }

    /// A request whose attribute nests `levels` arrays, written from the
    /// outside in with each length computed first: prost would need as
    /// many stack frames as levels to encode it.
    fn deep_body(levels: usize) -> Vec<u8> {
        // Innermost: an AnyValue holding a string.
        let mut leaf = Vec::new();
        prost::encoding::string::encode(1, &"leaf".to_owned(), &mut leaf);
        // lengths[i]: the encoded AnyValue at level levels - i.
        let mut lengths = Vec::with_capacity(levels + 1);
        lengths.push(leaf.len());
        for _ in 0..levels {
            let element = *lengths.last().expect("one at least");
            // ArrayValue { values: [element] }
            let array = 1 + prost::encoding::encoded_len_varint(element as u64) + element;
            // AnyValue { array_value: array }
            let value = 1 + prost::encoding::encoded_len_varint(array as u64) + array;
            lengths.push(value);
        }
        let mut value = Vec::with_capacity(*lengths.last().expect("one at least"));
        for i in (1..=levels).rev() {
            let element = lengths[i - 1];
            let array = 1 + prost::encoding::encoded_len_varint(element as u64) + element;
            value.push(0x2a); // field 5, length-delimited
            prost::encoding::encode_varint(array as u64, &mut value);
            value.push(0x0a); // field 1, length-delimited
            prost::encoding::encode_varint(element as u64, &mut value);
        }
        value.extend(leaf);
        wrap_in_request(&value)
    }
}

//! OTLP protobuf types to domain types. Each span and log record is
//! validated here (ids, limits); an invalid one is rejected on its own and
//! counted for `partial_success`, the rest of the request goes on.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_proto::tonic::logs::v1 as pb_logs;
use opentelemetry_proto::tonic::resource::v1 as pb_resource;
use opentelemetry_proto::tonic::trace::v1 as pb_trace;

use crate::ingest::limits::Limits;
use crate::model::telemetry::{LogGroup, SpanGroup};
use crate::model::{
    Attributes, Event, IdError, KeyValue, Link, LogRecord, Resource, Scope, Span, SpanId,
    SpanStatus, TraceId, Value,
};

/// Why one span or log record was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ItemError {
    #[error(transparent)]
    BadId(#[from] IdError),
    #[error("{what} has {count} attributes; the limit is {limit}")]
    TooManyAttributes {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("attribute {key:?} is {bytes} bytes; the limit is {limit}")]
    ValueTooLarge {
        key: String,
        bytes: usize,
        limit: usize,
    },
    /// The decoders stop reading a value one level past the limit, so how
    /// far past it the value went is not known.
    #[error("attribute {key:?} nests more than {limit} levels deep; the limit is {limit}")]
    TooDeep { key: String, limit: usize },
    /// Every item under that resource or scope is rejected: it is part of
    /// each of them.
    #[error("{what} attribute {key:?} nests more than {limit} levels deep; the limit is {limit}")]
    ContextTooDeep {
        what: &'static str,
        key: String,
        limit: usize,
    },
}

/// The valid items of a request, and what was rejected and why.
#[derive(Debug)]
pub struct Converted<G> {
    pub groups: Vec<G>,
    pub rejected: usize,
    /// The first few distinct reasons, for the `partial_success` message.
    pub reasons: Vec<String>,
}

impl<G> Default for Converted<G> {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            rejected: 0,
            reasons: Vec::new(),
        }
    }
}

impl<G> Converted<G> {
    fn reject(&mut self, error: ItemError) {
        self.reject_many(1, error);
    }

    fn reject_many(&mut self, count: usize, error: ItemError) {
        if count == 0 {
            return;
        }
        self.rejected += count;
        let reason = error.to_string();
        if self.reasons.len() < 5 && !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    /// One line for `partial_success.error_message`; empty when nothing was rejected.
    pub fn error_message(&self) -> String {
        if self.rejected == 0 {
            return String::new();
        }
        format!("rejected {}: {}", self.rejected, self.reasons.join("; "))
    }
}

impl Converted<SpanGroup> {
    pub fn item_count(&self) -> usize {
        self.groups.iter().map(|g| g.spans.len()).sum()
    }
}

impl Converted<LogGroup> {
    pub fn item_count(&self) -> usize {
        self.groups.iter().map(|g| g.records.len()).sum()
    }
}

pub fn convert_traces(request: ExportTraceServiceRequest, limits: &Limits) -> Converted<SpanGroup> {
    let mut out = Converted::default();
    for resource_spans in request.resource_spans {
        let resource = convert_resource(resource_spans.resource, resource_spans.schema_url, limits);
        for scope_spans in resource_spans.scope_spans {
            let scope = convert_scope(scope_spans.scope, scope_spans.schema_url, limits);
            let (resource, scope) = match context(&resource, scope) {
                Ok(context) => context,
                Err(error) => {
                    out.reject_many(scope_spans.spans.len(), error);
                    continue;
                }
            };
            let mut spans = Vec::with_capacity(scope_spans.spans.len());
            for span in scope_spans.spans {
                match convert_span(span, limits) {
                    Ok(span) => spans.push(span),
                    Err(error) => out.reject(error),
                }
            }
            if !spans.is_empty() {
                out.groups.push(SpanGroup {
                    resource,
                    scope,
                    spans,
                });
            }
        }
    }
    out
}

pub fn convert_logs(request: ExportLogsServiceRequest, limits: &Limits) -> Converted<LogGroup> {
    let mut out = Converted::default();
    for resource_logs in request.resource_logs {
        let resource = convert_resource(resource_logs.resource, resource_logs.schema_url, limits);
        for scope_logs in resource_logs.scope_logs {
            let scope = convert_scope(scope_logs.scope, scope_logs.schema_url, limits);
            let (resource, scope) = match context(&resource, scope) {
                Ok(context) => context,
                Err(error) => {
                    out.reject_many(scope_logs.log_records.len(), error);
                    continue;
                }
            };
            let mut records = Vec::with_capacity(scope_logs.log_records.len());
            for record in scope_logs.log_records {
                match convert_log_record(record, limits) {
                    Ok(record) => records.push(record),
                    Err(error) => out.reject(error),
                }
            }
            if !records.is_empty() {
                out.groups.push(LogGroup {
                    resource,
                    scope,
                    records,
                });
            }
        }
    }
    out
}

/// The resource and scope a group of items shares, or why none of them
/// can be stored.
fn context(
    resource: &Result<Arc<Resource>, ItemError>,
    scope: Result<Scope, ItemError>,
) -> Result<(Arc<Resource>, Arc<Scope>), ItemError> {
    let resource = resource.clone()?;
    Ok((resource, Arc::new(scope?)))
}

fn convert_resource(
    resource: Option<pb_resource::Resource>,
    schema_url: String,
    limits: &Limits,
) -> Result<Arc<Resource>, ItemError> {
    let resource = resource.unwrap_or_default();
    let attributes = convert_attributes(resource.attributes);
    check_context_depth("resource", &attributes, limits)?;
    Ok(Arc::new(Resource {
        attributes,
        dropped_attributes_count: resource.dropped_attributes_count,
        schema_url,
    }))
}

fn convert_scope(
    scope: Option<pb_common::InstrumentationScope>,
    schema_url: String,
    limits: &Limits,
) -> Result<Scope, ItemError> {
    let scope = scope.unwrap_or_default();
    let attributes = convert_attributes(scope.attributes);
    check_context_depth("scope", &attributes, limits)?;
    Ok(Scope {
        name: scope.name,
        version: scope.version,
        attributes,
        dropped_attributes_count: scope.dropped_attributes_count,
        schema_url,
    })
}

/// Resources and scopes are stored as sent, without the per-item limits,
/// except nesting: past it the decoders have cut the value short, and a
/// cut value must not be stored as if it were the one sent.
fn check_context_depth(
    what: &'static str,
    attributes: &Attributes,
    limits: &Limits,
) -> Result<(), ItemError> {
    for kv in attributes.iter() {
        if kv.value.depth() > limits.max_depth {
            return Err(ItemError::ContextTooDeep {
                what,
                key: kv.key.clone(),
                limit: limits.max_depth,
            });
        }
    }
    Ok(())
}

fn convert_span(span: pb_trace::Span, limits: &Limits) -> Result<Span, ItemError> {
    let trace_id = TraceId::try_from(span.trace_id.as_slice())?;
    let span_id = SpanId::try_from(span.span_id.as_slice())?;
    let parent_span_id = optional_span_id(&span.parent_span_id)?;
    let attributes = checked_attributes("span", span.attributes, limits)?;
    let mut events = Vec::with_capacity(span.events.len());
    for event in span.events {
        events.push(Event {
            time_unix_nano: event.time_unix_nano,
            name: event.name,
            attributes: checked_attributes("span event", event.attributes, limits)?,
            dropped_attributes_count: event.dropped_attributes_count,
        });
    }
    let mut links = Vec::with_capacity(span.links.len());
    for link in span.links {
        links.push(Link {
            trace_id: TraceId::try_from(link.trace_id.as_slice())?,
            span_id: SpanId::try_from(link.span_id.as_slice())?,
            trace_state: link.trace_state,
            attributes: checked_attributes("span link", link.attributes, limits)?,
            dropped_attributes_count: link.dropped_attributes_count,
            flags: link.flags,
        });
    }
    let status = span.status.unwrap_or_default();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: span.trace_state,
        flags: span.flags,
        name: span.name,
        kind: span.kind,
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        attributes,
        dropped_attributes_count: span.dropped_attributes_count,
        events,
        dropped_events_count: span.dropped_events_count,
        links,
        dropped_links_count: span.dropped_links_count,
        status: SpanStatus {
            code: status.code,
            message: status.message,
        },
    })
}

fn convert_log_record(record: pb_logs::LogRecord, limits: &Limits) -> Result<LogRecord, ItemError> {
    // Log records may stand outside any trace: empty ids are allowed, wrong ones are not.
    let trace_id = if record.trace_id.is_empty() {
        None
    } else {
        Some(TraceId::try_from(record.trace_id.as_slice())?)
    };
    let span_id = optional_span_id(&record.span_id)?;
    let body = match record.body {
        Some(body) => {
            let body = convert_any_value(body);
            check_value("log body", &body, limits)?;
            Some(body)
        }
        None => None,
    };
    Ok(LogRecord {
        time_unix_nano: record.time_unix_nano,
        observed_time_unix_nano: record.observed_time_unix_nano,
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body,
        attributes: checked_attributes("log record", record.attributes, limits)?,
        dropped_attributes_count: record.dropped_attributes_count,
        flags: record.flags,
        trace_id,
        span_id,
        event_name: record.event_name,
    })
}

fn optional_span_id(bytes: &[u8]) -> Result<Option<SpanId>, IdError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    SpanId::try_from(bytes).map(Some)
}

fn checked_attributes(
    what: &'static str,
    attributes: Vec<pb_common::KeyValue>,
    limits: &Limits,
) -> Result<Attributes, ItemError> {
    if attributes.len() > limits.max_attributes {
        return Err(ItemError::TooManyAttributes {
            what,
            count: attributes.len(),
            limit: limits.max_attributes,
        });
    }
    let attributes = convert_attributes(attributes);
    for kv in attributes.iter() {
        check_value(&kv.key, &kv.value, limits)?;
    }
    Ok(attributes)
}

fn check_value(key: &str, value: &Value, limits: &Limits) -> Result<(), ItemError> {
    if value.depth() > limits.max_depth {
        return Err(ItemError::TooDeep {
            key: key.to_owned(),
            limit: limits.max_depth,
        });
    }
    let bytes = largest_leaf_bytes(value);
    if bytes > limits.max_value_bytes {
        return Err(ItemError::ValueTooLarge {
            key: key.to_owned(),
            bytes,
            limit: limits.max_value_bytes,
        });
    }
    Ok(())
}

fn largest_leaf_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Array(values) => values.iter().map(largest_leaf_bytes).max().unwrap_or(0),
        Value::KvList(kvs) => kvs
            .iter()
            .map(|kv| largest_leaf_bytes(&kv.value))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

pub fn convert_attributes(attributes: Vec<pb_common::KeyValue>) -> Attributes {
    attributes
        .into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: kv.value.map(convert_any_value).unwrap_or_default(),
        })
        .collect()
}

pub fn convert_any_value(value: pb_common::AnyValue) -> Value {
    use pb_common::any_value::Value as V;
    match value.value {
        None => Value::Empty,
        Some(V::StringValue(s)) => Value::String(s),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::Int(i),
        Some(V::DoubleValue(d)) => Value::Double(d),
        Some(V::BytesValue(b)) => Value::Bytes(b),
        Some(V::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(convert_any_value).collect())
        }
        Some(V::KvlistValue(list)) => Value::KvList(convert_attributes(list.values).0),
        // Profiles-only reference into a string table we never receive; keep it visible.
        #[allow(unreachable_patterns)]
        Some(_) => Value::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn fixture(path: &str) -> Vec<u8> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/otlp/");
        std::fs::read(format!("{root}{path}")).expect("fixture exists")
    }

    #[test]
    fn converts_a_real_capture() {
        let request = ExportTraceServiceRequest::decode(
            fixture("otel-openai-v2-span/tool_call.pb").as_slice(),
        )
        .expect("decodes");
        let converted = convert_traces(request, &Limits::default());
        assert_eq!(converted.rejected, 0);
        assert_eq!(converted.item_count(), 2);
        let group = &converted.groups[0];
        assert_eq!(
            group.resource.service_name(),
            Some("fixturegen-otel-openai-v2-span")
        );
        assert_eq!(
            group.spans[0].attributes.str("gen_ai.operation.name"),
            Some("chat")
        );
    }

    #[test]
    fn rejects_bad_ids_one_by_one() {
        let good = pb_trace::Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        };
        let short = pb_trace::Span {
            trace_id: vec![1; 15],
            span_id: vec![2; 8],
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![pb_trace::ResourceSpans {
                scope_spans: vec![pb_trace::ScopeSpans {
                    spans: vec![good, short],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let converted = convert_traces(request, &Limits::default());
        assert_eq!(converted.item_count(), 1);
        assert_eq!(converted.rejected, 1);
        assert!(
            converted
                .error_message()
                .contains("trace id must be 16 bytes, got 15")
        );
    }
}

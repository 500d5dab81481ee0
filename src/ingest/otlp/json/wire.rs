//! The wire shape of each OTLP message in JSON, as a serde "remote"
//! definition of its prost type.

use super::*;

// The wire shape of each message. Every field is `default` (it may be
// omitted), skipped on output when at its default (as the proto3 JSON mapping
// does), and has a snake_case alias where that differs from the camelCase name.

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportTraceServiceRequest",
    default = "ExportTraceServiceRequest::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportTraceServiceRequestDef {
    #[serde(alias = "resource_spans")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportTraceServiceResponse",
    default = "ExportTraceServiceResponse::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportTraceServiceResponseDef {
    #[serde(alias = "partial_success")]
    #[serde(with = "message", skip_serializing_if = "is_default")]
    partial_success: Option<ExportTracePartialSuccess>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportTracePartialSuccess",
    default = "ExportTracePartialSuccess::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportTracePartialSuccessDef {
    #[serde(alias = "rejected_spans")]
    #[serde(with = "int64", skip_serializing_if = "is_default")]
    rejected_spans: i64,
    #[serde(alias = "error_message")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    error_message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportLogsServiceRequest",
    default = "ExportLogsServiceRequest::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportLogsServiceRequestDef {
    #[serde(alias = "resource_logs")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportLogsServiceResponse",
    default = "ExportLogsServiceResponse::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportLogsServiceResponseDef {
    #[serde(alias = "partial_success")]
    #[serde(with = "message", skip_serializing_if = "is_default")]
    partial_success: Option<ExportLogsPartialSuccess>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportLogsPartialSuccess",
    default = "ExportLogsPartialSuccess::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct ExportLogsPartialSuccessDef {
    #[serde(alias = "rejected_log_records")]
    #[serde(with = "int64", skip_serializing_if = "is_default")]
    rejected_log_records: i64,
    #[serde(alias = "error_message")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    error_message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ResourceSpans", default = "ResourceSpans::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceSpansDef {
    #[serde(with = "message", skip_serializing_if = "is_default")]
    resource: Option<Resource>,
    #[serde(alias = "scope_spans")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    scope_spans: Vec<ScopeSpans>,
    #[serde(alias = "schema_url")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    schema_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ScopeSpans", default = "ScopeSpans::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ScopeSpansDef {
    #[serde(with = "message", skip_serializing_if = "is_default")]
    scope: Option<InstrumentationScope>,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    spans: Vec<Span>,
    #[serde(alias = "schema_url")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    schema_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Span", default = "Span::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct SpanDef {
    #[serde(alias = "trace_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    trace_state: String,
    #[serde(alias = "parent_span_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    parent_span_id: Vec<u8>,
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    flags: u32,
    #[serde(with = "string", skip_serializing_if = "is_default")]
    name: String,
    #[serde(with = "span_kind", skip_serializing_if = "is_default")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano")]
    #[serde(with = "uint64", skip_serializing_if = "is_default")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano")]
    #[serde(with = "uint64", skip_serializing_if = "is_default")]
    end_time_unix_nano: u64,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    events: Vec<Event>,
    #[serde(alias = "dropped_events_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_events_count: u32,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    links: Vec<Link>,
    #[serde(alias = "dropped_links_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_links_count: u32,
    #[serde(with = "message", skip_serializing_if = "is_default")]
    status: Option<Status>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Event", default = "Event::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct EventDef {
    #[serde(alias = "time_unix_nano")]
    #[serde(with = "uint64", skip_serializing_if = "is_default")]
    time_unix_nano: u64,
    #[serde(with = "string", skip_serializing_if = "is_default")]
    name: String,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Link", default = "Link::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct LinkDef {
    #[serde(alias = "trace_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    trace_state: String,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    flags: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Status", default = "Status::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusDef {
    #[serde(with = "string", skip_serializing_if = "is_default")]
    message: String,
    #[serde(with = "status_code", skip_serializing_if = "is_default")]
    code: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ResourceLogs", default = "ResourceLogs::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceLogsDef {
    #[serde(with = "message", skip_serializing_if = "is_default")]
    resource: Option<Resource>,
    #[serde(alias = "scope_logs")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    scope_logs: Vec<ScopeLogs>,
    #[serde(alias = "schema_url")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    schema_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ScopeLogs", default = "ScopeLogs::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ScopeLogsDef {
    #[serde(with = "message", skip_serializing_if = "is_default")]
    scope: Option<InstrumentationScope>,
    #[serde(alias = "log_records")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    log_records: Vec<LogRecord>,
    #[serde(alias = "schema_url")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    schema_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "LogRecord", default = "LogRecord::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct LogRecordDef {
    #[serde(alias = "time_unix_nano")]
    #[serde(with = "uint64", skip_serializing_if = "is_default")]
    time_unix_nano: u64,
    #[serde(alias = "observed_time_unix_nano")]
    #[serde(with = "uint64", skip_serializing_if = "is_default")]
    observed_time_unix_nano: u64,
    #[serde(alias = "severity_number")]
    #[serde(with = "severity_number", skip_serializing_if = "is_default")]
    severity_number: i32,
    #[serde(alias = "severity_text")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    severity_text: String,
    #[serde(with = "message", skip_serializing_if = "is_default")]
    body: Option<AnyValue>,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    flags: u32,
    #[serde(alias = "trace_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id")]
    #[serde(with = "hex_id", skip_serializing_if = "is_default")]
    span_id: Vec<u8>,
    #[serde(alias = "event_name")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    event_name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Resource", default = "Resource::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceDef {
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
    #[serde(alias = "entity_refs")]
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    entity_refs: Vec<EntityRef>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "EntityRef", default = "EntityRef::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct EntityRefDef {
    #[serde(alias = "schema_url")]
    #[serde(with = "string", skip_serializing_if = "is_default")]
    schema_url: String,
    #[serde(with = "string", skip_serializing_if = "is_default")]
    r#type: String,
    #[serde(alias = "id_keys")]
    #[serde(with = "strings", skip_serializing_if = "is_default")]
    id_keys: Vec<String>,
    #[serde(alias = "description_keys")]
    #[serde(with = "strings", skip_serializing_if = "is_default")]
    description_keys: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "InstrumentationScope",
    default = "InstrumentationScope::default"
)]
#[serde(rename_all = "camelCase")]
pub(super) struct InstrumentationScopeDef {
    #[serde(with = "string", skip_serializing_if = "is_default")]
    name: String,
    #[serde(with = "string", skip_serializing_if = "is_default")]
    version: String,
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count")]
    #[serde(with = "uint32", skip_serializing_if = "is_default")]
    dropped_attributes_count: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "KeyValue", default = "KeyValue::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyValueDef {
    #[serde(with = "string", skip_serializing_if = "is_default")]
    key: String,
    #[serde(with = "message", skip_serializing_if = "is_default")]
    value: Option<AnyValue>,
    #[serde(alias = "key_strindex")]
    #[serde(with = "int32", skip_serializing_if = "is_default")]
    key_strindex: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ArrayValue", default = "ArrayValue::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct ArrayValueDef {
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    values: Vec<AnyValue>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "KeyValueList", default = "KeyValueList::default")]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyValueListDef {
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    values: Vec<KeyValue>,
}

pub(super) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

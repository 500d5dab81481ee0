//! OTLP/JSON: the `application/json` bodies of `POST /v1/traces` and
//! `POST /v1/logs`, decoded into the same prost request types as the
//! protobuf path so that [`super::convert`] serves both.
//!
//! OTLP/JSON is the proto3 JSON mapping with OTLP's own exceptions, and real
//! exporters stretch it further. The rules this codec follows:
//!
//! - `traceId`, `spanId` and `parentSpanId` are hex, not base64, in either
//!   case; an empty string means absent. Hex of any length is kept as sent:
//!   a wrong-length id is rejected per span by `convert`, not for the whole
//!   request. `bytesValue` is base64 (standard or URL-safe, padded or not).
//! - Every field is accepted under its lowerCamelCase name and under its
//!   original snake_case name; unknown fields are ignored.
//! - Integers are accepted as JSON numbers or decimal strings whatever their
//!   width, enums as integers or as their proto names (`"SPAN_KIND_CLIENT"`),
//!   doubles as numbers, numeric strings, or `"NaN"`, `"Infinity"`,
//!   `"-Infinity"`. A value out of range for its field is an error.
//! - `null` anywhere stands for the field's default. An AnyValue holds at most
//!   one value field; `{}` is an empty value, and `{"arrayValue":{}}` an empty
//!   array.
//! - Messages must be JSON objects.
//! - Values nest as deep as the sender likes without failing the request: as
//!   the protobuf decoder does ([`super::protobuf`]), an array or kvlist more
//!   than `max_depth` levels down is skipped unread and stands as an empty
//!   array, one level over the limit, so `convert` rejects that span or log
//!   record alone. serde_json's own limit (128 levels of arrays and objects,
//!   about 30 levels of values) is off, since it would fail the whole
//!   request first; the depth budget bounds the recursion instead. Only
//!   `AnyValue` nests without end, every other message has a fixed depth,
//!   and what is skipped (unknown fields, values past the budget) serde_json
//!   skips with a loop, not recursion.
//!
//! The wire shape of each prost message is declared once, as a serde "remote"
//! definition (`SpanDef` for `Span`, ...), which serves both directions: the
//! decoders, and the encoders used for responses, tests and benchmarks. The
//! compiler checks that each definition names every field of its prost type,
//! so a field added to the protocol cannot be dropped here unnoticed.
//!
//! Decoding runs straight from the bytes into the typed structs with no
//! intermediate `serde_json::Value` tree. Only when a body fails is it parsed
//! a second time, with path tracking, so the error can name the field; that
//! tracking costs an allocation per JSON key and is not worth paying for
//! bodies that decode.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Why an OTLP/JSON body could not be decoded. The Display text is meant for
/// the client, as the body of a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonDecodeError {
    /// The body is not UTF-8; `valid_up_to` is the offset of the first bad byte.
    #[error(
        "the body is not valid UTF-8 (first bad byte at offset {valid_up_to}); \
         OTLP/JSON must be sent as UTF-8"
    )]
    InvalidUtf8 { valid_up_to: usize },
    /// The body stops in the middle of the document, or is empty.
    #[error(
        "the JSON ends early at line {line} column {column}; the body looks truncated, \
         send the complete document"
    )]
    Truncated { line: usize, column: usize },
    /// Not JSON; `message` is the parser's, with line and column.
    #[error("the body is not valid JSON: {message}")]
    Syntax { message: String },
    /// JSON, but not an OTLP request: `path` names the offending field (as
    /// `resourceSpans[0].scopeSpans[0].spans[3].traceId`), `message` says what
    /// was wrong with it and where.
    #[error("invalid OTLP/JSON at `{path}`: {message}")]
    Invalid { path: String, message: String },
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`, cutting values off
/// below `max_depth` levels of nesting (see the module docs).
pub fn decode_traces(
    body: &[u8],
    max_depth: usize,
) -> Result<ExportTraceServiceRequest, JsonDecodeError> {
    decode(body, max_depth)
}

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`, as [`decode_traces`] does.
pub fn decode_logs(
    body: &[u8],
    max_depth: usize,
) -> Result<ExportLogsServiceRequest, JsonDecodeError> {
    decode(body, max_depth)
}

/// Encodes a trace request as OTLP/JSON, leaving out fields at their default.
pub fn encode_traces(request: &ExportTraceServiceRequest) -> Vec<u8> {
    encode(request)
}

/// Encodes a logs request as OTLP/JSON, leaving out fields at their default.
pub fn encode_logs(request: &ExportLogsServiceRequest) -> Vec<u8> {
    encode(request)
}

/// Encodes the answer to a trace export: `{}` when all went in, otherwise
/// `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"..."}}`.
pub fn encode_trace_response(response: &ExportTraceServiceResponse) -> Vec<u8> {
    encode(response)
}

/// Encodes the answer to a logs export, as [`encode_trace_response`] does.
pub fn encode_logs_response(response: &ExportLogsServiceResponse) -> Vec<u8> {
    encode(response)
}

fn decode<T: Json>(body: &[u8], max_depth: usize) -> Result<T, JsonDecodeError> {
    // Checking UTF-8 up front (fast, and needed anyway) lets serde_json skip
    // its own checks and guarantees bad bytes anywhere, even in ignored
    // fields, are reported.
    let text = std::str::from_utf8(body).map_err(|error| JsonDecodeError::InvalidUtf8 {
        valid_up_to: error.valid_up_to(),
    })?;
    // RFC 8259 lets parsers ignore a byte order mark; some Windows tools write one.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let _budget = ValueNesting::budget(max_depth);
    let mut deserializer = unlimited_deserializer(text);
    let decoded = Option::<Message<T>>::deserialize(&mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message));
    match decoded {
        Ok(Some(message)) => Ok(message.0),
        Ok(None) => Ok(T::default()),
        Err(error) => Err(explain::<T>(text, error)),
    }
}

/// A deserializer without serde_json's recursion limit: [`ValueNesting`]
/// bounds the depth instead (module docs).
fn unlimited_deserializer(text: &str) -> serde_json::Deserializer<serde_json::de::StrRead<'_>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    deserializer
}

/// Turns serde_json's error into ours; for a body that is valid JSON but not
/// valid OTLP, parses it again with path tracking to name the field.
fn explain<T: Json>(text: &str, error: serde_json::Error) -> JsonDecodeError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Eof => JsonDecodeError::Truncated {
            line: error.line(),
            column: error.column(),
        },
        Category::Syntax | Category::Io => JsonDecodeError::Syntax {
            message: error.to_string(),
        },
        Category::Data => {
            let mut deserializer = unlimited_deserializer(text);
            let tracked: Result<Option<Message<T>>, _> =
                serde_path_to_error::deserialize(&mut deserializer);
            let path = match tracked {
                Err(tracked) => tracked.path().to_string(),
                Ok(_) => ".".to_owned(),
            };
            JsonDecodeError::Invalid {
                path,
                message: error.to_string(),
            }
        }
    }
}

fn encode<T: Json>(value: &T) -> Vec<u8> {
    // Serializing these types cannot fail: the writer is a Vec, every map key
    // is a string and non-finite doubles are written as strings. The fallback
    // only keeps this function free of panics.
    serde_json::to_vec(&MessageRef(value)).unwrap_or_else(|_| b"{}".to_vec())
}

/// A prost message with an OTLP/JSON form. serde cannot be derived for the
/// prost types (they live in another crate), so each gets its form from a
/// remote definition below, or by hand for `AnyValue`.
trait Json: Sized + Default {
    fn decode_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error>;
    fn encode_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;
}

/// Lets a [`Json`] type be used where serde wants `Deserialize`.
struct Message<T>(T);

impl<'de, T: Json> Deserialize<'de> for Message<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::decode_json(deserializer).map(Message)
    }
}

/// Lets a [`Json`] type be used where serde wants `Serialize`.
struct MessageRef<'a, T>(&'a T);

impl<T: Json> Serialize for MessageRef<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.encode_json(serializer)
    }
}

macro_rules! json_from_remote_definition {
    ($($message:ty => $definition:ident),* $(,)?) => {
        $(
            impl Json for $message {
                fn decode_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    $definition::deserialize(ObjectOnly(deserializer))
                }
                fn encode_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    $definition::serialize(self, serializer)
                }
            }
        )*
    };
}

json_from_remote_definition! {
    ExportTraceServiceRequest => ExportTraceServiceRequestDef,
    ExportTraceServiceResponse => ExportTraceServiceResponseDef,
    ExportTracePartialSuccess => ExportTracePartialSuccessDef,
    ExportLogsServiceRequest => ExportLogsServiceRequestDef,
    ExportLogsServiceResponse => ExportLogsServiceResponseDef,
    ExportLogsPartialSuccess => ExportLogsPartialSuccessDef,
    ResourceSpans => ResourceSpansDef,
    ScopeSpans => ScopeSpansDef,
    Span => SpanDef,
    Event => EventDef,
    Link => LinkDef,
    Status => StatusDef,
    ResourceLogs => ResourceLogsDef,
    ScopeLogs => ScopeLogsDef,
    LogRecord => LogRecordDef,
    Resource => ResourceDef,
    EntityRef => EntityRefDef,
    InstrumentationScope => InstrumentationScopeDef,
    KeyValue => KeyValueDef,
    ArrayValue => ArrayValueDef,
    KeyValueList => KeyValueListDef,
}

/// Hands a derived struct visitor only JSON objects. serde's derived structs
/// also accept an array of field values in declaration order, which no OTLP
/// sender means; routed through `deserialize_map`, an array is an error.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

// The wire shape of each message. Every field is `default` (it may be
// omitted), skipped on output when at its default (as the proto3 JSON mapping
// does), and has a snake_case alias where that differs from the camelCase name.

#[derive(Serialize, Deserialize)]
#[serde(
    remote = "ExportTraceServiceRequest",
    default = "ExportTraceServiceRequest::default"
)]
#[serde(rename_all = "camelCase")]
struct ExportTraceServiceRequestDef {
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
struct ExportTraceServiceResponseDef {
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
struct ExportTracePartialSuccessDef {
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
struct ExportLogsServiceRequestDef {
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
struct ExportLogsServiceResponseDef {
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
struct ExportLogsPartialSuccessDef {
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
struct ResourceSpansDef {
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
struct ScopeSpansDef {
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
struct SpanDef {
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
struct EventDef {
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
struct LinkDef {
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
struct StatusDef {
    #[serde(with = "string", skip_serializing_if = "is_default")]
    message: String,
    #[serde(with = "status_code", skip_serializing_if = "is_default")]
    code: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ResourceLogs", default = "ResourceLogs::default")]
#[serde(rename_all = "camelCase")]
struct ResourceLogsDef {
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
struct ScopeLogsDef {
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
struct LogRecordDef {
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
struct ResourceDef {
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
struct EntityRefDef {
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
struct InstrumentationScopeDef {
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
struct KeyValueDef {
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
struct ArrayValueDef {
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    values: Vec<AnyValue>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "KeyValueList", default = "KeyValueList::default")]
#[serde(rename_all = "camelCase")]
struct KeyValueListDef {
    #[serde(with = "messages", skip_serializing_if = "is_default")]
    values: Vec<KeyValue>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

// AnyValue is a oneof, which the remote derive cannot express: by hand.

/// The keys of an AnyValue object.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum AnyValueField {
    #[serde(alias = "string_value")]
    StringValue,
    #[serde(alias = "bool_value")]
    BoolValue,
    #[serde(alias = "int_value")]
    IntValue,
    #[serde(alias = "double_value")]
    DoubleValue,
    #[serde(alias = "array_value")]
    ArrayValue,
    #[serde(alias = "kvlist_value")]
    KvlistValue,
    #[serde(alias = "bytes_value")]
    BytesValue,
    #[serde(alias = "string_value_strindex")]
    StringValueStrindex,
    #[serde(other)]
    Unknown,
}

impl Json for AnyValue {
    fn decode_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let level = ValueNesting::enter();
        deserializer.deserialize_map(AnyValueVisitor { level })
    }

    fn encode_json<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(value) = &self.value else {
            return serializer.serialize_map(Some(0))?.end();
        };
        let mut map = serializer.serialize_map(Some(1))?;
        let name = any_value_field_name(value);
        match value {
            AnyValueKind::StringValue(v) => map.serialize_entry(name, v)?,
            AnyValueKind::BoolValue(v) => map.serialize_entry(name, v)?,
            AnyValueKind::IntValue(v) => map.serialize_entry(name, &Int(*v))?,
            AnyValueKind::DoubleValue(v) => map.serialize_entry(name, &Double(*v))?,
            AnyValueKind::ArrayValue(v) => map.serialize_entry(name, &MessageRef(v))?,
            AnyValueKind::KvlistValue(v) => map.serialize_entry(name, &MessageRef(v))?,
            AnyValueKind::BytesValue(v) => map.serialize_entry(name, &Base64Ref(v))?,
            AnyValueKind::StringValueStrindex(v) => map.serialize_entry(name, &Int(*v))?,
        }
        map.end()
    }
}

fn any_value_field_name(value: &AnyValueKind) -> &'static str {
    match value {
        AnyValueKind::StringValue(_) => "stringValue",
        AnyValueKind::BoolValue(_) => "boolValue",
        AnyValueKind::IntValue(_) => "intValue",
        AnyValueKind::DoubleValue(_) => "doubleValue",
        AnyValueKind::ArrayValue(_) => "arrayValue",
        AnyValueKind::KvlistValue(_) => "kvlistValue",
        AnyValueKind::BytesValue(_) => "bytesValue",
        AnyValueKind::StringValueStrindex(_) => "stringValueStrindex",
    }
}

/// The depth budget of the values being decoded on this thread.
///
/// `AnyValue` nests through `ArrayValue`, `KeyValueList` and `KeyValue`,
/// whose decoders serde derives from the remote definitions above and which
/// take no state, so the level travels beside them rather than through
/// them: [`decode`] sets the budget, each `AnyValue` counts itself in on
/// entry and out on exit. Decoding is synchronous on one thread, so the
/// count is exact.
#[derive(Clone, Copy)]
struct ValueNesting {
    /// How many `AnyValue`s enclose the one being decoded, itself included.
    level: usize,
    max_depth: usize,
}

thread_local! {
    static VALUE_NESTING: Cell<ValueNesting> = const {
        Cell::new(ValueNesting { level: 0, max_depth: crate::ingest::limits::DEFAULT_MAX_DEPTH })
    };
}

impl ValueNesting {
    /// Sets the budget for one body, restoring the previous one when the
    /// guard drops (a body decoded inside another never happens, but a
    /// panic must not leave a stale level behind).
    fn budget(max_depth: usize) -> NestingGuard {
        let previous = VALUE_NESTING.replace(ValueNesting {
            level: 0,
            max_depth,
        });
        NestingGuard { restore: previous }
    }

    /// Counts one more enclosing value; the level goes back down when the
    /// returned guard drops.
    fn enter() -> ValueLevel {
        let mut nesting = VALUE_NESTING.get();
        nesting.level += 1;
        VALUE_NESTING.set(nesting);
        ValueLevel {
            over_budget: nesting.level > nesting.max_depth,
        }
    }
}

struct NestingGuard {
    restore: ValueNesting,
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        VALUE_NESTING.set(self.restore);
    }
}

/// Where one `AnyValue` sits: past the budget, an array or kvlist in it
/// would make the outermost value deeper than `max_depth`.
struct ValueLevel {
    over_budget: bool,
}

impl Drop for ValueLevel {
    fn drop(&mut self) {
        let mut nesting = VALUE_NESTING.get();
        nesting.level = nesting.level.saturating_sub(1);
        VALUE_NESTING.set(nesting);
    }
}

struct AnyValueVisitor {
    level: ValueLevel,
}

impl AnyValueVisitor {
    /// Skips a container past the budget without reading into it, and
    /// stands the marker in for it (module docs); `null` is still absent.
    fn skip_too_deep<'de, A: MapAccess<'de>>(
        map: &mut A,
    ) -> Result<Option<AnyValueKind>, A::Error> {
        Ok(map
            .next_value::<Option<IgnoredAny>>()?
            .map(|_| super::protobuf::too_deep_marker()))
    }
}

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AnyValue object such as {\"stringValue\": \"...\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut found: Option<AnyValueKind> = None;
        while let Some(field) = map.next_key::<AnyValueField>()? {
            // A field set to null is absent, so it cannot clash with another.
            let value = match field {
                AnyValueField::StringValue => map
                    .next_value::<Option<String>>()?
                    .map(AnyValueKind::StringValue),
                AnyValueField::BoolValue => map
                    .next_value::<Option<bool>>()?
                    .map(AnyValueKind::BoolValue),
                AnyValueField::IntValue => map
                    .next_value::<Option<Int<i64>>>()?
                    .map(|v| AnyValueKind::IntValue(v.0)),
                AnyValueField::DoubleValue => map
                    .next_value::<Option<Double>>()?
                    .map(|v| AnyValueKind::DoubleValue(v.0)),
                AnyValueField::ArrayValue | AnyValueField::KvlistValue
                    if self.level.over_budget =>
                {
                    Self::skip_too_deep(&mut map)?
                }
                AnyValueField::ArrayValue => map
                    .next_value::<Option<Message<ArrayValue>>>()?
                    .map(|v| AnyValueKind::ArrayValue(v.0)),
                AnyValueField::KvlistValue => map
                    .next_value::<Option<Message<KeyValueList>>>()?
                    .map(|v| AnyValueKind::KvlistValue(v.0)),
                AnyValueField::BytesValue => map
                    .next_value::<Option<Base64>>()?
                    .map(|v| AnyValueKind::BytesValue(v.0)),
                AnyValueField::StringValueStrindex => map
                    .next_value::<Option<Int<i32>>>()?
                    .map(|v| AnyValueKind::StringValueStrindex(v.0)),
                AnyValueField::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            let Some(value) = value else { continue };
            if let Some(previous) = &found {
                return Err(de::Error::custom(format_args!(
                    "an AnyValue holds one value, but this one sets both {} and {}; \
                     send each value in its own AnyValue",
                    any_value_field_name(previous),
                    any_value_field_name(&value),
                )));
            }
            found = Some(value);
        }
        Ok(AnyValue { value: found })
    }
}

// Field codecs, used through `#[serde(with = "...")]`. Each decoder takes
// `null` as the field's default.

/// An optional message field.
mod message {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>, T: Json>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        let value = Option::<Message<T>>::deserialize(deserializer)?;
        Ok(value.map(|message| message.0))
    }

    pub fn serialize<S: Serializer, T: Json>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => value.encode_json(serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A repeated message field; a `null` element is a default message.
mod messages {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>, T: Json>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        deserializer.deserialize_option(MessagesVisitor(PhantomData))
    }

    pub fn serialize<S: Serializer, T: Json>(
        values: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(MessageRef))
    }

    struct MessagesVisitor<T>(PhantomData<T>);

    impl<'de, T: Json> Visitor<'de> for MessagesVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of objects")
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<T>, D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // The size hint comes from the sender; cap it so a lie costs little.
            let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(value) = seq.next_element::<Option<Message<T>>>()? {
                values.push(value.map(|message| message.0).unwrap_or_default());
            }
            Ok(values)
        }
    }
}

mod string {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
    }

    pub fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }
}

/// A repeated string field; a `null` element is an empty string.
mod strings {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let values = Option::<Vec<Option<String>>>::deserialize(deserializer)?;
        let mut out = Vec::new();
        for value in values.unwrap_or_default() {
            out.push(value.unwrap_or_default());
        }
        Ok(out)
    }

    pub fn serialize<S: Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values)
    }
}

/// `fixed64`/`uint64`: written as a decimal string, as OTLP/JSON asks.
mod uint64 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        Ok(Option::<Int<u64>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `int64`: written as a decimal string, as OTLP/JSON asks.
mod int64 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        Ok(Option::<Int<i64>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `uint32`/`fixed32`: written as a JSON number.
mod uint32 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        Ok(Option::<Int<u32>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

/// `int32`: written as a JSON number.
mod int32 {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Int<i32>>::deserialize(deserializer)?.map_or(0, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        Int(*value).serialize(serializer)
    }
}

mod span_kind {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<SpanKind>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

mod status_code {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<StatusCode>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

mod severity_number {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        Ok(Option::<Enum<SeverityNumber>>::deserialize(deserializer)?.map_or(0, |v| v.value))
    }

    pub use super::int32::serialize;
}

/// Trace and span ids: hex, never base64 (OTLP's exception to proto3 JSON).
mod hex_id {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(Option::<HexId>::deserialize(deserializer)?.map_or_else(Vec::new, |v| v.0))
    }

    pub fn serialize<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&const_hex::encode(value))
    }
}

// Scalar values.

/// An integer width: how it is described to a sender who got it wrong, and
/// how it is written.
trait IntegerKind: TryFrom<i128> + Copy {
    const EXPECTED: &'static str;
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error>;
}

// 64-bit integers are written as decimal strings, as OTLP/JSON asks (many
// JSON parsers lose precision past 2^53); narrower ones as numbers.

impl IntegerKind for u64 {
    const EXPECTED: &'static str = "an unsigned 64-bit integer (a decimal string or a number)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self)
    }
}

impl IntegerKind for i64 {
    const EXPECTED: &'static str = "a signed 64-bit integer (a decimal string or a number)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self)
    }
}

impl IntegerKind for u32 {
    const EXPECTED: &'static str = "an unsigned 32-bit integer (a number or a decimal string)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self)
    }
}

impl IntegerKind for i32 {
    const EXPECTED: &'static str = "a signed 32-bit integer (a number or a decimal string)";
    fn write<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self)
    }
}

/// A protobuf integer in JSON: a number or a decimal string, range-checked.
struct Int<T>(T);

impl<'de, T: IntegerKind> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(IntVisitor::<T>(PhantomData))
            .map(Int)
    }
}

impl<T: IntegerKind> Serialize for Int<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.write(serializer)
    }
}

struct IntVisitor<T>(PhantomData<T>);

impl<T: IntegerKind> IntVisitor<T> {
    fn narrow<E: de::Error>(value: i128, unexpected: Unexpected<'_>) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(unexpected, &T::EXPECTED))
    }
}

impl<'de, T: IntegerKind> Visitor<'de> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        Self::narrow(i128::from(value), Unexpected::Signed(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        Self::narrow(i128::from(value), Unexpected::Unsigned(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // `1e3` or `5.0` are integers written in float syntax; take them when
        // exact. The bound keeps the cast to i128 exact too.
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e38 {
            return Self::narrow(value as i128, Unexpected::Float(value));
        }
        Err(E::invalid_value(Unexpected::Float(value), &T::EXPECTED))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        match value.parse::<i128>() {
            Ok(parsed) => Self::narrow(parsed, Unexpected::Str(excerpt(value))),
            Err(_) => Err(E::invalid_value(
                Unexpected::Str(excerpt(value)),
                &T::EXPECTED,
            )),
        }
    }
}

/// A `double`: a number, a numeric string, or one of the names proto3 JSON
/// uses for the values JSON numbers cannot write.
struct Double(f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DoubleVisitor).map(Double)
    }
}

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value == f64::INFINITY {
            serializer.serialize_str("Infinity")
        } else if value == f64::NEG_INFINITY {
            serializer.serialize_str("-Infinity")
        } else {
            serializer.serialize_f64(value)
        }
    }
}

struct DoubleVisitor;

const DOUBLE_EXPECTED: &str =
    "a double: a number, a numeric string, \"NaN\", \"Infinity\" or \"-Infinity\"";

impl<'de> Visitor<'de> for DoubleVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DOUBLE_EXPECTED)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
        Ok(value as f64)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<f64, E> {
        match value {
            "NaN" => return Ok(f64::NAN),
            "Infinity" => return Ok(f64::INFINITY),
            "-Infinity" => return Ok(f64::NEG_INFINITY),
            _ => {}
        }
        // Rust's parser also takes "inf" and "nan" in any case, which proto3
        // JSON does not; only the exact names above may be non-finite.
        match value.parse::<f64>() {
            Ok(parsed) if parsed.is_finite() => Ok(parsed),
            _ => Err(E::invalid_value(
                Unexpected::Str(excerpt(value)),
                &DOUBLE_EXPECTED,
            )),
        }
    }
}

/// A prost enum that the proto3 JSON mapping lets senders name.
trait EnumKind {
    const EXPECTED: &'static str;
    fn from_name(name: &str) -> Option<i32>;
}

impl EnumKind for SpanKind {
    const EXPECTED: &'static str = "a span kind: an integer or a name such as \"SPAN_KIND_CLIENT\"";
    fn from_name(name: &str) -> Option<i32> {
        SpanKind::from_str_name(name).map(|kind| kind as i32)
    }
}

impl EnumKind for StatusCode {
    const EXPECTED: &'static str =
        "a status code: an integer or a name such as \"STATUS_CODE_ERROR\"";
    fn from_name(name: &str) -> Option<i32> {
        StatusCode::from_str_name(name).map(|code| code as i32)
    }
}

impl EnumKind for SeverityNumber {
    const EXPECTED: &'static str =
        "a severity number: an integer or a name such as \"SEVERITY_NUMBER_INFO\"";
    fn from_name(name: &str) -> Option<i32> {
        SeverityNumber::from_str_name(name).map(|severity| severity as i32)
    }
}

/// An enum field's value. Numbers outside the enum are kept: proto3 enums
/// are open, and an unknown kind is no reason to refuse a span.
struct Enum<E> {
    value: i32,
    kind: PhantomData<E>,
}

impl<'de, K: EnumKind> Deserialize<'de> for Enum<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(EnumVisitor::<K>(PhantomData))?;
        Ok(Enum {
            value,
            kind: PhantomData,
        })
    }
}

struct EnumVisitor<K>(PhantomData<K>);

impl<'de, K: EnumKind> Visitor<'de> for EnumVisitor<K> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(K::EXPECTED)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<i32, E> {
        i32::try_from(value).map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<i32, E> {
        i32::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<i32, E> {
        IntVisitor::<i32>(PhantomData)
            .visit_f64(value)
            .map_err(|_: E| E::invalid_value(Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<i32, E> {
        if let Ok(number) = value.parse::<i32>() {
            return Ok(number);
        }
        K::from_name(value).ok_or_else(|| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

/// A trace or span id in hex, upper or lower case.
struct HexId(Vec<u8>);

impl<'de> Deserialize<'de> for HexId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HexIdVisitor).map(HexId)
    }
}

struct HexIdVisitor;

impl Visitor<'_> for HexIdVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an id as a hex string (OTLP/JSON ids are hex, not base64), or \"\" when absent",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<u8>, E> {
        decode_hex(value).ok_or_else(|| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

/// Decodes hex of any even length. `const_hex::decode` would also strip a
/// `0x` prefix, which OTLP ids never carry, hence this small loop.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let mut bytes = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks_exact(2) {
        let high = hex_digit(pair[0])?;
        let low = hex_digit(pair[1])?;
        bytes.push(high << 4 | low);
    }
    Some(bytes)
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// `bytesValue`: base64. Exporters differ on alphabet and padding, so any
/// of standard or URL-safe, padded or not, is taken.
struct Base64(Vec<u8>);

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Base64Visitor).map(Base64)
    }
}

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes as a base64 string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Vec<u8>, E> {
        // The two alphabets differ only in `+/` versus `-_`.
        let engine = if value.contains(['-', '_']) {
            &URL_SAFE_LENIENT
        } else {
            &STANDARD_LENIENT
        };
        engine
            .decode(value)
            .map_err(|_| E::invalid_value(Unexpected::Str(excerpt(value)), &self))
    }
}

struct Base64Ref<'a>(&'a [u8]);

impl Serialize for Base64Ref<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&general_purpose::STANDARD.encode(self.0))
    }
}

/// The start of a string quoted back in an error: a sender's mistake may be
/// megabytes long, the message should not be.
fn excerpt(text: &str) -> &str {
    const MAX_BYTES: usize = 64;
    if text.len() <= MAX_BYTES {
        return text;
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use crate::ingest::limits::Limits;
    use crate::ingest::otlp::convert;

    /// The decoder with the default depth budget, as the server runs it.
    fn decode_traces(body: &[u8]) -> Result<ExportTraceServiceRequest, JsonDecodeError> {
        super::decode_traces(body, Limits::default().max_depth)
    }

    /// The decoder with the default depth budget, as the server runs it.
    fn decode_logs(body: &[u8]) -> Result<ExportLogsServiceRequest, JsonDecodeError> {
        super::decode_logs(body, Limits::default().max_depth)
    }

    fn fixture_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp")
    }

    /// Every `.json` request fixture with its `.pb` sibling, in a stable order.
    fn fixture_pairs() -> Vec<(PathBuf, PathBuf)> {
        let mut pairs = Vec::new();
        for dir in std::fs::read_dir(fixture_root()).expect("fixture root exists") {
            let dir = dir.expect("readable entry").path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).expect("fixture dir readable") {
                let json = file.expect("readable entry").path();
                if json.extension().is_some_and(|ext| ext == "json") {
                    let pb = json.with_extension("pb");
                    assert!(pb.exists(), "{} has no .pb sibling", json.display());
                    pairs.push((json, pb));
                }
            }
        }
        pairs.sort();
        pairs
    }

    fn is_logs(path: &Path) -> bool {
        path.to_string_lossy().ends_with(".logs.json")
    }

    /// One span in a request, written as JSON by the caller.
    fn traces_with_span(span: &str) -> String {
        format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
    }

    fn first_span(request: &ExportTraceServiceRequest) -> &Span {
        &request.resource_spans[0].scope_spans[0].spans[0]
    }

    /// The value of the first attribute of the first span.
    fn first_value(request: &ExportTraceServiceRequest) -> Option<&V> {
        first_span(request).attributes[0]
            .value
            .as_ref()
            .and_then(|v| v.value.as_ref())
    }

    fn decode_value(value_json: &str) -> Result<ExportTraceServiceRequest, JsonDecodeError> {
        let span = format!(r#"{{"attributes":[{{"key":"k","value":{value_json}}}]}}"#);
        decode_traces(traces_with_span(&span).as_bytes())
    }

    const IDS: &str = r#""traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174""#;

    #[test]
    fn every_json_fixture_decodes_to_its_protobuf_sibling() {
        let pairs = fixture_pairs();
        assert!(
            pairs.len() >= 50,
            "expected the fixture set, found {}",
            pairs.len()
        );
        for (json, pb) in pairs {
            let json_bytes = std::fs::read(&json).expect("fixture readable");
            let pb_bytes = std::fs::read(&pb).expect("fixture readable");
            if is_logs(&json) {
                let expected = ExportLogsServiceRequest::decode(pb_bytes.as_slice()).expect("pb");
                let decoded = decode_logs(&json_bytes).expect("json decodes");
                assert!(decoded == expected, "{} differs from .pb", json.display());
            } else {
                let expected = ExportTraceServiceRequest::decode(pb_bytes.as_slice()).expect("pb");
                let decoded = decode_traces(&json_bytes).expect("json decodes");
                assert!(decoded == expected, "{} differs from .pb", json.display());
            }
        }
    }

    #[test]
    fn decodes_what_the_rust_otlp_json_exporter_writes() {
        // opentelemetry-otlp's `http-json` feature (a dev-dependency) switches
        // on opentelemetry-proto's serde support, which is what that exporter
        // posts; only test builds have it.
        for (json, pb) in fixture_pairs() {
            let pb_bytes = std::fs::read(&pb).expect("fixture readable");
            if is_logs(&json) {
                let request = ExportLogsServiceRequest::decode(pb_bytes.as_slice()).expect("pb");
                let body = serde_json::to_vec(&request).expect("serializes");
                assert_eq!(decode_logs(&body), Ok(request), "{}", pb.display());
            } else {
                let request = ExportTraceServiceRequest::decode(pb_bytes.as_slice()).expect("pb");
                let body = serde_json::to_vec(&request).expect("serializes");
                assert_eq!(decode_traces(&body), Ok(request), "{}", pb.display());
            }
        }
    }

    #[test]
    fn empty_array_and_kvlist_values_are_empty_not_errors() {
        let array = decode_value(r#"{"arrayValue":{}}"#).expect("decodes");
        assert_eq!(
            first_value(&array),
            Some(&V::ArrayValue(ArrayValue::default()))
        );
        let kvlist = decode_value(r#"{"kvlistValue":{}}"#).expect("decodes");
        assert_eq!(
            first_value(&kvlist),
            Some(&V::KvlistValue(KeyValueList::default()))
        );
    }

    #[test]
    fn empty_any_value_object_is_an_empty_value() {
        let request = decode_value("{}").expect("decodes");
        let value = first_span(&request).attributes[0].value.as_ref();
        assert_eq!(value, Some(&AnyValue { value: None }));
    }

    #[test]
    fn null_stands_for_the_default_everywhere() {
        let span = format!(
            r#"{{{IDS},"parentSpanId":null,"name":null,"kind":null,"flags":null,
                "startTimeUnixNano":null,"attributes":[{{"key":"k","value":null}},
                {{"key":null,"value":{{"stringValue":null}}}},
                {{"key":"a","value":{{"arrayValue":{{"values":[null,{{"intValue":"1"}}]}}}}}}],
                "events":null,"links":null,"status":null,"droppedAttributesCount":null}}"#
        );
        let body = format!(
            r#"{{"resourceSpans":[{{"resource":null,"schemaUrl":null,
                "scopeSpans":[{{"scope":null,"spans":[{span}]}}]}}]}}"#
        );
        let request = decode_traces(body.as_bytes()).expect("decodes");
        let resource_spans = &request.resource_spans[0];
        assert_eq!(resource_spans.resource, None);
        assert_eq!(resource_spans.schema_url, "");
        let span = first_span(&request);
        assert_eq!(span.parent_span_id, Vec::<u8>::new());
        assert_eq!((span.name.as_str(), span.kind, span.flags), ("", 0, 0));
        assert_eq!(span.start_time_unix_nano, 0);
        assert_eq!(span.status, None);
        assert_eq!(span.attributes[0].value, None);
        assert_eq!(span.attributes[1].key, "");
        assert_eq!(span.attributes[1].value, Some(AnyValue { value: None }));
        let array = ArrayValue {
            values: vec![
                AnyValue { value: None },
                AnyValue {
                    value: Some(V::IntValue(1)),
                },
            ],
        };
        assert_eq!(
            span.attributes[2]
                .value
                .as_ref()
                .and_then(|v| v.value.clone()),
            Some(V::ArrayValue(array))
        );
    }

    #[test]
    fn null_body_is_an_empty_request() {
        let request = decode_traces(b"null").expect("decodes");
        assert_eq!(request, ExportTraceServiceRequest::default());
    }

    #[test]
    fn nan_and_infinities_are_accepted_as_strings() {
        let cases = [
            ("\"Infinity\"", f64::INFINITY),
            ("\"-Infinity\"", f64::NEG_INFINITY),
            ("\"2.5\"", 2.5),
            ("-3", -3.0),
            ("1e300", 1e300),
        ];
        for (json, expected) in cases {
            let request = decode_value(&format!(r#"{{"doubleValue":{json}}}"#)).expect(json);
            assert_eq!(
                first_value(&request),
                Some(&V::DoubleValue(expected)),
                "{json}"
            );
        }
        let request = decode_value(r#"{"doubleValue":"NaN"}"#).expect("decodes");
        assert!(matches!(first_value(&request), Some(V::DoubleValue(v)) if v.is_nan()));
    }

    #[test]
    fn rust_only_spellings_of_non_finite_doubles_are_errors() {
        for json in ["\"inf\"", "\"nan\"", "\"infinity\"", "\"1e999\"", "\"two\""] {
            let error = decode_value(&format!(r#"{{"doubleValue":{json}}}"#)).expect_err(json);
            assert!(error.to_string().contains("expected a double"), "{error}");
        }
    }

    #[test]
    fn thirty_two_bit_ints_are_accepted_as_strings() {
        let span = format!(
            r#"{{{IDS},"kind":"3","flags":"257","droppedAttributesCount":"4",
                "droppedEventsCount":"5","droppedLinksCount":"6","status":{{"code":"2"}}}}"#
        );
        let request = decode_traces(traces_with_span(&span).as_bytes()).expect("decodes");
        let span = first_span(&request);
        assert_eq!((span.kind, span.flags), (3, 257));
        assert_eq!(
            (
                span.dropped_attributes_count,
                span.dropped_events_count,
                span.dropped_links_count
            ),
            (4, 5, 6)
        );
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
        let logs = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"9"}]}]}]}"#;
        let request = decode_logs(logs.as_bytes()).expect("decodes");
        assert_eq!(
            request.resource_logs[0].scope_logs[0].log_records[0].severity_number,
            9
        );
    }

    #[test]
    fn sixty_four_bit_ints_are_accepted_as_numbers() {
        let span = format!(
            r#"{{{IDS},"startTimeUnixNano":1795896610560172838,"endTimeUnixNano":"1795896610565021915",
                "attributes":[{{"key":"k","value":{{"intValue":-42}}}}]}}"#
        );
        let request = decode_traces(traces_with_span(&span).as_bytes()).expect("decodes");
        let span = first_span(&request);
        assert_eq!(span.start_time_unix_nano, 1_795_896_610_560_172_838);
        assert_eq!(span.end_time_unix_nano, 1_795_896_610_565_021_915);
        assert_eq!(first_value(&request), Some(&V::IntValue(-42)));
    }

    #[test]
    fn integers_written_in_float_syntax_are_taken_when_exact() {
        let request = decode_value(r#"{"intValue":1e3}"#).expect("decodes");
        assert_eq!(first_value(&request), Some(&V::IntValue(1000)));
        let error = decode_value(r#"{"intValue":1.5}"#).expect_err("not an integer");
        assert!(
            error.to_string().contains("signed 64-bit integer"),
            "{error}"
        );
    }

    #[test]
    fn enum_names_are_accepted() {
        let span = format!(
            r#"{{{IDS},"kind":"SPAN_KIND_CLIENT","status":{{"code":"STATUS_CODE_ERROR"}}}}"#
        );
        let request = decode_traces(traces_with_span(&span).as_bytes()).expect("decodes");
        let span = first_span(&request);
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(
            span.status.as_ref().map(|s| s.code),
            Some(StatusCode::Error as i32)
        );
        let logs = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
            {"severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}"#;
        let request = decode_logs(logs.as_bytes()).expect("decodes");
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.severity_number, SeverityNumber::Info as i32);
    }

    #[test]
    fn unknown_enum_names_are_errors_and_unknown_numbers_are_kept() {
        let span = format!(r#"{{{IDS},"kind":"SPAN_KIND_TELEPATHIC"}}"#);
        let error = decode_traces(traces_with_span(&span).as_bytes()).expect_err("unknown name");
        assert!(
            error.to_string().contains("SPAN_KIND_TELEPATHIC"),
            "{error}"
        );
        let span = format!(r#"{{{IDS},"kind":42}}"#);
        let request = decode_traces(traces_with_span(&span).as_bytes()).expect("decodes");
        assert_eq!(first_span(&request).kind, 42);
    }

    #[test]
    fn uppercase_hex_ids_decode_like_lowercase() {
        let upper = traces_with_span(
            r#"{"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"00F067AA0BA902B7"}"#,
        );
        let lower = traces_with_span(
            r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"00f067aa0ba902b7"}"#,
        );
        let upper = decode_traces(upper.as_bytes()).expect("decodes");
        assert_eq!(upper, decode_traces(lower.as_bytes()).expect("decodes"));
        assert_eq!(
            first_span(&upper).span_id,
            vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]
        );
    }

    #[test]
    fn wrong_length_ids_pass_through_and_convert_rejects_only_that_span() {
        let body = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
                {{{IDS}}},
                {{"traceId":"5b8efff798038103d269b633813f","spanId":"eee19b7ec3c1b174"}},
                {{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7e"}}]}}]}}]}}"#
        );
        let request = decode_traces(body.as_bytes()).expect("wrong lengths are not a decode error");
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[1].trace_id.len(), 14);
        assert_eq!(spans[2].span_id.len(), 4);
        let converted = convert::convert_traces(request, &Limits::default());
        assert_eq!(converted.item_count(), 1);
        assert_eq!(converted.rejected, 2);
        assert!(
            converted
                .error_message()
                .contains("trace id must be 16 bytes, got 14")
        );
    }

    #[test]
    fn non_hex_id_is_an_error_naming_the_field() {
        // A base64 id, the classic mistake of a generic proto3 JSON encoder.
        let body = traces_with_span(
            r#"{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"eee19b7ec3c1b174"}"#,
        );
        let error = decode_traces(body.as_bytes()).expect_err("base64 is not hex");
        let JsonDecodeError::Invalid { path, message } = &error else {
            panic!("expected Invalid, got {error:?}");
        };
        assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].traceId");
        assert!(message.contains("hex"), "{message}");
        let link = traces_with_span(r#"{"links":[{"spanId":"0x12345678"}]}"#);
        let error = decode_traces(link.as_bytes()).expect_err("0x is not hex");
        assert!(
            error.to_string().contains("spans[0].links[0].spanId"),
            "{error}"
        );
        let odd = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"abc"}]}]}]}"#;
        let error = decode_logs(odd.as_bytes()).expect_err("odd length");
        assert!(
            error.to_string().contains("logRecords[0].spanId"),
            "{error}"
        );
    }

    #[test]
    fn empty_id_string_means_absent() {
        let body = traces_with_span(&format!(r#"{{{IDS},"parentSpanId":""}}"#));
        let request = decode_traces(body.as_bytes()).expect("decodes");
        assert!(first_span(&request).parent_span_id.is_empty());
    }

    /// Rewrites every object key of a JSON document from camelCase to snake_case.
    fn snake_case_keys(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (key, value) in map {
                    let mut snake = String::new();
                    for c in key.chars() {
                        if c.is_ascii_uppercase() {
                            snake.push('_');
                            snake.push(c.to_ascii_lowercase());
                        } else {
                            snake.push(c);
                        }
                    }
                    out.insert(snake, snake_case_keys(value));
                }
                serde_json::Value::Object(out)
            }
            serde_json::Value::Array(values) => {
                serde_json::Value::Array(values.into_iter().map(snake_case_keys).collect())
            }
            other => other,
        }
    }

    #[test]
    fn snake_case_keys_decode_like_camel_case() {
        let mut checked = 0;
        for (json, _) in fixture_pairs() {
            let camel = std::fs::read(&json).expect("fixture readable");
            let value: serde_json::Value = serde_json::from_slice(&camel).expect("valid JSON");
            let snake = serde_json::to_vec(&snake_case_keys(value)).expect("serializes");
            assert!(
                !String::from_utf8_lossy(&snake).contains("Unix"),
                "keys were not rewritten"
            );
            if is_logs(&json) {
                assert_eq!(
                    decode_logs(&snake),
                    decode_logs(&camel),
                    "{}",
                    json.display()
                );
            } else {
                let snake = decode_traces(&snake).expect("snake_case decodes");
                assert!(
                    !snake.resource_spans.is_empty(),
                    "{} decoded to nothing",
                    json.display()
                );
                assert_eq!(Ok(snake), decode_traces(&camel), "{}", json.display());
            }
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn an_array_where_an_object_belongs_is_an_error() {
        // serde would otherwise read it as the fields in declaration order.
        let body = traces_with_span(&format!(r#"{{{IDS},"status":["boom",2]}}"#));
        let error = decode_traces(body.as_bytes()).expect_err("array for a message");
        assert!(error.to_string().contains("spans[0].status"), "{error}");
        let error = decode_traces(br#"["not","a","request"]"#).expect_err("array body");
        assert!(
            matches!(error, JsonDecodeError::Invalid { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let span = format!(
            r#"{{{IDS},"futureField":{{"deep":[1,{{"x":null}}]}},"name":"chat",
                "attributes":[{{"key":"k","extra":true,"value":{{"stringValue":"v","comment":"x"}}}}]}}"#
        );
        let body = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}],"unknown":1}}]}}],"extra":"x"}}"#
        );
        let request = decode_traces(body.as_bytes()).expect("decodes");
        assert_eq!(first_span(&request).name, "chat");
        assert_eq!(first_value(&request), Some(&V::StringValue("v".to_owned())));
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut body = traces_with_span(r#"{"name":"ab"}"#).into_bytes();
        let at = body.iter().position(|&b| b == b'a').expect("has an a");
        body[at] = 0xff;
        let error = decode_traces(&body).expect_err("not UTF-8");
        assert_eq!(error, JsonDecodeError::InvalidUtf8 { valid_up_to: at });
        assert!(error.to_string().contains("UTF-8"));
    }

    #[test]
    fn any_value_with_two_value_fields_is_an_error() {
        let error = decode_value(r#"{"stringValue":"a","intValue":"1"}"#).expect_err("two values");
        let message = error.to_string();
        assert!(
            message.contains("both stringValue and intValue"),
            "{message}"
        );
        assert!(message.contains("attributes[0].value"), "{message}");
    }

    #[test]
    fn truncated_json_is_an_error_saying_so() {
        let fixture = std::fs::read(fixture_root().join("otel-openai-v2-span/tool_call.json"))
            .expect("fixture readable");
        let error = decode_traces(&fixture[..fixture.len() / 2]).expect_err("truncated");
        assert!(matches!(error, JsonDecodeError::Truncated { line, .. } if line > 1));
        assert!(error.to_string().contains("truncated"), "{error}");
        assert!(matches!(
            decode_traces(b""),
            Err(JsonDecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn malformed_json_is_a_syntax_error_with_its_position() {
        let error = decode_traces(br#"{"resourceSpans":[}"#).expect_err("malformed");
        assert!(matches!(error, JsonDecodeError::Syntax { .. }), "{error:?}");
        assert!(error.to_string().contains("line 1 column 19"), "{error}");
    }

    #[test]
    fn out_of_range_numbers_are_errors_naming_the_field() {
        let cases = [
            (r#""startTimeUnixNano":"-1""#, "spans[0].startTimeUnixNano"),
            (
                r#""endTimeUnixNano":18446744073709551616"#,
                "spans[0].endTimeUnixNano",
            ),
            (
                r#""droppedAttributesCount":4294967296"#,
                "spans[0].droppedAttributesCount",
            ),
            (r#""flags":-1"#, "spans[0].flags"),
            (r#""kind":"2147483648""#, "spans[0].kind"),
            (
                r#""attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]"#,
                "spans[0].attributes[0].value.intValue",
            ),
        ];
        for (field, path) in cases {
            let body = traces_with_span(&format!("{{{IDS},{field}}}"));
            let error = decode_traces(body.as_bytes()).expect_err(field);
            assert!(error.to_string().contains(path), "{field}: {error}");
        }
    }

    #[test]
    fn bytes_values_accept_standard_and_url_safe_base64_padded_or_not() {
        let expected = V::BytesValue(vec![0xfb, 0xff, 0xbf]);
        for encoded in ["+/+/", "-_-_"] {
            let request = decode_value(&format!(r#"{{"bytesValue":"{encoded}"}}"#)).expect(encoded);
            assert_eq!(first_value(&request), Some(&expected), "{encoded}");
        }
        let padded = decode_value(r#"{"bytesValue":"aGk="}"#).expect("padded");
        let unpadded = decode_value(r#"{"bytesValue":"aGk"}"#).expect("unpadded");
        assert_eq!(first_value(&padded), Some(&V::BytesValue(b"hi".to_vec())));
        assert_eq!(first_value(&unpadded), first_value(&padded));
        let error = decode_value(r#"{"bytesValue":"not base64!"}"#).expect_err("bad");
        assert!(error.to_string().contains("base64"), "{error}");
    }

    /// A value `depth` levels deep: arrays and kvlists by turns, each with
    /// a scalar beside the deeper value, around `leaf`.
    fn nested_json(depth: usize, leaf: &str) -> String {
        let mut value = leaf.to_owned();
        for level in 0..depth {
            value = if level % 2 == 0 {
                format!(r#"{{"kvlistValue":{{"values":[{{"key":"k{level}","value":{value}}}]}}}}"#)
            } else {
                format!(r#"{{"arrayValue":{{"values":[{{"intValue":"1"}},{value}]}}}}"#)
            };
        }
        value
    }

    fn depth_of_first_value(request: ExportTraceServiceRequest) -> usize {
        let value = first_span(&request).attributes[0]
            .value
            .clone()
            .expect("value");
        convert::convert_any_value(value).depth()
    }

    #[test]
    fn a_value_at_the_limit_decodes_whole_past_serde_jsons_own_limit() {
        // 32 levels of values are about 140 levels of JSON.
        let request = decode_value(&nested_json(32, r#"{"stringValue":"leaf"}"#)).expect("decodes");
        let value = first_span(&request).attributes[0]
            .value
            .clone()
            .expect("value");
        let json = String::from_utf8(encode(&value)).expect("UTF-8");
        assert_eq!(json, nested_json(32, r#"{"stringValue":"leaf"}"#));
        assert_eq!(depth_of_first_value(request), 32);
    }

    #[test]
    fn a_value_past_the_limit_is_cut_one_level_over_it() {
        for depth in [33, 40, 64, 200] {
            let request =
                decode_value(&nested_json(depth, r#"{"stringValue":"leaf"}"#)).expect("decodes");
            assert_eq!(depth_of_first_value(request), 33, "{depth} levels");
        }
    }

    #[test]
    fn a_hundred_thousand_levels_decode_without_overflowing_the_stack() {
        let depth = 100_000;
        let value = format!(
            "{}{{}}{}",
            r#"{"arrayValue":{"values":["#.repeat(depth),
            "]}}".repeat(depth)
        );
        let request = decode_value(&value).expect("decodes");
        assert_eq!(depth_of_first_value(request), 33);
        // Deep JSON where no value is expected is skipped, or refused, as
        // calmly: an unknown field, and a string field given arrays.
        let deep_arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let unknown = format!(r#"{{"unknownField":{deep_arrays},{IDS}}}"#);
        decode_traces(traces_with_span(&unknown).as_bytes()).expect("unknown field skipped");
        let misplaced = format!(r#"{{"name":{deep_arrays}}}"#);
        decode_traces(traces_with_span(&misplaced).as_bytes()).expect_err("not a string");
    }

    #[test]
    fn what_lies_past_the_limit_is_not_read() {
        // A bad int 40 levels down belongs to a value rejected anyway: the
        // span is rejected for its depth, not the request for the int.
        let value = nested_json(40, r#"{"intValue":"x"}"#);
        let request = decode_value(&value).expect("decodes");
        assert_eq!(depth_of_first_value(request), 33);
        // Broken JSON is broken at any depth.
        let broken = nested_json(40, r#"{"intValue":1,,}"#);
        assert!(matches!(
            decode_value(&broken),
            Err(JsonDecodeError::Syntax { .. })
        ));
    }

    #[test]
    fn a_bad_value_just_inside_the_nesting_limit_is_reported_with_its_path() {
        let depth = 32;
        let value = format!(
            "{}{{\"intValue\":\"x\"}}{}",
            r#"{"arrayValue":{"values":["#.repeat(depth),
            "]}}".repeat(depth)
        );
        let error = decode_value(&value).expect_err("bad int");
        let JsonDecodeError::Invalid { path, .. } = &error else {
            panic!("expected Invalid, got {error:?}");
        };
        let expected_tail = ".arrayValue.values[0]".repeat(depth) + ".intValue";
        assert!(path.ends_with(&expected_tail), "{path}");
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let body = traces_with_span(&format!("{{{IDS}}}"));
        let with_bom = [b"\xef\xbb\xbf".as_slice(), body.as_bytes()].concat();
        assert_eq!(decode_traces(&with_bom), decode_traces(body.as_bytes()));
        assert!(decode_traces(&with_bom).is_ok());
    }

    #[test]
    fn error_messages_quote_only_the_start_of_a_long_bad_value() {
        let long_id = "z".repeat(100_000);
        let body = traces_with_span(&format!(r#"{{"traceId":"{long_id}"}}"#));
        let error = decode_traces(body.as_bytes()).expect_err("not hex");
        assert!(error.to_string().len() < 500, "{error}");
    }

    #[test]
    fn empty_response_encodes_as_empty_object() {
        let response = ExportTraceServiceResponse::default();
        assert_eq!(encode_trace_response(&response), b"{}");
        assert_eq!(
            encode_logs_response(&ExportLogsServiceResponse::default()),
            b"{}"
        );
    }

    #[test]
    fn partial_success_response_uses_otlp_json_names_and_string_int64() {
        let response = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "rejected 2: trace id must be 16 bytes".to_owned(),
            }),
        };
        assert_eq!(
            String::from_utf8(encode_trace_response(&response)).expect("UTF-8"),
            r#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"rejected 2: trace id must be 16 bytes"}}"#
        );
        let response = ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: String::new(),
            }),
        };
        assert_eq!(
            encode_logs_response(&response),
            br#"{"partialSuccess":{"rejectedLogRecords":"1"}}"#
        );
    }

    #[test]
    fn encoder_writes_hex_ids_string_int64_and_named_doubles() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![0xab; 16],
                        span_id: vec![0x01; 8],
                        start_time_unix_nano: 1_795_896_610_560_172_838,
                        kind: 3,
                        attributes: vec![KeyValue {
                            key: "x".to_owned(),
                            value: Some(AnyValue {
                                value: Some(V::DoubleValue(f64::NEG_INFINITY)),
                            }),
                            key_strindex: 0,
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let json = String::from_utf8(encode_traces(&request)).expect("UTF-8");
        assert!(
            json.contains(&format!(r#""traceId":"{}""#, "ab".repeat(16))),
            "{json}"
        );
        assert!(
            json.contains(r#""startTimeUnixNano":"1795896610560172838""#),
            "{json}"
        );
        assert!(json.contains(r#""kind":3"#), "{json}");
        assert!(json.contains(r#""doubleValue":"-Infinity""#), "{json}");
        assert!(
            !json.contains("parentSpanId"),
            "defaults are left out: {json}"
        );
    }

    #[test]
    fn fixtures_survive_an_encode_decode_round_trip() {
        for (json, _) in fixture_pairs() {
            let body = std::fs::read(&json).expect("fixture readable");
            if is_logs(&json) {
                let request = decode_logs(&body).expect("decodes");
                assert_eq!(decode_logs(&encode_logs(&request)), Ok(request));
            } else {
                let request = decode_traces(&body).expect("decodes");
                assert_eq!(decode_traces(&encode_traces(&request)), Ok(request));
            }
        }
    }

    // Generated requests: every field, every AnyValue kind, awkward doubles.

    fn any_double() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("NaN payloads do not survive; tested apart", |v| !v.is_nan()),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
        ]
    }

    fn any_value() -> impl Strategy<Value = AnyValue> {
        let leaf = prop_oneof![
            Just(None),
            any::<String>().prop_map(|v| Some(V::StringValue(v))),
            any::<bool>().prop_map(|v| Some(V::BoolValue(v))),
            any::<i64>().prop_map(|v| Some(V::IntValue(v))),
            any_double().prop_map(|v| Some(V::DoubleValue(v))),
            prop::collection::vec(any::<u8>(), 0..20).prop_map(|v| Some(V::BytesValue(v))),
            any::<i32>().prop_map(|v| Some(V::StringValueStrindex(v))),
        ]
        .prop_map(|value| AnyValue { value });
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|values| Some(V::ArrayValue(ArrayValue { values }))),
                prop::collection::vec(key_value_with(inner), 0..4)
                    .prop_map(|values| Some(V::KvlistValue(KeyValueList { values }))),
            ]
            .prop_map(|value| AnyValue { value })
        })
    }

    fn key_value_with(value: impl Strategy<Value = AnyValue>) -> impl Strategy<Value = KeyValue> {
        (any::<String>(), prop::option::of(value), any::<i32>()).prop_map(
            |(key, value, key_strindex)| KeyValue {
                key,
                value,
                key_strindex,
            },
        )
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        prop::collection::vec(key_value_with(any_value()), 0..4)
    }

    fn id() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(Vec::new()),
            prop::collection::vec(any::<u8>(), 8),
            prop::collection::vec(any::<u8>(), 16),
            prop::collection::vec(any::<u8>(), 0..20),
        ]
    }

    fn resource() -> impl Strategy<Value = Option<Resource>> {
        let entity_ref = (
            any::<String>(),
            any::<String>(),
            prop::collection::vec(any::<String>(), 0..3),
            prop::collection::vec(any::<String>(), 0..3),
        )
            .prop_map(
                |(schema_url, r#type, id_keys, description_keys)| EntityRef {
                    schema_url,
                    r#type,
                    id_keys,
                    description_keys,
                },
            );
        prop::option::of(
            (
                attributes(),
                any::<u32>(),
                prop::collection::vec(entity_ref, 0..2),
            )
                .prop_map(|(attributes, dropped_attributes_count, entity_refs)| {
                    Resource {
                        attributes,
                        dropped_attributes_count,
                        entity_refs,
                    }
                }),
        )
    }

    fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
        prop::option::of(
            (any::<String>(), any::<String>(), attributes(), any::<u32>()).prop_map(
                |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                    name,
                    version,
                    attributes,
                    dropped_attributes_count,
                },
            ),
        )
    }

    fn span() -> impl Strategy<Value = Span> {
        let event = (any::<u64>(), any::<String>(), attributes(), any::<u32>()).prop_map(
            |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
                time_unix_nano,
                name,
                attributes,
                dropped_attributes_count,
            },
        );
        let link = (
            id(),
            id(),
            any::<String>(),
            attributes(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
                    Link {
                        trace_id,
                        span_id,
                        trace_state,
                        attributes,
                        dropped_attributes_count,
                        flags,
                    }
                },
            );
        let status = prop::option::of(
            (any::<String>(), any::<i32>()).prop_map(|(message, code)| Status { message, code }),
        );
        let ids = (id(), id(), id(), any::<String>());
        let header = (
            any::<u32>(),
            any::<String>(),
            any::<i32>(),
            any::<u64>(),
            any::<u64>(),
        );
        let counts = (any::<u32>(), any::<u32>(), any::<u32>());
        let children = (
            attributes(),
            prop::collection::vec(event, 0..2),
            prop::collection::vec(link, 0..2),
            status,
        );
        (ids, header, counts, children).prop_map(
            |(
                (trace_id, span_id, parent_span_id, trace_state),
                (flags, name, kind, start_time_unix_nano, end_time_unix_nano),
                (dropped_attributes_count, dropped_events_count, dropped_links_count),
                (attributes, events, links, status),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status,
            },
        )
    }

    fn trace_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
        let scope_spans = (
            scope(),
            prop::collection::vec(span(), 0..3),
            any::<String>(),
        )
            .prop_map(|(scope, spans, schema_url)| ScopeSpans {
                scope,
                spans,
                schema_url,
            });
        let resource_spans = (
            resource(),
            prop::collection::vec(scope_spans, 0..3),
            any::<String>(),
        )
            .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
                resource,
                scope_spans,
                schema_url,
            });
        prop::collection::vec(resource_spans, 0..3)
            .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
    }

    fn log_record() -> impl Strategy<Value = LogRecord> {
        let times = (any::<u64>(), any::<u64>(), any::<i32>(), any::<String>());
        let content = (
            prop::option::of(any_value()),
            attributes(),
            any::<u32>(),
            any::<u32>(),
        );
        let ids = (id(), id(), any::<String>());
        (times, content, ids).prop_map(
            |(
                (time_unix_nano, observed_time_unix_nano, severity_number, severity_text),
                (body, attributes, dropped_attributes_count, flags),
                (trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano,
                observed_time_unix_nano,
                severity_number,
                severity_text,
                body,
                attributes,
                dropped_attributes_count,
                flags,
                trace_id,
                span_id,
                event_name,
            },
        )
    }

    fn logs_request() -> impl Strategy<Value = ExportLogsServiceRequest> {
        let scope_logs = (
            scope(),
            prop::collection::vec(log_record(), 0..3),
            any::<String>(),
        )
            .prop_map(|(scope, log_records, schema_url)| ScopeLogs {
                scope,
                log_records,
                schema_url,
            });
        let resource_logs = (
            resource(),
            prop::collection::vec(scope_logs, 0..3),
            any::<String>(),
        )
            .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs {
                resource,
                scope_logs,
                schema_url,
            });
        prop::collection::vec(resource_logs, 0..3)
            .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
    }

    proptest! {
        // Compared as protobuf bytes: NaN != NaN would fail a PartialEq check
        // even when the round trip is exact.
        #[test]
        fn generated_trace_requests_round_trip(request in trace_request()) {
            let decoded = decode_traces(&encode_traces(&request));
            prop_assert!(decoded.is_ok(), "{:?}", decoded);
            let decoded = decoded.unwrap_or_default();
            prop_assert_eq!(decoded.encode_to_vec(), request.encode_to_vec());
        }

        #[test]
        fn generated_logs_requests_round_trip(request in logs_request()) {
            let decoded = decode_logs(&encode_logs(&request));
            prop_assert!(decoded.is_ok(), "{:?}", decoded);
            let decoded = decoded.unwrap_or_default();
            prop_assert_eq!(decoded.encode_to_vec(), request.encode_to_vec());
        }
    }

    /// Rough throughput on the fixtures, against parsing the same bytes into
    /// a `serde_json::Value` as a reference; run with
    /// `cargo test --lib ingest::otlp::json -- --ignored --nocapture`.
    /// A debug build understates a release build several times.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn throughput_on_fixtures() {
        let mut bodies = Vec::new();
        let mut merged = ExportTraceServiceRequest::default();
        for (json, _) in fixture_pairs() {
            let body = std::fs::read(&json).expect("fixture readable");
            if !is_logs(&json) {
                let request = decode_traces(&body).expect("decodes");
                merged.resource_spans.extend(request.resource_spans);
            }
            bodies.push((is_logs(&json), body));
        }
        // One large batch, the shape of a busy exporter's request.
        let mut large = ExportTraceServiceRequest::default();
        while large.encoded_len() < 4 << 20 {
            large
                .resource_spans
                .extend(merged.resource_spans.iter().cloned());
        }
        let large_body = encode_traces(&large);

        let fixtures_bytes: usize = bodies.iter().map(|(_, body)| body.len()).sum();
        let rounds = 20;
        let ours = measure(fixtures_bytes * rounds, || {
            for _ in 0..rounds {
                for (logs, body) in &bodies {
                    if *logs {
                        std::hint::black_box(decode_logs(body).expect("decodes"));
                    } else {
                        std::hint::black_box(decode_traces(body).expect("decodes"));
                    }
                }
            }
        });
        let reference = measure(fixtures_bytes * rounds, || {
            for _ in 0..rounds {
                for (_, body) in &bodies {
                    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON");
                    std::hint::black_box(value);
                }
            }
        });
        let large_decode = measure(large_body.len() * 5, || {
            for _ in 0..5 {
                std::hint::black_box(decode_traces(&large_body).expect("decodes"));
            }
        });
        let large_encode = measure(large_body.len() * 5, || {
            for _ in 0..5 {
                std::hint::black_box(encode_traces(&large));
            }
        });
        println!(
            "{} fixtures, {fixtures_bytes} bytes: decode {ours:.1} MiB/s \
             (serde_json::Value parse of the same: {reference:.1} MiB/s); \
             one {} byte batch: decode {large_decode:.1} MiB/s, encode {large_encode:.1} MiB/s",
            bodies.len(),
            large_body.len()
        );
    }

    /// Runs `work` once and returns its speed in MiB/s over `bytes`.
    fn measure(bytes: usize, work: impl FnOnce()) -> f64 {
        let started = std::time::Instant::now();
        work();
        bytes as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64()
    }
}

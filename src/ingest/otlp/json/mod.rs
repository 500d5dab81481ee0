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

mod any_value;
mod codecs;
mod scalars;
#[cfg(test)]
mod tests;
mod wire;

use any_value::*;
use codecs::*;
use scalars::*;
use wire::*;

//! What the fuzz targets share: the CPU half of the OTLP export pipeline
//! (convert, normalize, encode — what `Ingest::export_traces` and
//! `export_logs` run before touching the database), and checks that every
//! record the pipeline produced comes back from its stored encoding
//! unchanged.
//!
//! A round trip is compared on the `Debug` text of both sides rather than
//! with `==`: `Value::Double(NaN)` is not equal to itself, yet a NaN that
//! comes back as NaN is exactly what the store promises.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::OnceLock;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use reprise::cost::PriceTable;
use reprise::ingest::calls::{Normalized, normalize};
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::convert::{convert_logs, convert_traces};
use reprise::model::telemetry::{LogGroup, SpanGroup};
use reprise::ingest::prepare::encode;
use reprise::model::{Call, LogRecord, Resource, Scope, Span, Value};
use reprise::model::CallSummary;
use reprise::store::encoding::call_record::StoredCallContent;
use reprise::store::encoding::codec::{Decoder, Encoder, StoredValue};
use reprise::store::encoding::records::{
    LogColumns, SpanColumns, StoredLogBody, StoredResource, StoredScope, StoredSpanBody,
};

/// The built-in price table, parsed once: the pipeline prices every call it
/// finds, so arbitrary usage figures go through the cost arithmetic too.
pub fn prices() -> &'static PriceTable {
    static PRICES: OnceLock<PriceTable> = OnceLock::new();
    PRICES.get_or_init(PriceTable::built_in)
}

/// A trace export as the pipeline handles it, with every span, resource,
/// scope and call checked against its stored encoding.
pub fn export_traces(request: ExportTraceServiceRequest) {
    let converted = convert_traces(request, &Limits::default());
    let normalized = normalize(&converted.groups, &[], prices());
    check_span_groups(&converted.groups);
    check_calls(&normalized);
    let _ = encode(&converted.groups, &[], normalized);
}

/// A logs export as the pipeline handles it, checked like [`export_traces`].
pub fn export_logs(request: ExportLogsServiceRequest) {
    let converted = convert_logs(request, &Limits::default());
    let normalized = normalize(&[], &converted.groups, prices());
    check_log_groups(&converted.groups);
    check_calls(&normalized);
    let _ = encode(&[], &converted.groups, normalized);
}

pub fn assert_same<T: Debug>(what: &str, original: &T, decoded: &T) {
    let original = format!("{original:?}");
    let decoded = format!("{decoded:?}");
    assert!(
        original == decoded,
        "{what} changed in storage:\n original: {original}\n  decoded: {decoded}"
    );
}

fn blob_map(encoder: Encoder) -> HashMap<Vec<u8>, Vec<u8>> {
    encoder
        .blobs
        .into_iter()
        .map(|(hash, content)| (hash.to_vec(), content))
        .collect()
}

/// Encodes a value, runs the bytes through prost, and decodes it again.
pub fn value_round_trip(value: &Value) -> Value {
    let mut encoder = Encoder::new();
    let bytes = encoder.value(value).encode_to_vec();
    let blobs = blob_map(encoder);
    let stored = StoredValue::decode(bytes.as_slice()).expect("a stored value decodes");
    Decoder { blobs: &blobs }
        .value(&stored)
        .expect("a stored value rebuilds")
}

fn check_span_groups(groups: &[SpanGroup]) {
    for group in groups {
        check_resource_and_scope(&group.resource, &group.scope);
        for span in &group.spans {
            check_span(span);
        }
    }
}

fn check_log_groups(groups: &[LogGroup]) {
    for group in groups {
        check_resource_and_scope(&group.resource, &group.scope);
        for record in &group.records {
            check_log_record(record);
        }
    }
}

fn check_resource_and_scope(resource: &Resource, scope: &Scope) {
    let bytes = StoredResource::of(resource).encode_to_vec();
    let decoded = StoredResource::decode(bytes.as_slice())
        .expect("a stored resource decodes")
        .into_resource()
        .expect("a stored resource rebuilds");
    assert_same("resource", resource, &decoded);
    let bytes = StoredScope::of(scope).encode_to_vec();
    let decoded = StoredScope::decode(bytes.as_slice())
        .expect("a stored scope decodes")
        .into_scope()
        .expect("a stored scope rebuilds");
    assert_same("scope", scope, &decoded);
}

pub fn check_span(span: &Span) {
    let mut encoder = Encoder::new();
    let bytes = StoredSpanBody::encode_from(span, &mut encoder).encode_to_vec();
    let blobs = blob_map(encoder);
    let body = StoredSpanBody::decode(bytes.as_slice()).expect("a stored span body decodes");
    let decoded = SpanColumns::of(span)
        .into_span(&body, &blobs)
        .expect("a stored span rebuilds");
    assert_same("span", span, &decoded);
}

pub fn check_log_record(record: &LogRecord) {
    let mut encoder = Encoder::new();
    let bytes = StoredLogBody::encode_from(record, &mut encoder).encode_to_vec();
    let blobs = blob_map(encoder);
    let body = StoredLogBody::decode(bytes.as_slice()).expect("a stored log body decodes");
    let decoded = LogColumns::of(record)
        .into_record(&body, &blobs)
        .expect("a stored log record rebuilds");
    assert_same("log record", record, &decoded);
}

pub fn check_calls(normalized: &Normalized) {
    for new_call in &normalized.calls {
        check_call(&new_call.call);
    }
}

pub fn check_call(call: &Call) {
    let mut encoder = Encoder::new();
    let bytes = StoredCallContent::encode_from(call, &mut encoder).encode_to_vec();
    let blobs = blob_map(encoder);
    let content =
        StoredCallContent::decode(bytes.as_slice()).expect("a stored call content decodes");
    let decoded = content
        .into_call(CallSummary::of(call), &blobs)
        .expect("a stored call rebuilds");
    assert_same("call", call, &decoded);
}

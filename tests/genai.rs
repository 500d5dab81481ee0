//! GenAI normalization against real captures: every fixture listed in
//! tests/fixtures/otlp/expected.json is decoded from its protobuf bodies,
//! converted to domain types, normalized the way the storage writer does it
//! (span calls, their log events, event-only calls, duplicate spans of one
//! API call folded), and compared field by field with the expected calls.
//! Fixtures added to expected.json are picked up with no code change.

// The choke points of clippy.toml hold the library; tests and benchmarks
// read clocks, environment variables and gzip freely.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::{Value as Json, json};

use reprise::ingest::genai::{
    CallFacts, GenAiEvent, apply_events, call_from_events, call_from_span, describe_same_call,
    genai_event, merge_same_call,
};
use reprise::ingest::limits::Limits;
use reprise::ingest::otlp::convert::{convert_logs, convert_traces};
use reprise::model::{Call, CallStatus, Message, Part, Resource, Scope, Span, SpanId, TraceId};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/otlp")
}

fn expected() -> Json {
    let path = fixtures_dir().join("expected.json");
    let text = std::fs::read_to_string(&path).expect("read expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn fixtures(expected: &Json) -> Vec<Json> {
    expected["fixtures"]
        .as_array()
        .expect("expected.json has a fixtures list")
        .clone()
}

/// An event with the resource and scope of the record it came from.
type ScopedEvent = (Arc<Resource>, Arc<Scope>, GenAiEvent);

/// A fixture's spans and GenAI log events, decoded from its `.pb` files.
struct Decoded {
    spans: Vec<(Arc<Resource>, Arc<Scope>, Span)>,
    events: Vec<ScopedEvent>,
}

/// A captured body as sent; gzip bodies (`Content-Encoding: gzip`, or the
/// gzip magic) are decompressed. Several export requests in one file decode
/// as one, since concatenated protobuf messages merge their repeated fields.
fn read_body(relative: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixtures_dir().join(relative)).expect("read .pb body");
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(bytes.as_slice()),
            &mut plain,
        )
        .expect("gunzip body");
        return plain;
    }
    bytes
}

fn decode(fixture: &Json) -> Decoded {
    let files = &fixture["files"];
    let mut decoded = Decoded {
        spans: Vec::new(),
        events: Vec::new(),
    };
    let traces = files["traces_pb"].as_str().expect("traces_pb");
    let bytes = read_body(traces);
    let request = ExportTraceServiceRequest::decode(bytes.as_slice()).expect("decode traces");
    let converted = convert_traces(request, &Limits::default());
    assert_eq!(converted.rejected, 0, "{traces}: spans rejected");
    for group in converted.groups {
        for span in group.spans {
            decoded
                .spans
                .push((group.resource.clone(), group.scope.clone(), span));
        }
    }
    if let Some(logs) = files["logs_pb"].as_str() {
        let bytes = read_body(logs);
        let request = ExportLogsServiceRequest::decode(bytes.as_slice()).expect("decode logs");
        let converted = convert_logs(request, &Limits::default());
        for group in converted.groups {
            for record in &group.records {
                if let Some(event) = genai_event(&group.resource, &group.scope, record) {
                    decoded
                        .events
                        .push((group.resource.clone(), group.scope.clone(), event));
                }
            }
        }
    }
    decoded
}

type EventKey = (Option<TraceId>, Option<SpanId>, usize);

/// Events of one span share a key; an event without span ids stands alone.
fn event_groups(events: &[ScopedEvent]) -> BTreeMap<EventKey, Vec<ScopedEvent>> {
    let mut groups: BTreeMap<EventKey, Vec<_>> = BTreeMap::new();
    for (position, entry) in events.iter().enumerate() {
        let event = &entry.2;
        let key = match (event.trace_id, event.span_id) {
            (Some(trace), Some(span)) => (Some(trace), Some(span), 0),
            _ => (None, None, position + 1),
        };
        groups.entry(key).or_default().push(entry.clone());
    }
    groups
}

/// How the writer hands a span's events to `apply_events`.
#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// All at once, in export order.
    InOrder,
    /// All at once, in reverse order.
    Reversed,
    /// Two requests, the second half first; the writer re-derives from the
    /// span and every stored event after each.
    SplitSecondHalfFirst,
    /// Applied twice.
    Twice,
    /// Events first (an event-only call is stored), the span later.
    EventsBeforeSpan,
}

struct Normalized {
    call: Call,
    facts: CallFacts,
    /// Whether the span the call came from carried no attributes at all.
    bare_span: bool,
}

fn apply_delivered(call: &mut Call, events: &[GenAiEvent], delivery: Delivery) {
    match delivery {
        Delivery::InOrder | Delivery::EventsBeforeSpan => apply_events(call, events),
        Delivery::Reversed => {
            let reversed: Vec<GenAiEvent> = events.iter().rev().cloned().collect();
            apply_events(call, &reversed);
        }
        Delivery::SplitSecondHalfFirst => {
            let (first, second) = events.split_at(events.len() / 2);
            let stored: Vec<GenAiEvent> = second.iter().chain(first).cloned().collect();
            apply_events(call, &stored);
        }
        Delivery::Twice => {
            apply_events(call, events);
            apply_events(call, events);
        }
    }
}

/// The calls of a fixture, the way the storage writer derives them.
fn normalize(decoded: &Decoded, delivery: Delivery) -> Vec<Normalized> {
    let mut groups = event_groups(&decoded.events);
    let mut out = Vec::new();
    for (resource, scope, span) in &decoded.spans {
        let Some(mut call) = call_from_span(resource, scope, span) else {
            continue;
        };
        let key = (Some(span.trace_id), Some(span.span_id), 0);
        if let Some(group) = groups.remove(&key) {
            let events: Vec<GenAiEvent> = group.iter().map(|(_, _, e)| e.clone()).collect();
            if let Delivery::EventsBeforeSpan = delivery {
                let early = call_from_events(&group[0].0, &group[0].1, &events)
                    .expect("events make a call");
                assert_eq!(early.trace_id, Some(span.trace_id));
                assert_eq!(early.span_id, Some(span.span_id));
            }
            apply_delivered(&mut call, &events, delivery);
        }
        let facts = CallFacts::from_span(span, &call);
        out.push(Normalized {
            call,
            facts,
            bare_span: span.attributes.is_empty(),
        });
    }
    for group in groups.into_values() {
        let events: Vec<GenAiEvent> = group.iter().map(|(_, _, e)| e.clone()).collect();
        let (resource, scope, _) = &group[0];
        if let Some(call) = call_from_events(resource, scope, &events) {
            let facts = CallFacts::from_call(&call);
            out.push(Normalized {
                call,
                facts,
                bare_span: false,
            });
        }
    }
    let mut folded = fold_same_calls(out);
    for normalized in &mut folded {
        // As the writer does for every call it stores.
        normalized.call.normalize_finish_reasons();
    }
    folded
}

/// Folds records of the same API call into one, the way the writer does.
fn fold_same_calls(records: Vec<Normalized>) -> Vec<Normalized> {
    let mut folded: Vec<Normalized> = Vec::new();
    'records: for record in records {
        for existing in folded.iter_mut() {
            if describe_same_call(&existing.facts, &record.facts) {
                let call = merge_same_call(existing.call.clone(), record.call);
                existing.call = call;
                existing.bare_span &= record.bare_span;
                continue 'records;
            }
        }
        folded.push(record);
    }
    folded.sort_by_key(|n| n.call.start_time_unix_nano);
    folded
}

/// A message in the shape of expected.json: role, text, tool calls, tool
/// call id.
fn message_view(message: &Message) -> Json {
    let mut view = serde_json::Map::new();
    view.insert("role".into(), json!(message.role));
    let mut tool_call_id = None;
    let mut text = message.joined_text();
    for part in &message.parts {
        if let Part::ToolCallResponse { id, response } = part {
            tool_call_id = id.clone();
            text = Some(match response {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            break;
        }
    }
    view.insert("text".into(), json!(text));
    let tool_calls = tool_calls_view(message);
    if tool_calls.as_array().is_some_and(|a| !a.is_empty()) {
        view.insert("tool_calls".into(), tool_calls);
    }
    if let Some(id) = tool_call_id {
        view.insert("tool_call_id".into(), json!(id));
    }
    Json::Object(view)
}

fn tool_calls_view(message: &Message) -> Json {
    let mut calls = Vec::new();
    for (id, name, arguments) in message.tool_calls() {
        calls.push(json!({"id": id, "name": name, "arguments": arguments}));
    }
    Json::Array(calls)
}

/// The fields expected.json compares, read from a call.
fn call_view(call: &Call) -> Json {
    let first_output = call.output_messages.as_ref().and_then(|m| m.first());
    json!({
        "provider": call.provider,
        "operation": call.operation,
        "request_model": call.request_model,
        "response_model": call.response_model,
        "response_id": call.response_id,
        "input_messages": call.input_messages.as_ref().map(|ms| ms.iter().map(message_view).collect::<Vec<_>>()),
        "output_text": call.output_text(),
        "tool_calls": first_output.map_or(json!([]), tool_calls_view),
        "input_tokens": call.usage.input_tokens,
        "output_tokens": call.usage.output_tokens,
        "error": call.status == CallStatus::Error,
        "streaming": call.streaming,
    })
}

const COMPARED_FIELDS: [&str; 12] = [
    "provider",
    "operation",
    "request_model",
    "response_model",
    "response_id",
    "input_messages",
    "output_text",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "error",
    "streaming",
];

/// Instrumentations whose captures list `streaming` as not recorded: they
/// write no stream flag at all, so their non-streamed calls cannot say
/// `false` either; `null` is the honest value there.
fn instrumentations_without_stream_flag(fixtures: &[Json]) -> HashSet<String> {
    let mut out = HashSet::new();
    for fixture in fixtures {
        let lists = fixture["not_in_telemetry"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let unrecorded = lists
            .iter()
            .flat_map(|l| l.as_array().cloned().unwrap_or_default())
            .any(|field| field == "streaming");
        if unrecorded {
            out.insert(fixture["instrumentation"].as_str().unwrap_or("").to_owned());
        }
    }
    out
}

/// Differences between a fixture's expected calls and ours, as readable lines.
fn differences(
    fixture: &Json,
    calls: &[Normalized],
    no_stream_flag: &HashSet<String>,
) -> Vec<String> {
    let id = fixture["id"].as_str().unwrap_or("?");
    let expected_calls = fixture["calls"].as_array().cloned().unwrap_or_default();
    if expected_calls.len() != calls.len() {
        return vec![format!(
            "{id}: {} calls expected, {} normalized",
            expected_calls.len(),
            calls.len()
        )];
    }
    let instrumentation = fixture["instrumentation"].as_str().unwrap_or("");
    let mut out = Vec::new();
    for (index, (expected, normalized)) in expected_calls.iter().zip(calls).enumerate() {
        let actual = call_view(&normalized.call);
        for field in COMPARED_FIELDS {
            let want = &expected[field];
            let got = &actual[field];
            if want == got {
                continue;
            }
            let unknowable_stream = field == "streaming"
                && *want == json!(false)
                && got.is_null()
                && (no_stream_flag.contains(instrumentation) || normalized.bare_span);
            if unknowable_stream {
                continue;
            }
            out.push(format!("{id}[{index}].{field}: expected {want}, got {got}"));
        }
    }
    out
}

fn check_all(delivery: Delivery) {
    let expected = expected();
    let fixtures = fixtures(&expected);
    assert!(!fixtures.is_empty(), "expected.json lists no fixtures");
    let no_stream_flag = instrumentations_without_stream_flag(&fixtures);
    let mut problems = Vec::new();
    for fixture in &fixtures {
        let calls = normalize(&decode(fixture), delivery);
        problems.extend(differences(fixture, &calls, &no_stream_flag));
    }
    assert!(
        problems.is_empty(),
        "{} differences ({delivery:?}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_fixture_normalizes_to_its_expected_calls() {
    check_all(Delivery::InOrder);
}

#[test]
fn event_order_does_not_change_the_calls() {
    check_all(Delivery::Reversed);
}

#[test]
fn events_split_across_two_requests_rederive_to_the_same_calls() {
    check_all(Delivery::SplitSecondHalfFirst);
}

#[test]
fn applying_the_same_events_twice_changes_nothing() {
    check_all(Delivery::Twice);
}

#[test]
fn events_arriving_before_their_span_give_the_same_calls() {
    check_all(Delivery::EventsBeforeSpan);
}

/// Stronger than the field comparison: the whole canonical call is the same
/// however the events were delivered.
#[test]
fn every_delivery_gives_identical_canonical_calls() {
    let expected = expected();
    for fixture in fixtures(&expected) {
        let decoded = decode(&fixture);
        if decoded.events.is_empty() {
            continue;
        }
        let reference = canonical(&normalize(&decoded, Delivery::InOrder));
        for delivery in [
            Delivery::Reversed,
            Delivery::SplitSecondHalfFirst,
            Delivery::Twice,
            Delivery::EventsBeforeSpan,
        ] {
            assert_eq!(
                canonical(&normalize(&decoded, delivery)),
                reference,
                "{} with {delivery:?}",
                fixture["id"]
            );
        }
    }
}

fn canonical(calls: &[Normalized]) -> Json {
    serde_json::to_value(calls.iter().map(|n| &n.call).collect::<Vec<_>>()).expect("serialize")
}

/// Event-only calls carry the same content as the span-derived call they
/// preview: what a reader sees before the span arrives is not different,
/// only less.
#[test]
fn event_only_calls_agree_with_their_span_calls() {
    let expected = expected();
    let mut compared = 0;
    for fixture in fixtures(&expected) {
        let decoded = decode(&fixture);
        let groups = event_groups(&decoded.events);
        for (resource, scope, span) in &decoded.spans {
            let key = (Some(span.trace_id), Some(span.span_id), 0);
            let Some(group) = groups.get(&key) else {
                continue;
            };
            let events: Vec<GenAiEvent> = group.iter().map(|(_, _, e)| e.clone()).collect();
            let early = call_from_events(resource, scope, &events).expect("events make a call");
            let mut full = call_from_span(resource, scope, span).expect("an LLM span");
            apply_events(&mut full, &events);
            assert_eq!(
                early.input_messages, full.input_messages,
                "{}",
                fixture["id"]
            );
            if early.output_messages.is_some() {
                assert_eq!(
                    early.output_messages, full.output_messages,
                    "{}",
                    fixture["id"]
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 0, "no fixture has span-linked log events");
}

/// Full canonical JSON of a few calls per convention, ids included (they
/// are derived from trace and span ids, so they are stable).
#[test]
fn canonical_calls_snapshot() {
    const CASES: [&str; 8] = [
        "tool_call",
        "anthropic-sdk-native/chat_stream",
        "openinference-openai/chat_stream",
        "openinference-anthropic/error_500",
        "openlit-anthropic/error_500",
        "openllmetry-openai/chat_stream",
        "otel-openai-v2-legacy/chat_multiturn",
        "otel-openai-v2-event/error_500",
    ];
    let expected = expected();
    let mut taken = 0;
    for fixture in fixtures(&expected) {
        let id = fixture["id"].as_str().unwrap_or("");
        let case = fixture["case"].as_str().unwrap_or("");
        if !CASES.contains(&id) && !CASES.contains(&case) {
            continue;
        }
        let calls = normalize(&decode(&fixture), Delivery::InOrder);
        let calls: Vec<&Call> = calls.iter().map(|n| &n.call).collect();
        let name = id.replace(['/', '+'], "__");
        insta::assert_json_snapshot!(name, calls);
        taken += 1;
    }
    assert!(
        taken >= CASES.len(),
        "snapshot cases missing from expected.json"
    );
}

/// All captures in one store, as a writer that received every fixture would
/// hold them: the mock server of the captures returned the same response ids
/// in every run, and those calls must still stay apart.
#[test]
fn calls_of_different_fixtures_are_not_folded_together() {
    let expected = expected();
    let mut pooled = Decoded {
        spans: Vec::new(),
        events: Vec::new(),
    };
    let mut expected_total = 0;
    for fixture in fixtures(&expected) {
        let decoded = decode(&fixture);
        pooled.spans.extend(decoded.spans);
        pooled.events.extend(decoded.events);
        expected_total += fixture["calls"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(normalize(&pooled, Delivery::InOrder).len(), expected_total);
}

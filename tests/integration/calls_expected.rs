//! The table of tests/fixtures/otlp/expected.json, through the real
//! interfaces: every fixture's traces and logs are sent to a running server
//! over HTTP, the calls are read back through the API, and every expected
//! field is compared. A fixture added to expected.json is picked up with no
//! code change.

use std::collections::{BTreeMap, HashSet};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use serde_json::{Value, json};

use crate::fixtures;
use crate::server::TestServer;

fn expected() -> Value {
    fixtures::read_json(&fixtures::root().join("expected.json"))
}

fn fixture_list(expected: &Value) -> Vec<Value> {
    expected["fixtures"].as_array().expect("fixtures").clone()
}

fn file(fixture: &Value, key: &str) -> Option<Vec<u8>> {
    let relative = fixture["files"][key].as_str()?;
    Some(fixtures::read(&fixtures::root().join(relative)))
}

/// Waits until everything sent is derived and the linker has dealt with
/// it (no fixed sleep: polls the server's own counts).
pub async fn settle(server: &TestServer) {
    server.derived().await;
}

fn trace_ids(traces: &[u8]) -> Vec<String> {
    let request = ExportTraceServiceRequest::decode(traces).expect("traces decode");
    let mut ids = Vec::new();
    for resource in &request.resource_spans {
        for scope in &resource.scope_spans {
            for span in &scope.spans {
                let id: String = span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

/// The calls of the fixture's traces, in full, in start-time order.
async fn calls_of(server: &TestServer, traces: &[u8]) -> Vec<Value> {
    let mut calls = Vec::new();
    for trace_id in trace_ids(traces) {
        let page = server
            .get_json(&format!("/api/v1/calls?trace_id={trace_id}"))
            .await;
        for summary in page["calls"].as_array().expect("calls") {
            let id = summary["id"].as_str().expect("id");
            let call = server.get_json(&format!("/api/v1/calls/{id}")).await;
            assert_eq!(call["trace_id"], summary["trace_id"]);
            calls.push(call);
        }
    }
    calls.sort_by_key(|c| {
        c["start_time_unix_nano"]
            .as_str()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0)
    });
    calls
}

fn text_of_parts(parts: &Value) -> Option<String> {
    let texts: Vec<&str> = parts
        .as_array()?
        .iter()
        .filter(|p| p["type"] == "text")
        .filter_map(|p| p["content"].as_str())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn tool_calls_view(message: &Value) -> Value {
    let calls: Vec<Value> = message["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p["type"] == "tool_call")
                .map(|p| json!({"id": p["id"], "name": p["name"], "arguments": p["arguments"]}))
                .collect()
        })
        .unwrap_or_default();
    Value::Array(calls)
}

/// A canonical message in the shape of expected.json.
fn message_view(message: &Value) -> Value {
    let mut view = serde_json::Map::new();
    view.insert("role".into(), message["role"].clone());
    let mut text = text_of_parts(&message["parts"]);
    let mut tool_call_id = None;
    if let Some(response) = message["parts"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["type"] == "tool_call_response"))
    {
        tool_call_id = response["id"].as_str().map(str::to_owned);
        text = Some(match &response["response"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    view.insert("text".into(), json!(text));
    let tool_calls = tool_calls_view(message);
    if tool_calls.as_array().is_some_and(|a| !a.is_empty()) {
        view.insert("tool_calls".into(), tool_calls);
    }
    if let Some(id) = tool_call_id {
        view.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(view)
}

fn call_view(call: &Value) -> Value {
    let first_output = call["output_messages"].get(0);
    json!({
        "provider": call["provider"],
        "operation": call["operation"],
        "request_model": call["request_model"],
        "response_model": call["response_model"],
        "response_id": call["response_id"],
        "input_messages": call["input_messages"].as_array().map(|ms| ms.iter().map(message_view).collect::<Vec<_>>()),
        "output_text": first_output.and_then(|m| text_of_parts(&m["parts"])),
        "tool_calls": first_output.map_or(json!([]), tool_calls_view),
        "input_tokens": call["usage"]["input_tokens"],
        "output_tokens": call["usage"]["output_tokens"],
        "error": call["status"] == "error",
        "streaming": call["streaming"],
    })
}

const COMPARED: [&str; 12] = [
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

/// Instrumentations that write no stream flag at all (their streamed calls
/// list `streaming` as not in telemetry). Their non-streamed calls carry no
/// flag either, so reprise reports `null` rather than guessing `false`.
fn without_stream_flag(fixtures: &[Value]) -> HashSet<String> {
    fixtures
        .iter()
        .filter(|f| {
            f["not_in_telemetry"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|l| l.as_array().cloned().unwrap_or_default())
                .any(|field| field == "streaming")
        })
        .map(|f| f["instrumentation"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A span with no attributes at all (OpenLIT's error spans) says nothing
/// about streaming either.
fn bare(call: &Value) -> bool {
    call["request_params"]
        .as_object()
        .is_none_or(|m| m.is_empty())
        && call["attributes"].as_object().is_none_or(|m| m.is_empty())
        && call["usage"]["input_tokens"].is_null()
}

fn differences(fixture: &Value, calls: &[Value], no_flag: &HashSet<String>) -> Vec<String> {
    let id = fixture["id"].as_str().unwrap_or("?");
    let expected = fixture["calls"].as_array().cloned().unwrap_or_default();
    if expected.len() != calls.len() {
        return vec![format!(
            "{id}: {} calls expected, {} stored",
            expected.len(),
            calls.len()
        )];
    }
    let instrumentation = fixture["instrumentation"].as_str().unwrap_or("");
    let mut out = Vec::new();
    for (i, (want_call, call)) in expected.iter().zip(calls).enumerate() {
        let got_call = call_view(call);
        for field in COMPARED {
            let (want, got) = (&want_call[field], &got_call[field]);
            let unknowable_stream = field == "streaming"
                && *want == json!(false)
                && got.is_null()
                && (no_flag.contains(instrumentation) || bare(call));
            if want != got && !unknowable_stream {
                out.push(format!("{id}[{i}].{field}: expected {want}, got {got}"));
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Order {
    TracesFirst,
    LogsFirst,
}

/// The linker replaced calls as their logs and twin spans came in: the
/// stats rollups must have followed every delete and insert.
async fn assert_rollups_followed_the_linker(server: &TestServer) {
    let queries = ["model", "provider", "service", "day"].map(|g| format!("group_by={g}"));
    crate::query_api::assert_rollups_agree_with_a_scan(server, &queries).await;
}

async fn check_every_fixture(order: Order) {
    let expected = expected();
    let fixtures = fixture_list(&expected);
    let no_flag = without_stream_flag(&fixtures);
    let server = TestServer::start().await;
    for fixture in &fixtures {
        let traces = file(fixture, "traces_pb").expect("traces");
        let logs = file(fixture, "logs_pb");
        if let (Order::LogsFirst, Some(logs)) = (order, &logs) {
            server.post_protobuf("/v1/logs", logs.clone()).await;
        }
        server.post_protobuf("/v1/traces", traces).await;
        if let (Order::TracesFirst, Some(logs)) = (order, logs) {
            server.post_protobuf("/v1/logs", logs).await;
        }
    }
    settle(&server).await;
    assert_rollups_followed_the_linker(&server).await;
    let mut problems = Vec::new();
    let mut all_calls = Vec::new();
    for fixture in &fixtures {
        let traces = file(fixture, "traces_pb").expect("traces");
        let calls = calls_of(&server, &traces).await;
        problems.extend(differences(fixture, &calls, &no_flag));
        all_calls.extend(calls);
    }
    problems.extend(search_problems(&server, &all_calls).await);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The answer's text of a call, lower-cased.
fn answer_text(call: &Value) -> String {
    let messages = call["output_messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let texts: Vec<String> = messages
        .iter()
        .filter_map(|m| text_of_parts(&m["parts"]))
        .collect();
    texts.join("\n").to_lowercase()
}

/// Full-text search after the linker replaced calls (deleting them and
/// inserting what it derived, often in the same commit): every call is
/// found by the longest word of its answer, and every call a search finds
/// holds the word in its text.
async fn search_problems(server: &TestServer, calls: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut searched = 0;
    for call in calls {
        let answer = answer_text(call);
        let Some(word) = answer
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() >= 5)
            .max_by_key(|w| w.len())
        else {
            continue;
        };
        searched += 1;
        let page = server
            .get_json(&format!("/api/v1/calls?limit=200&q={word}"))
            .await;
        let found = page["calls"].as_array().expect("calls");
        if !found.iter().any(|c| c["id"] == call["id"]) {
            problems.push(format!("{}: not found by {word:?}", call["id"]));
        }
        for hit in found {
            let id = hit["id"].as_str().expect("id");
            let hit = server.get_json(&format!("/api/v1/calls/{id}")).await;
            let input = hit["input_messages"].to_string().to_lowercase();
            if !answer_text(&hit).contains(word) && !input.contains(word) {
                problems.push(format!("{id}: found by {word:?} without it"));
            }
        }
    }
    assert!(
        searched > 10,
        "the fixtures' answers give words to search for"
    );
    problems
}

#[tokio::test]
async fn every_fixture_gives_its_expected_calls_traces_first() {
    check_every_fixture(Order::TracesFirst).await;
}

#[tokio::test]
async fn every_fixture_gives_its_expected_calls_logs_first() {
    check_every_fixture(Order::LogsFirst).await;
}

#[tokio::test]
async fn all_fixtures_of_a_flavour_in_one_batch() {
    let expected = expected();
    let fixtures = fixture_list(&expected);
    let no_flag = without_stream_flag(&fixtures);
    let mut flavours: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for fixture in &fixtures {
        let name = fixture["instrumentation"]
            .as_str()
            .expect("instrumentation")
            .to_owned();
        flavours.entry(name).or_default().push(fixture.clone());
    }
    let server = TestServer::start().await;
    for members in flavours.values() {
        let mut traces = ExportTraceServiceRequest::default();
        let mut logs = ExportLogsServiceRequest::default();
        for fixture in members {
            let body = file(fixture, "traces_pb").expect("traces");
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decode");
            traces.resource_spans.extend(request.resource_spans);
            if let Some(body) = file(fixture, "logs_pb") {
                let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("decode");
                logs.resource_logs.extend(request.resource_logs);
            }
        }
        server
            .post_protobuf("/v1/traces", traces.encode_to_vec())
            .await;
        if !logs.resource_logs.is_empty() {
            server.post_protobuf("/v1/logs", logs.encode_to_vec()).await;
        }
    }
    settle(&server).await;
    assert_rollups_followed_the_linker(&server).await;
    let mut problems = Vec::new();
    let mut all_calls = Vec::new();
    for fixture in &fixtures {
        let traces = file(fixture, "traces_pb").expect("traces");
        let calls = calls_of(&server, &traces).await;
        problems.extend(differences(fixture, &calls, &no_flag));
        all_calls.extend(calls);
    }
    problems.extend(search_problems(&server, &all_calls).await);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

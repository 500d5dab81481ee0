//! Issue 20: nanosecond times were JSON numbers above 2^53, which
//! JavaScript (the web UI included) reads as the nearest double:
//! `1765000000123456789` became `1765000000123456800`. Every `*_unix_nano`
//! the API writes is now a decimal string, with milliseconds beside it
//! for arithmetic; input takes either form.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;
use serde_json::{Value, json};

use crate::generate::{self, hex};
use crate::server::TestServer;

/// Not a double: the nearest one is ...456768, JavaScript prints ...456800.
const START: u64 = 1_765_000_000_123_456_789;
const START_TEXT: &str = "1765000000123456789";

fn record(start_time: Value, key: &str) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What time is it?"}]},
        "response": {"id": format!("chatcmpl-{key}"), "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Late."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        "start_time": start_time,
        "idempotency_key": key,
    })
}

async fn post_calls(server: &TestServer, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

fn assert_exact(value: &Value, what: &str) {
    assert_eq!(value.as_str(), Some(START_TEXT), "{what}: {value}");
}

fn assert_millis(value: &Value, what: &str) {
    let ms = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is a number"));
    assert!((ms - 1_765_000_000_123.456_8).abs() < 0.001, "{what}: {ms}");
}

#[tokio::test]
async fn call_times_are_exact_strings_with_milliseconds_beside_them() {
    let server = TestServer::start().await;
    // The same instant as a number and as a string: both accepted.
    let reply = post_calls(
        &server,
        &json!([
            record(json!(START), "number"),
            record(json!(START_TEXT), "string")
        ]),
    )
    .await;
    assert_eq!(reply["accepted"], 2, "{reply}");
    let page = server.get_json("/api/v1/calls?limit=10").await;
    for summary in page["calls"].as_array().expect("calls") {
        assert_exact(&summary["start_time_unix_nano"], "listing");
        assert_millis(&summary["start_time_ms"], "listing");
    }
    let id = reply["ids"][0].as_str().expect("id");
    let call = server.get_json(&format!("/api/v1/calls/{id}")).await;
    assert_exact(&call["start_time_unix_nano"], "call");
    assert_millis(&call["start_time_ms"], "call");

    // An exported line goes back in as it came out.
    let export = reqwest::get(server.url("/api/v1/export"))
        .await
        .expect("export")
        .text()
        .await
        .expect("body");
    let mut line: Value =
        serde_json::from_str(export.lines().next().expect("a line")).expect("JSON");
    assert_exact(&line["start_time_unix_nano"], "export");
    line["id"] = Value::Null;
    line["idempotency_key"] = json!("re-imported");
    let again = post_calls(&server, &line).await;
    let copy = server
        .get_json(&format!(
            "/api/v1/calls/{}",
            again["ids"][0].as_str().expect("id")
        ))
        .await;
    assert_exact(&copy["start_time_unix_nano"], "re-imported call");
}

#[tokio::test]
async fn span_and_log_times_are_exact_strings() {
    let server = TestServer::start().await;
    let mut span = generate::span("clock");
    span.start_time_unix_nano = START;
    span.end_time_unix_nano = START + 1_000;
    let trace_id = hex(&span.trace_id);
    let log = LogRecord {
        time_unix_nano: START,
        observed_time_unix_nano: START,
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        severity_number: 9,
        ..Default::default()
    };
    server
        .post_protobuf("/v1/traces", generate::request(vec![span]).encode_to_vec())
        .await;
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![log],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    server.post_protobuf("/v1/logs", logs.encode_to_vec()).await;
    let trace = server.get_json(&format!("/api/v1/traces/{trace_id}")).await;
    let span = &trace["spans"][0];
    assert_exact(&span["start_time_unix_nano"], "span start");
    assert_eq!(span["end_time_unix_nano"], "1765000000123457789");
    assert_millis(&span["start_time_ms"], "span start");
    let log = &trace["logs"][0];
    assert_exact(&log["time_unix_nano"], "log time");
    assert_exact(&log["observed_time_unix_nano"], "log observed time");
    assert_millis(&log["time_ms"], "log time");
    let listed = server.get_json("/api/v1/logs?fresh=true").await;
    assert_exact(&listed["logs"][0]["time_unix_nano"], "listed log");
}

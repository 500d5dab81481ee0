//! Every captured fixture, sent over each transport, reads back through the
//! trace API with every span, attribute, event and log record intact.

use std::collections::HashMap;
use std::io::Write as _;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::Value;
use tonic::codec::CompressionEncoding;

use crate::fixtures::{self, Capture};
use crate::otlp_compare::{assert_log, assert_span, fixture_logs, fixture_spans};
use crate::server::TestServer;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Protobuf,
    ProtobufGzip,
    Json,
    JsonGzip,
    Grpc,
    GrpcGzip,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

async fn send_http(server: &TestServer, capture: &Capture, json: bool, compress: bool) {
    let path = if capture.is_logs {
        "/v1/logs"
    } else {
        "/v1/traces"
    };
    let (body, content_type) = if json {
        (fixtures::read(&capture.json), "application/json")
    } else {
        (fixtures::read(&capture.pb), "application/x-protobuf")
    };
    let mut request = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", content_type);
    let body = if compress {
        request = request.header("content-encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    let response = request.body(body).send().await.expect("send");
    let status = response.status();
    let text = response.bytes().await.expect("body");
    assert_eq!(
        status,
        200,
        "{}: {}",
        capture.name,
        String::from_utf8_lossy(&text)
    );
    if json {
        let body: Value = serde_json::from_slice(&text).expect("JSON response");
        assert!(
            body.get("partialSuccess").is_none(),
            "{}: {body}",
            capture.name
        );
    } else {
        assert!(
            text.is_empty(),
            "{}: a full success is the empty message",
            capture.name
        );
    }
}

async fn send_grpc(server: &TestServer, capture: &Capture, compress: bool) {
    let body = fixtures::read(&capture.pb);
    if capture.is_logs {
        let mut client = LogsServiceClient::connect(server.grpc.clone())
            .await
            .expect("connect");
        if compress {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let request = ExportLogsServiceRequest::decode(body.as_slice()).expect("decode");
        let response = client.export(request).await.expect("export").into_inner();
        assert!(response.partial_success.is_none(), "{}", capture.name);
    } else {
        let mut client = TraceServiceClient::connect(server.grpc.clone())
            .await
            .expect("connect");
        if compress {
            client = client.send_compressed(CompressionEncoding::Gzip);
        }
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decode");
        let response = client.export(request).await.expect("export").into_inner();
        assert!(response.partial_success.is_none(), "{}", capture.name);
    }
}

pub async fn get_trace(server: &TestServer, trace_id: &str) -> Value {
    let response = reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get trace");
    assert_eq!(response.status(), 200, "trace {trace_id}");
    response.json().await.expect("trace JSON")
}

/// Reads back every span and log record of the captures and compares them with the fixture.
async fn verify(server: &TestServer, captures: &[Capture]) {
    let mut traces: HashMap<String, Value> = HashMap::new();
    let mut checked = 0;
    for capture in captures {
        let request = fixtures::read_json(&capture.json);
        for (span, resource, scope) in fixture_spans(&request) {
            let trace_id = span["traceId"].as_str().expect("trace id").to_lowercase();
            if !traces.contains_key(&trace_id) {
                traces.insert(trace_id.clone(), get_trace(server, &trace_id).await);
            }
            let span_id = span["spanId"].as_str().expect("span id").to_lowercase();
            let api = traces[&trace_id]["spans"]
                .as_array()
                .expect("spans")
                .iter()
                .find(|s| s["span_id"] == span_id.as_str())
                .unwrap_or_else(|| panic!("{}: span {span_id} missing", capture.name));
            assert_span(&capture.name, &span, &resource, &scope, api);
            checked += 1;
        }
        for (record, resource, scope) in fixture_logs(&request) {
            let Some(trace_id) = record["traceId"].as_str().filter(|t| !t.is_empty()) else {
                continue;
            };
            let trace_id = trace_id.to_lowercase();
            if !traces.contains_key(&trace_id) {
                traces.insert(trace_id.clone(), get_trace(server, &trace_id).await);
            }
            let api = traces[&trace_id]["logs"]
                .as_array()
                .expect("logs")
                .iter()
                .find(|l| same_log(l, &record))
                .unwrap_or_else(|| panic!("{}: log record missing", capture.name));
            assert_log(&capture.name, &record, &resource, &scope, api);
            checked += 1;
        }
    }
    assert!(checked > 100, "checked {checked} items");
}

/// Log records have no id: match on the fields that place them.
fn same_log(api: &Value, fixture: &Value) -> bool {
    let number = |v: &Value| {
        v.as_str()
            .unwrap_or("0")
            .parse::<u64>()
            .expect("nanoseconds")
    };
    let time = number(&fixture["timeUnixNano"]);
    let observed = number(&fixture["observedTimeUnixNano"]);
    let span_id = fixture["spanId"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    api["time_unix_nano"].as_str() == Some(time.to_string().as_str())
        && api["observed_time_unix_nano"].as_str() == Some(observed.to_string().as_str())
        && api["span_id"].as_str().unwrap_or_default() == span_id
}

async fn round_trip(transport: Transport) {
    let server = TestServer::start().await;
    let captures = fixtures::captures();
    for capture in &captures {
        match transport {
            Transport::Protobuf => send_http(&server, capture, false, false).await,
            Transport::ProtobufGzip => send_http(&server, capture, false, true).await,
            Transport::Json => send_http(&server, capture, true, false).await,
            Transport::JsonGzip => send_http(&server, capture, true, true).await,
            Transport::Grpc => send_grpc(&server, capture, false).await,
            Transport::GrpcGzip => send_grpc(&server, capture, true).await,
        }
    }
    verify(&server, &captures).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_http_protobuf() {
    round_trip(Transport::Protobuf).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_http_protobuf_gzip() {
    round_trip(Transport::ProtobufGzip).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_grpc() {
    round_trip(Transport::Grpc).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_grpc_gzip() {
    round_trip(Transport::GrpcGzip).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_http_json() {
    round_trip(Transport::Json).await;
}

#[tokio::test]
async fn fixtures_round_trip_over_http_json_gzip() {
    round_trip(Transport::JsonGzip).await;
}

#[tokio::test]
async fn resent_spans_and_logs_are_stored_once() {
    let server = TestServer::start().await;
    let captures = fixtures::captures();
    let capture = captures
        .iter()
        .find(|c| c.name == "otel-openai-v2-event/tool_call")
        .expect("fixture");
    let logs = captures
        .iter()
        .find(|c| c.name == "otel-openai-v2-event/tool_call.logs")
        .expect("fixture");
    for _ in 0..3 {
        send_http(&server, capture, false, false).await;
        send_http(&server, logs, false, false).await;
    }
    server.derived().await;
    let request = fixtures::read_json(&capture.json);
    let (span, _, _) = &fixture_spans(&request)[0];
    let trace = get_trace(
        &server,
        &span["traceId"].as_str().expect("id").to_lowercase(),
    )
    .await;
    assert_eq!(trace["spans"].as_array().expect("spans").len(), 1);
    assert_eq!(trace["logs"].as_array().expect("logs").len(), 1);
}

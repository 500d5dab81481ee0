//! Bad input gets a clear error and loses nothing else: each kind of bad
//! request is refused with the right status and message, and good requests
//! sent before and after it are intact.

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, any_value};
use prost::Message as _;

use crate::generate::{self, hex};
use crate::server::TestServer;

/// `google.rpc.Status`, the error body OTLP/HTTP sends.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn rpc_status(&self) -> RpcStatus {
        RpcStatus::decode(self.body.as_slice()).expect("error body is a google.rpc.Status")
    }
}

async fn post(server: &TestServer, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut request = reqwest::Client::new().post(server.url("/v1/traces"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.expect("send");
    Reply {
        status: response.status().as_u16(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");

/// Sends a good request and returns its trace id.
async fn good(server: &TestServer) -> String {
    let span = generate::span("good");
    let trace_id = hex(&span.trace_id);
    let reply = post(
        server,
        &[PROTOBUF],
        generate::request(vec![span]).encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    trace_id
}

async fn assert_stored(server: &TestServer, trace_id: &str) {
    let response = reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "trace {trace_id} is stored");
}

/// Sends good, bad, good; checks the bad reply and that both good ones are stored.
async fn around(server: &TestServer, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let before = good(server).await;
    let reply = post(server, headers, body).await;
    let after = good(server).await;
    assert_stored(server, &before).await;
    assert_stored(server, &after).await;
    reply
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

#[tokio::test]
async fn malformed_protobuf_is_400_with_a_status_body() {
    let server = TestServer::start().await;
    let reply = around(
        &server,
        &[PROTOBUF],
        b"\x0a\xff\xff\xff\xff\x0f garbage".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    let status = reply.rpc_status();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("malformed protobuf body"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn invalid_utf8_in_a_string_field_is_400() {
    let server = TestServer::start().await;
    let mut body = generate::request(vec![generate::span("MARKERMARKER")]).encode_to_vec();
    let at = body
        .windows(12)
        .position(|w| w == b"MARKERMARKER")
        .expect("name in body");
    body[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xfd, 0xfc]);
    let reply = around(&server, &[PROTOBUF], body).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.rpc_status().message.contains("UTF-8"),
        "{}",
        reply.rpc_status().message
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let server = TestServer::start().await;
    let reply = around(
        &server,
        &[("content-type", "text/plain")],
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(reply.status, 415);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON error");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("application/x-protobuf")
    );
}

#[tokio::test]
async fn unknown_content_encoding_is_415() {
    let server = TestServer::start().await;
    let body = generate::request(vec![generate::span("x")]).encode_to_vec();
    let reply = around(&server, &[PROTOBUF, ("content-encoding", "br")], body).await;
    assert_eq!(reply.status, 415);
    assert!(reply.rpc_status().message.contains("content encoding"));
}

#[tokio::test]
async fn oversized_body_is_413() {
    let server = TestServer::start_with_args(&["--max-body-mb", "1"]).await;
    let reply = around(&server, &[PROTOBUF], vec![0u8; 2 << 20]).await;
    assert_eq!(reply.status, 413);
    assert!(reply.rpc_status().message.contains("larger than the limit"));
}

#[tokio::test]
async fn gzip_bomb_is_413_without_exhausting_memory() {
    let server = TestServer::start_with_args(&["--max-decompressed-mb", "8"]).await;
    // 1 GiB of zeros compresses to about 1 MiB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).expect("in memory");
    }
    let bomb = encoder.finish().expect("in memory");
    let reply = around(&server, &[PROTOBUF, ("content-encoding", "gzip")], bomb).await;
    assert_eq!(reply.status, 413);
    assert!(
        reply
            .rpc_status()
            .message
            .contains("decompressed body is larger")
    );
}

#[tokio::test]
async fn corrupt_gzip_is_400() {
    let server = TestServer::start().await;
    let mut body = gzip(&generate::request(vec![generate::span("x")]).encode_to_vec());
    let middle = body.len() / 2;
    body[middle] ^= 0xff;
    body.truncate(body.len() - 4);
    let reply = around(&server, &[PROTOBUF, ("content-encoding", "gzip")], body).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn a_bad_span_id_rejects_that_span_only() {
    let server = TestServer::start().await;
    let good_span = generate::span("kept");
    let trace_id = hex(&good_span.trace_id);
    let mut bad_span = generate::span("dropped");
    bad_span.span_id = vec![1, 2, 3];
    let body = generate::request(vec![good_span, bad_span]).encode_to_vec();
    let reply = around(&server, &[PROTOBUF], body).await;
    assert_eq!(reply.status, 200);
    let response = ExportTraceServiceResponse::decode(reply.body.as_slice()).expect("response");
    let partial = response.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("span id must be 8 bytes, got 3"),
        "{}",
        partial.error_message
    );
    assert_stored(&server, &trace_id).await;
}

#[tokio::test]
async fn a_request_of_only_bad_ids_is_400() {
    let server = TestServer::start().await;
    let mut span = generate::span("zero");
    span.trace_id = vec![0; 16];
    let reply = around(
        &server,
        &[PROTOBUF],
        generate::request(vec![span]).encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .rpc_status()
            .message
            .contains("trace id must not be all zeros")
    );
}

#[tokio::test]
async fn attributes_nested_too_deep_are_rejected_per_span() {
    let server = TestServer::start().await;
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..40 {
        value = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    let mut deep = generate::span("deep");
    deep.attributes
        .push(opentelemetry_proto::tonic::common::v1::KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        });
    let kept = generate::span("kept");
    let trace_id = hex(&kept.trace_id);
    let reply = around(
        &server,
        &[PROTOBUF],
        generate::request(vec![deep, kept]).encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let partial = ExportTraceServiceResponse::decode(reply.body.as_slice())
        .expect("response")
        .partial_success
        .expect("partial");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("nests"),
        "{}",
        partial.error_message
    );
    assert_stored(&server, &trace_id).await;
}

#[tokio::test]
async fn grpc_all_bad_is_invalid_argument() {
    let server = TestServer::start().await;
    let mut client = TraceServiceClient::connect(server.grpc.clone())
        .await
        .expect("connect");
    let mut span = generate::span("bad");
    span.trace_id = vec![9; 3];
    let error = client
        .export(generate::request(vec![span]))
        .await
        .expect_err("refused");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(error.message().contains("trace id must be 16 bytes"));
    let empty = client
        .export(ExportTraceServiceRequest::default())
        .await
        .expect("an empty export is fine");
    assert!(empty.into_inner().partial_success.is_none());
}

/// Issue 20: SDKs with metrics on got a bare 404 every interval. They now
/// get a status they do not retry, in their own encoding, saying what to
/// set; and the traces sent beside them are unaffected.
#[tokio::test]
async fn metrics_are_refused_with_what_to_set_in_the_request_encoding() {
    let server = TestServer::start().await;
    let before = good(&server).await;
    // A minimal ExportMetricsServiceRequest: one empty ResourceMetrics.
    let metrics = vec![0x0a, 0x00];
    for (content_type, protobuf) in [
        ("application/x-protobuf", true),
        ("application/json", false),
    ] {
        let response = reqwest::Client::new()
            .post(server.url("/v1/metrics"))
            .header("content-type", content_type)
            .body(if protobuf {
                metrics.clone()
            } else {
                br#"{"resourceMetrics":[]}"#.to_vec()
            })
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let header = response.headers()["content-type"].to_str().expect("type");
        assert_eq!(header, content_type);
        let body = response.bytes().await.expect("body");
        assert_eq!(status, 501, "not one of OTLP's retryable 429/502/503/504");
        let (code, message) = if protobuf {
            let rpc = RpcStatus::decode(body.as_ref()).expect("google.rpc.Status");
            (rpc.code, rpc.message)
        } else {
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON status");
            (
                json["code"].as_i64().expect("code") as i32,
                json["message"].as_str().expect("message").to_owned(),
            )
        };
        assert_eq!(code, 12, "UNIMPLEMENTED");
        assert!(
            message.contains("does not store metrics")
                && message.contains("OTEL_METRICS_EXPORTER=none")
                && message.contains("Collector"),
            "{message}"
        );
    }
    assert_stored(&server, &before).await;
    let after = good(&server).await;
    assert_stored(&server, &after).await;
}

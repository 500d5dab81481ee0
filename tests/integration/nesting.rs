//! One value nested too deep loses only its own span or log record, at any
//! depth, over every transport and encoding (issue 19). prost's recursion
//! limit and serde_json's used to fail the whole export with 400 at about
//! 31 levels, and exporters do not retry a 400, so every good span beside
//! the deep one was lost. Also: a gRPC message that is not protobuf is
//! INVALID_ARGUMENT, not INTERNAL.

use std::marker::PhantomData;

use bytes::{Buf as _, BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use reprise::ingest::otlp::json::{encode_logs, encode_traces};
use serde_json::{Value, json};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::generate::{self, hex, random_bytes, string_attr};
use crate::server::TestServer;

/// reprise's per-item limit on nesting.
const LIMIT: usize = 32;
/// At the limit, and past it by a little, by prost's limit, and by far.
const LEVELS: [usize; 4] = [32, 40, 64, 200];

#[derive(Clone, Copy, Debug)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// `partial_success` as the server answered it (zero and empty when absent).
#[derive(Debug, Default)]
struct Partial {
    rejected: i64,
    message: String,
}

/// A value `levels` kvlists deep (each with a string beside the deeper
/// value; arrays are nested in the 100,000-level test), and its OTLP/JSON
/// form, as the trace API shows stored values. 32 kvlists were already
/// past prost's limit (three message levels each).
fn nested(levels: usize) -> (AnyValue, Value) {
    let mut value = string("leaf");
    let mut json = json!({"stringValue": "leaf"});
    for level in 0..levels {
        let key = format!("k{level}");
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: "beside".into(),
                        value: Some(string("beside")),
                        ..Default::default()
                    },
                    KeyValue {
                        key: key.clone(),
                        value: Some(value),
                        ..Default::default()
                    },
                ],
            })),
        };
        json = json!({"kvlistValue": {"values": [
            {"key": "beside", "value": {"stringValue": "beside"}},
            {"key": key, "value": json},
        ]}});
    }
    (value, json)
}

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

fn log_record(body: AnyValue) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        trace_id: random_bytes::<16>().to_vec(),
        span_id: random_bytes::<8>().to_vec(),
        body: Some(body),
        attributes: vec![string_attr("test.attribute", "log")],
        ..Default::default()
    }
}

fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_attr("service.name", "tests")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "tests".into(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn partial_from_json(reply: &Value, rejected_field: &str) -> Partial {
    let Some(partial) = reply.get("partialSuccess") else {
        return Partial::default();
    };
    Partial {
        rejected: partial[rejected_field]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        message: partial["errorMessage"].as_str().unwrap_or("").to_owned(),
    }
}

/// Posts an OTLP/HTTP body; the answer must be a 200.
async fn post(server: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> Bytes {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    let body = response.bytes().await.expect("body");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    body
}

async fn export_traces(
    server: &TestServer,
    transport: Transport,
    request: ExportTraceServiceRequest,
) -> Partial {
    match transport {
        Transport::HttpProtobuf => {
            let body = post(
                server,
                "/v1/traces",
                "application/x-protobuf",
                request.encode_to_vec(),
            )
            .await;
            let reply = ExportTraceServiceResponse::decode(body).expect("response");
            reply
                .partial_success
                .map_or_else(Partial::default, |p| Partial {
                    rejected: p.rejected_spans,
                    message: p.error_message,
                })
        }
        Transport::HttpJson => {
            let body = post(
                server,
                "/v1/traces",
                "application/json",
                encode_traces(&request),
            )
            .await;
            let reply: Value = serde_json::from_slice(&body).expect("JSON response");
            partial_from_json(&reply, "rejectedSpans")
        }
        Transport::Grpc => {
            let mut client = TraceServiceClient::connect(server.grpc.clone())
                .await
                .expect("connect");
            let reply = client.export(request).await.expect("export").into_inner();
            reply
                .partial_success
                .map_or_else(Partial::default, |p| Partial {
                    rejected: p.rejected_spans,
                    message: p.error_message,
                })
        }
    }
}

async fn export_logs(
    server: &TestServer,
    transport: Transport,
    request: ExportLogsServiceRequest,
) -> Partial {
    match transport {
        Transport::HttpProtobuf => {
            let body = post(
                server,
                "/v1/logs",
                "application/x-protobuf",
                request.encode_to_vec(),
            )
            .await;
            let reply = ExportLogsServiceResponse::decode(body).expect("response");
            reply
                .partial_success
                .map_or_else(Partial::default, |p| Partial {
                    rejected: p.rejected_log_records,
                    message: p.error_message,
                })
        }
        Transport::HttpJson => {
            let body = post(
                server,
                "/v1/logs",
                "application/json",
                encode_logs(&request),
            )
            .await;
            let reply: Value = serde_json::from_slice(&body).expect("JSON response");
            partial_from_json(&reply, "rejectedLogRecords")
        }
        Transport::Grpc => {
            let mut client = LogsServiceClient::connect(server.grpc.clone())
                .await
                .expect("connect");
            let reply = client.export(request).await.expect("export").into_inner();
            reply
                .partial_success
                .map_or_else(Partial::default, |p| Partial {
                    rejected: p.rejected_log_records,
                    message: p.error_message,
                })
        }
    }
}

/// `GET /api/v1/traces/{id}`: the JSON when stored, None on 404. The
/// stored value at the limit is about 140 levels of JSON, past
/// serde_json's default limit, so the test parses without it.
async fn stored_trace(server: &TestServer, trace_id: &str) -> Option<Value> {
    let response = reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get trace");
    if response.status() == 404 {
        return None;
    }
    assert_eq!(response.status(), 200, "trace {trace_id}");
    let text = response.text().await.expect("body");
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    deserializer.disable_recursion_limit();
    Some(serde::Deserialize::deserialize(&mut deserializer).expect("trace JSON"))
}

fn assert_rejected_alone(partial: &Partial, what: &str) {
    assert_eq!(partial.rejected, 1, "{what}: {partial:?}");
    assert!(
        partial
            .message
            .contains(&format!("nests more than {LIMIT} levels deep")),
        "{what}: {partial:?}"
    );
}

async fn deep_span_beside_a_good_one(transport: Transport) {
    let server = TestServer::start().await;
    for levels in LEVELS {
        let what = format!("{transport:?}, a span {levels} levels deep");
        let (value, value_json) = nested(levels);
        let mut deep = generate::span("deep");
        deep.attributes.push(KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        });
        let good = generate::span("good");
        let (deep_trace, good_trace) = (hex(&deep.trace_id), hex(&good.trace_id));
        let partial = export_traces(&server, transport, generate::request(vec![deep, good])).await;

        let stored = stored_trace(&server, &good_trace).await;
        let stored = stored.unwrap_or_else(|| panic!("{what}: the good span is stored"));
        assert_eq!(stored["spans"][0]["name"], "good", "{what}");
        let deep_stored = stored_trace(&server, &deep_trace).await;
        if levels <= LIMIT {
            assert_eq!(partial.rejected, 0, "{what}: {partial:?}");
            let deep_stored = deep_stored.unwrap_or_else(|| panic!("{what}: stored"));
            assert_eq!(
                deep_stored["spans"][0]["attributes"]["deep"], value_json,
                "{what}: stored whole"
            );
        } else {
            assert_rejected_alone(&partial, &what);
            assert!(partial.message.contains("\"deep\""), "{what}: {partial:?}");
            assert!(deep_stored.is_none(), "{what}: the deep span is not stored");
        }
    }
}

async fn deep_log_body_beside_a_good_record(transport: Transport) {
    let server = TestServer::start().await;
    for levels in LEVELS {
        let what = format!("{transport:?}, a log body {levels} levels deep");
        let (value, value_json) = nested(levels);
        let deep = log_record(value);
        let good = log_record(string("good"));
        let (deep_trace, good_trace) = (hex(&deep.trace_id), hex(&good.trace_id));
        let partial = export_logs(&server, transport, logs_request(vec![deep, good])).await;

        let stored = stored_trace(&server, &good_trace).await;
        let stored = stored.unwrap_or_else(|| panic!("{what}: the good record is stored"));
        assert_eq!(
            stored["logs"][0]["body"],
            json!({"stringValue": "good"}),
            "{what}"
        );
        let deep_stored = stored_trace(&server, &deep_trace).await;
        if levels <= LIMIT {
            assert_eq!(partial.rejected, 0, "{what}: {partial:?}");
            let deep_stored = deep_stored.unwrap_or_else(|| panic!("{what}: stored"));
            assert_eq!(
                deep_stored["logs"][0]["body"], value_json,
                "{what}: stored whole"
            );
        } else {
            assert_rejected_alone(&partial, &what);
            assert!(
                deep_stored.is_none(),
                "{what}: the deep record is not stored"
            );
        }
    }
}

#[tokio::test]
async fn a_deep_span_over_http_protobuf_is_rejected_alone() {
    deep_span_beside_a_good_one(Transport::HttpProtobuf).await;
}

#[tokio::test]
async fn a_deep_span_over_http_json_is_rejected_alone() {
    deep_span_beside_a_good_one(Transport::HttpJson).await;
}

#[tokio::test]
async fn a_deep_span_over_grpc_is_rejected_alone() {
    deep_span_beside_a_good_one(Transport::Grpc).await;
}

#[tokio::test]
async fn a_deep_log_record_over_http_protobuf_is_rejected_alone() {
    deep_log_body_beside_a_good_record(Transport::HttpProtobuf).await;
}

#[tokio::test]
async fn a_deep_log_record_over_http_json_is_rejected_alone() {
    deep_log_body_beside_a_good_record(Transport::HttpJson).await;
}

#[tokio::test]
async fn a_deep_log_record_over_grpc_is_rejected_alone() {
    deep_log_body_beside_a_good_record(Transport::Grpc).await;
}

#[tokio::test]
async fn a_deep_resource_rejects_its_spans_and_keeps_the_others() {
    let server = TestServer::start().await;
    let (value, _) = nested(40);
    let deep_span = generate::span("under a deep resource");
    let deep_trace = hex(&deep_span.trace_id);
    let mut request = generate::request(vec![deep_span]);
    request.resource_spans[0]
        .resource
        .as_mut()
        .expect("resource")
        .attributes
        .push(KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        });
    let good = generate::span("good");
    let good_trace = hex(&good.trace_id);
    request
        .resource_spans
        .extend(generate::request(vec![good]).resource_spans);
    let partial = export_traces(&server, Transport::HttpProtobuf, request).await;
    assert_eq!(partial.rejected, 1, "{partial:?}");
    assert!(
        partial
            .message
            .contains("resource attribute \"deep\" nests more than 32 levels deep"),
        "{partial:?}"
    );
    assert!(stored_trace(&server, &good_trace).await.is_some());
    assert!(stored_trace(&server, &deep_trace).await.is_none());
}

/// A trace request with a good span and a span whose attribute nests
/// `levels` arrays, as protobuf bytes written from the outside in (prost
/// would need a stack frame per level to encode it).
fn hundred_thousand_levels_protobuf(good: &ExportTraceServiceRequest, levels: usize) -> Vec<u8> {
    let leaf = string("leaf").encode_to_vec();
    let array_len = |element: usize| 1 + prost::length_delimiter_len(element) + element;
    let mut lengths = vec![leaf.len()];
    for _ in 0..levels {
        let element = *lengths.last().expect("leaf");
        let array = array_len(element);
        lengths.push(1 + prost::length_delimiter_len(array) + array);
    }
    let mut value = Vec::with_capacity(*lengths.last().expect("leaf"));
    for i in (1..=levels).rev() {
        let element = lengths[i - 1];
        value.put_u8(0x2a); // AnyValue.array_value, length-delimited
        prost::encode_length_delimiter(array_len(element), &mut value).expect("vec");
        value.put_u8(0x0a); // ArrayValue.values, length-delimited
        prost::encode_length_delimiter(element, &mut value).expect("vec");
    }
    value.extend(leaf);
    let mut attribute = Vec::new();
    prost::encoding::string::encode(1, &"deep".to_owned(), &mut attribute);
    prost::encoding::bytes::encode(2, &value, &mut attribute);
    let mut deep_span = generate::span("deep").encode_to_vec();
    prost::encoding::bytes::encode(9, &attribute, &mut deep_span);
    // The good span's request, with the deep span appended to its scope
    // (request.resource_spans 1 → scope_spans 2 → spans 2).
    let mut scope = good.resource_spans[0].scope_spans[0].encode_to_vec();
    prost::encoding::bytes::encode(2, &deep_span, &mut scope);
    let mut resource = Vec::new();
    prost::encoding::bytes::encode(2, &scope, &mut resource);
    let mut body = Vec::new();
    prost::encoding::bytes::encode(1, &resource, &mut body);
    body
}

fn hundred_thousand_levels_json(good: &ExportTraceServiceRequest, levels: usize) -> Vec<u8> {
    let good = String::from_utf8(encode_traces(good)).expect("UTF-8");
    let value = format!(
        "{}{{\"stringValue\":\"leaf\"}}{}",
        r#"{"arrayValue":{"values":["#.repeat(levels),
        "]}}".repeat(levels)
    );
    let deep = format!(
        r#"{{"traceId":"{}","spanId":"{}","name":"deep","attributes":[{{"key":"deep","value":{value}}}]}},"#,
        hex(&random_bytes::<16>()),
        hex(&random_bytes::<8>()),
    );
    good.replacen(r#""spans":["#, &format!(r#""spans":[{deep}"#), 1)
        .into_bytes()
}

#[tokio::test]
async fn a_hundred_thousand_levels_reject_one_span_on_every_transport() {
    let server = TestServer::start().await;
    let levels = 100_000;
    for transport in [
        Transport::HttpProtobuf,
        Transport::HttpJson,
        Transport::Grpc,
    ] {
        let good = generate::span("good");
        let good_trace = hex(&good.trace_id);
        let request = generate::request(vec![good]);
        let partial = match transport {
            Transport::HttpProtobuf => {
                let body = hundred_thousand_levels_protobuf(&request, levels);
                let reply = post(&server, "/v1/traces", "application/x-protobuf", body).await;
                let reply = ExportTraceServiceResponse::decode(reply).expect("response");
                let p = reply.partial_success.expect("partial success");
                Partial {
                    rejected: p.rejected_spans,
                    message: p.error_message,
                }
            }
            Transport::HttpJson => {
                let body = hundred_thousand_levels_json(&request, levels);
                let reply = post(&server, "/v1/traces", "application/json", body).await;
                let reply: Value = serde_json::from_slice(&reply).expect("JSON response");
                partial_from_json(&reply, "rejectedSpans")
            }
            Transport::Grpc => {
                let body = hundred_thousand_levels_protobuf(&request, levels);
                let reply = raw_grpc::<ExportTraceServiceResponse>(&server, TRACES, body)
                    .await
                    .expect("export");
                let p = reply.partial_success.expect("partial success");
                Partial {
                    rejected: p.rejected_spans,
                    message: p.error_message,
                }
            }
        };
        assert_rejected_alone(&partial, &format!("{transport:?}"));
        assert!(
            stored_trace(&server, &good_trace).await.is_some(),
            "{transport:?}: the good span is stored"
        );
    }
}

const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

#[tokio::test]
async fn grpc_garbage_is_invalid_argument() {
    let server = TestServer::start().await;
    let garbage = b"\x0a\xff\xff\xff\xff\x0f garbage".to_vec();
    let error = raw_grpc::<ExportTraceServiceResponse>(&server, TRACES, garbage.clone())
        .await
        .expect_err("refused");
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error:?}");
    assert!(
        error.message().contains("malformed protobuf body"),
        "{error:?}"
    );
    let error = raw_grpc::<ExportLogsServiceResponse>(&server, LOGS, garbage)
        .await
        .expect_err("refused");
    assert_eq!(error.code(), tonic::Code::InvalidArgument, "{error:?}");
    // A good export on the same server still goes in.
    let good = generate::span("after garbage");
    let good_trace = hex(&good.trace_id);
    let partial = export_traces(&server, Transport::Grpc, generate::request(vec![good])).await;
    assert_eq!(partial.rejected, 0);
    assert!(stored_trace(&server, &good_trace).await.is_some());
}

/// Sends `body` as the message of a unary gRPC call, whatever it holds.
async fn raw_grpc<R: prost::Message + Default + Send + 'static>(
    server: &TestServer,
    path: &'static str,
    body: Vec<u8>,
) -> Result<R, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(server.grpc.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec(PhantomData))
        .await
        .map(tonic::Response::into_inner)
}

/// Requests go out as given; responses are decoded by prost.
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default + Send + 'static> Codec for RawCodec<R> {
    type Encode = Vec<u8>;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<R>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> ProstDecoder<R> {
        ProstDecoder(PhantomData)
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

struct ProstDecoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default> Decoder for ProstDecoder<R> {
    type Item = R;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        R::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

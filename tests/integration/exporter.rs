//! The real `opentelemetry-otlp` Rust exporter, configured as an app would
//! configure it, exports to reprise over HTTP (protobuf and JSON) and gRPC.

use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

use crate::server::TestServer;

#[derive(Clone, Copy)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

/// Runs an instrumented "app" that makes one traced LLM call and exports it.
/// Returns the trace id.
async fn app_exports(server: &TestServer, transport: Transport) -> String {
    let http_endpoint = server.url("/v1/traces");
    let grpc_endpoint = server.grpc.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        // The SDK's simple processor blocks on the exporter; it needs the
        // runtime's reactor, as it has in an app.
        let _entered = runtime.enter();
        let exporter = match transport {
            Transport::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(http_endpoint)
                .build(),
            Transport::HttpJson => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpJson)
                .with_endpoint(http_endpoint)
                .build(),
            Transport::Grpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(grpc_endpoint)
                .build(),
        }
        .expect("exporter");
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name("exporter-app")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("exporter-test");
        let parent = tracer.start("handle request");
        let parent_cx = Context::current_with_span(parent);
        let trace_id = parent_cx.span().span_context().trace_id().to_string();
        let mut call = tracer.start_with_context("chat gpt-4o-mini", &parent_cx);
        call.set_attribute(KeyValue::new("gen_ai.operation.name", "chat"));
        call.set_attribute(KeyValue::new("gen_ai.provider.name", "openai"));
        call.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 12));
        call.set_attribute(KeyValue::new("gen_ai.request.temperature", 0.5));
        call.add_event("gen_ai.choice", vec![KeyValue::new("index", 0)]);
        call.end();
        parent_cx.span().end();
        provider.force_flush().expect("flush");
        provider.shutdown().expect("shutdown");
        trace_id
    })
    .await
    .expect("app thread")
}

async fn check(transport: Transport) {
    let server = TestServer::start().await;
    let trace_id = app_exports(&server, transport).await;
    let trace: Value = reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2, "{trace}");
    let call = spans
        .iter()
        .find(|s| s["name"] == "chat gpt-4o-mini")
        .expect("LLM span");
    let parent = spans
        .iter()
        .find(|s| s["name"] == "handle request")
        .expect("parent");
    assert_eq!(call["parent_span_id"], parent["span_id"]);
    assert_eq!(
        call["attributes"]["gen_ai.usage.input_tokens"]["intValue"],
        "12"
    );
    assert_eq!(
        call["attributes"]["gen_ai.request.temperature"]["doubleValue"],
        0.5
    );
    assert_eq!(call["events"][0]["name"], "gen_ai.choice");
    assert_eq!(
        call["resource"]["attributes"]["service.name"]["stringValue"],
        "exporter-app"
    );
    assert_eq!(call["scope"]["name"], "exporter-test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_otlp_exporter_over_http_protobuf() {
    check(Transport::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_otlp_exporter_over_http_json() {
    check(Transport::HttpJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_otlp_exporter_over_grpc() {
    check(Transport::Grpc).await;
}

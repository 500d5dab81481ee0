//! When the writer falls behind, ingest pushes back (HTTP 429 with
//! Retry-After, gRPC RESOURCE_EXHAUSTED with RetryInfo) instead of
//! buffering without bound, and everything it acknowledged is stored.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;

use crate::generate::{self, hex};
use crate::server::TestServer;

/// A request of `spans` spans with a few KB of attributes each; returns it
/// with its trace ids.
fn heavy_request(spans: usize) -> (Vec<u8>, Vec<String>) {
    let mut list = Vec::with_capacity(spans);
    let mut trace_ids = Vec::with_capacity(spans);
    for i in 0..spans {
        let mut span = generate::span("heavy");
        let text = format!("{i} {}", hex(&generate::random_bytes::<512>()));
        span.attributes
            .push(generate::string_attr("payload", &text));
        trace_ids.push(hex(&span.trace_id));
        list.push(span);
    }
    (generate::request(list).encode_to_vec(), trace_ids)
}

async fn assert_all_stored(server: &TestServer, trace_ids: &[String]) {
    let client = reqwest::Client::new();
    for trace_id in trace_ids {
        let response = client
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .send()
            .await
            .expect("get");
        assert_eq!(
            response.status(),
            200,
            "acknowledged trace {trace_id} is stored"
        );
    }
}

#[tokio::test]
async fn a_full_queue_answers_429_and_loses_nothing_acknowledged() {
    let server = TestServer::start_with_args(&["--max-queue-mb", "0.25"]).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let url = server.url("/v1/traces");
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            let mut refused = 0;
            for _ in 0..6 {
                let (body, trace_ids) = heavy_request(200);
                let response = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                match response.status().as_u16() {
                    200 => acknowledged.extend(trace_ids),
                    429 => {
                        assert_eq!(response.headers()["retry-after"], "1");
                        refused += 1;
                    }
                    other => panic!("unexpected status {other}"),
                }
            }
            (acknowledged, refused)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (ids, count) = task.await.expect("client task");
        acknowledged.extend(ids);
        refused += count;
    }
    assert!(
        refused > 0,
        "a 0.25 MB queue must refuse some of 72 concurrent 300 KB requests"
    );
    assert!(!acknowledged.is_empty());
    assert_all_stored(&server, &acknowledged).await;
}

#[tokio::test]
async fn grpc_overload_is_resource_exhausted_with_retry_info() {
    let server = TestServer::start_with_args(&["--max-queue-mb", "0.25"]).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let endpoint = server.grpc.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = TraceServiceClient::connect(endpoint).await.expect("connect");
            let mut acknowledged = Vec::new();
            let mut exhausted = 0;
            for _ in 0..6 {
                let (body, trace_ids) = heavy_request(200);
                let request =
                    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                        body.as_slice(),
                    )
                    .expect("decode");
                match client.export(request).await {
                    Ok(_) => acknowledged.extend(trace_ids),
                    Err(status) => {
                        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
                        let details = status.details();
                        assert!(
                            details.windows(9).any(|w| w == b"RetryInfo"),
                            "RESOURCE_EXHAUSTED carries google.rpc.RetryInfo"
                        );
                        exhausted += 1;
                    }
                }
            }
            (acknowledged, exhausted)
        }));
    }
    let mut acknowledged = Vec::new();
    let mut exhausted = 0;
    for task in tasks {
        let (ids, count) = task.await.expect("client task");
        acknowledged.extend(ids);
        exhausted += count;
    }
    assert!(exhausted > 0, "some exports were pushed back");
    assert_all_stored(&server, &acknowledged).await;
}

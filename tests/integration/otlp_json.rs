//! OTLP/JSON as real exporters write it, through the HTTP receiver: the
//! cases where a naive decoder fails or silently loses data.

use serde_json::{Value, json};

use crate::generate::{hex, random_bytes};
use crate::server::TestServer;

async fn post_json(server: &TestServer, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "the reply uses the request's encoding"
    );
    (status, response.json().await.expect("JSON reply"))
}

async fn trace(server: &TestServer, trace_id: &str) -> Value {
    let response = reqwest::get(server.url(&format!("/api/v1/traces/{trace_id}")))
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

fn request(spans: Value) -> Value {
    json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]})
}

#[tokio::test]
async fn empty_values_nulls_and_non_finite_doubles_are_kept() {
    let server = TestServer::start().await;
    let trace_id = hex(&random_bytes::<16>());
    let span = json!({
        "traceId": trace_id, "spanId": hex(&random_bytes::<8>()), "name": "s",
        "kind": "3", "startTimeUnixNano": "1", "endTimeUnixNano": 2,
        "parentSpanId": null, "status": null,
        "attributes": [
            {"key": "empty_array", "value": {"arrayValue": {}}},
            {"key": "empty_kvlist", "value": {"kvlistValue": {}}},
            {"key": "empty", "value": {}},
            {"key": "nan", "value": {"doubleValue": "NaN"}},
            {"key": "inf", "value": {"doubleValue": "-Infinity"}},
            {"key": "int_as_number", "value": {"intValue": 42}}
        ]
    });
    let (status, reply) = post_json(&server, &request(json!([span]))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply, json!({}));
    let stored = trace(&server, &trace_id).await;
    let attributes = &stored["spans"][0]["attributes"];
    assert_eq!(
        attributes["empty_array"],
        json!({"arrayValue": {"values": []}})
    );
    assert_eq!(
        attributes["empty_kvlist"],
        json!({"kvlistValue": {"values": []}})
    );
    assert_eq!(attributes["empty"], json!({}));
    assert_eq!(attributes["nan"], json!({"doubleValue": "NaN"}));
    assert_eq!(attributes["inf"], json!({"doubleValue": "-Infinity"}));
    assert_eq!(attributes["int_as_number"], json!({"intValue": "42"}));
    assert_eq!(stored["spans"][0]["kind"], 3);
}

#[tokio::test]
async fn snake_case_keys_are_not_silently_dropped() {
    let server = TestServer::start().await;
    let trace_id = hex(&random_bytes::<16>());
    let body = json!({"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": trace_id, "span_id": hex(&random_bytes::<8>()), "name": "snake",
        "start_time_unix_nano": "10", "end_time_unix_nano": "20",
        "attributes": [{"key": "k", "value": {"string_value": "v"}}]
    }]}]}]});
    let (status, _) = post_json(&server, &body).await;
    assert_eq!(status, 200);
    let stored = trace(&server, &trace_id).await;
    assert_eq!(stored["spans"][0]["name"], "snake");
    assert_eq!(
        stored["spans"][0]["attributes"]["k"],
        json!({"stringValue": "v"})
    );
}

#[tokio::test]
async fn wrong_length_ids_are_rejected_per_span() {
    let server = TestServer::start().await;
    let trace_id = hex(&random_bytes::<16>());
    let good = json!({"traceId": trace_id, "spanId": hex(&random_bytes::<8>()), "name": "good"});
    let short = json!({"traceId": "abcd", "spanId": hex(&random_bytes::<8>()), "name": "short"});
    let (status, reply) = post_json(&server, &request(json!([good, short]))).await;
    assert_eq!(status, 200, "{reply} {}", server.log_text());
    assert_eq!(reply["partialSuccess"]["rejectedSpans"], "1");
    assert!(
        reply["partialSuccess"]["errorMessage"]
            .as_str()
            .expect("message")
            .contains("trace id must be 16 bytes, got 2")
    );
    trace(&server, &trace_id).await;
}

#[tokio::test]
async fn malformed_json_names_the_problem() {
    let server = TestServer::start().await;
    let span = json!({"traceId": "zz", "spanId": "0102030405060708"});
    let (status, reply) = post_json(&server, &request(json!([span]))).await;
    assert_eq!(status, 400);
    assert_eq!(reply["code"], 3);
    let message = reply["message"].as_str().expect("message");
    assert!(message.contains("traceId"), "{message}");

    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body("{\"resourceSpans\": [")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
}

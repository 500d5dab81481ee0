//! `GET /api/openapi.json` tells the truth: with every fixture ingested
//! (OTLP spans and logs of every convention, plus raw records), a real
//! response of each documented operation is validated against the schema
//! the document gives for it.

use serde_json::{Value, json};

use crate::fixtures;
use crate::server::TestServer;

/// A validator for the documented schema of `path`/`method`/`status`,
/// resolving `#/components/...` against the document itself.
fn response_validator(
    document: &Value,
    path: &str,
    method: &str,
    status: &str,
) -> jsonschema::Validator {
    let mut response = &document["paths"][path][method]["responses"][status];
    if let Some(target) = response["$ref"].as_str() {
        response = document
            .pointer(target.trim_start_matches('#'))
            .expect("response reference");
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} documents a JSON schema"
    );
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    jsonschema::draft202012::new(&root).expect("the documented schema compiles")
}

fn assert_valid(document: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let validator = response_validator(document, path, method, &status.to_string());
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) does not match its documented schema: {errors:#?}"
    );
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("get");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn raw_record() -> Value {
    json!({
        "provider": "anthropic",
        "request": {"model": "claude-sonnet-4-5", "max_tokens": 64, "system": "Be brief.",
            "messages": [{"role": "user", "content": "Name a prime."}]},
        "response": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "7"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 12, "output_tokens": 1}},
        "duration_ms": 321.0,
        "service": "openapi-test",
        "session_id": "openapi-session",
        "tags": ["doc"],
    })
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let server = TestServer::start().await;
    let (status, document) = get(&server, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");

    fixtures::send_all(&server).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&json!([raw_record(), {"provider": "openai"}]))
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rejected"].as_array().map(Vec::len), Some(1), "{body}");
    assert_valid(&document, "/api/v1/calls", "post", status, &body);

    let (status, page) = get(&server, "/api/v1/calls?limit=1000").await;
    assert_valid(&document, "/api/v1/calls", "get", status, &page);
    let calls = page["calls"].as_array().expect("calls");
    assert!(calls.len() > 20, "fixtures produced calls: {}", calls.len());

    // Every call in full: content of every convention, tool calls, errors.
    for call in calls {
        let id = call["id"].as_str().expect("id");
        let (status, full) = get(&server, &format!("/api/v1/calls/{id}")).await;
        assert_valid(&document, "/api/v1/calls/{id}", "get", status, &full);
    }
    let trace_id = calls
        .iter()
        .find_map(|c| c["trace_id"].as_str())
        .expect("a call with a trace");
    let (status, trace) = get(&server, &format!("/api/v1/traces/{trace_id}")).await;
    assert_valid(
        &document,
        "/api/v1/traces/{trace_id}",
        "get",
        status,
        &trace,
    );

    let (status, logs) = get(&server, "/api/v1/logs?limit=1000").await;
    assert!(!logs["logs"].as_array().expect("logs").is_empty(), "{logs}");
    assert_valid(&document, "/api/v1/logs", "get", status, &logs);

    let (status, session) = get(&server, "/api/v1/sessions/openapi-session").await;
    assert_valid(&document, "/api/v1/sessions/{id}", "get", status, &session);

    for group_by in ["model", "provider", "service", "hour", "day", "none"] {
        let (status, stats) = get(&server, &format!("/api/v1/stats?group_by={group_by}")).await;
        assert_valid(&document, "/api/v1/stats", "get", status, &stats);
    }
    let (status, health) = get(&server, "/healthz").await;
    assert_valid(&document, "/healthz", "get", status, &health);

    let response = reqwest::Client::new()
        .post(server.url("/api/v1/costs/recompute"))
        .send()
        .await
        .expect("recompute");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    assert_valid(&document, "/api/v1/costs/recompute", "post", status, &body);

    let (status, runs) = get(&server, "/api/v1/replays").await;
    assert_eq!(status, 200, "{runs}");
    assert_valid(&document, "/api/v1/replays", "get", status, &runs);

    // Every operation says who may call it: the document's security, or
    // its own (`[{}]` for the open ones).
    assert!(document["security"].is_array());
    assert_eq!(
        document["paths"]["/healthz"]["get"]["security"],
        json!([{}])
    );
    assert!(
        document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"]
            .is_object()
    );
}

/// Both refusals of `POST /api/v1/calls` (a body that is not JSON, and
/// records that are all refused) have the documented 400 shape.
#[tokio::test]
async fn refused_records_have_the_documented_shape() {
    let server = TestServer::start().await;
    let (_, document) = get(&server, "/api/openapi.json").await;
    let client = reqwest::Client::new();
    let bodies = [
        "{not json".to_owned(),
        json!([{"provider": "openai"}]).to_string(),
    ];
    for body in bodies {
        let response = client
            .post(server.url("/api/v1/calls"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(status, 400, "{body}: {answer}");
        assert_valid(&document, "/api/v1/calls", "post", status, &answer);
    }
}

#[tokio::test]
async fn documented_errors_have_the_documented_shape() {
    let server = TestServer::start().await;
    let (_, document) = get(&server, "/api/openapi.json").await;
    let cases = [
        ("/api/v1/calls?limt=5", "/api/v1/calls", 400),
        ("/api/v1/calls?status=maybe", "/api/v1/calls", 400),
        ("/api/v1/calls/not-an-id", "/api/v1/calls/{id}", 400),
        (
            "/api/v1/calls/01JD0000000000000000000000",
            "/api/v1/calls/{id}",
            404,
        ),
        ("/api/v1/traces/0123", "/api/v1/traces/{trace_id}", 400),
        ("/api/v1/logs?severity=loud", "/api/v1/logs", 400),
        ("/api/v1/sessions/nobody", "/api/v1/sessions/{id}", 404),
        ("/api/v1/stats?group_by=week", "/api/v1/stats", 400),
    ];
    for (url, path, expected) in cases {
        let (status, body) = get(&server, url).await;
        assert_eq!(status, expected, "{url}: {body}");
        assert_valid(&document, path, "get", status, &body);
    }
}

//! A raw provider exchange posted to `POST /api/v1/calls` gives the same
//! canonical call as the equivalent instrumented span: OpenAI Chat
//! Completions and Anthropic Messages, streamed and not, with tool calls and
//! tool results.

use serde_json::{Value, json};

use crate::calls_expected::settle;
use crate::fixtures;
use crate::server::TestServer;

const TOOL_RESULT: &str =
    "{\"city\": \"Tokyo\", \"temperature\": 18, \"unit\": \"celsius\", \"condition\": \"sunny\"}";
const ANSWER: &str = "Based on the tool result ({\"city\": \"Tokyo\", \"temperature\": 18, \"unit\": \"celsius\", \"condition\": \"sunny\"}), here is your answer.";
const QUESTION: &str = "What is the weather like in Tokyo right now?";

async fn post_fixture(server: &TestServer, name: &str) {
    let body = fixtures::read(&fixtures::root().join(name));
    server.post_protobuf("/v1/traces", body).await;
    server.derived().await;
}

async fn call_by(server: &TestServer, query: &str) -> Value {
    let page: Value = reqwest::get(server.url(&format!("/api/v1/calls?{query}")))
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    let id = page["calls"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no call for {query}: {page}"))
        .to_owned();
    reqwest::get(server.url(&format!("/api/v1/calls/{id}")))
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON")
}

async fn post_record(server: &TestServer, record: Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&record)
        .send()
        .await
        .expect("post");
    let reply: Value = response.json().await.expect("JSON");
    assert_eq!(reply["accepted"], 1, "{reply}");
    let id = reply["ids"][0].as_str().expect("id");
    reqwest::get(server.url(&format!("/api/v1/calls/{id}")))
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON")
}

/// The parts of two calls that must agree.
fn assert_same_call(raw: &Value, span: &Value, streamed: bool) {
    for field in [
        "provider",
        "request_model",
        "response_model",
        "input_messages",
    ] {
        assert_eq!(raw[field], span[field], "{field}");
    }
    assert_eq!(
        raw["output_messages"][0]["parts"], span["output_messages"][0]["parts"],
        "answer"
    );
    assert_eq!(raw["usage"]["input_tokens"], span["usage"]["input_tokens"]);
    assert_eq!(
        raw["usage"]["output_tokens"],
        span["usage"]["output_tokens"]
    );
    assert_eq!(raw["source"], "raw");
    assert_eq!(raw["streaming"], json!(streamed));
    assert!(
        raw["raw"]["request"].is_object(),
        "the request is kept as sent"
    );
}

fn openai_request(stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_3f294f0c2265d070835c", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Tokyo\", \"unit\": \"celsius\"}"}}]},
            {"role": "tool", "tool_call_id": "call_3f294f0c2265d070835c", "content": TOOL_RESULT}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    })
}

#[tokio::test]
async fn openai_exchanges_match_the_otel_span() {
    let server = TestServer::start().await;
    post_fixture(&server, "otel-openai-v2-span/tool_call.pb").await;
    settle(&server).await;
    let span = call_by(&server, "source=otlp&q=Based").await;

    let body = post_record(&server, json!({
        "provider": "openai",
        "request": openai_request(false),
        "response": {"id": "chatcmpl-raw-1", "object": "chat.completion", "model": "gpt-4o-mini-2025-01-15",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 29, "completion_tokens": 17, "total_tokens": 46}},
        "start_time": "2026-01-01T00:00:00Z", "duration_ms": 45.0
    })).await;
    assert_same_call(&body, &span, false);
    assert_eq!(body["tool_definitions"][0]["name"], "get_weather");

    let words: Vec<&str> = ANSWER.split_inclusive(' ').collect();
    let mut chunks = vec![
        json!({"id": "chatcmpl-raw-2", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2025-01-15",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
    ];
    for word in &words {
        chunks.push(json!({"id": "chatcmpl-raw-2", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2025-01-15",
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]}));
    }
    chunks.push(json!({"id": "chatcmpl-raw-2", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2025-01-15",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
    chunks.push(json!({"id": "chatcmpl-raw-2", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2025-01-15",
        "choices": [], "usage": {"prompt_tokens": 29, "completion_tokens": 17, "total_tokens": 46}}));
    let streamed = post_record(
        &server,
        json!({
            "provider": "openai", "request": openai_request(true), "response": chunks,
            "start_time": "2026-01-01T00:01:00Z", "duration_ms": 60.0, "ttft_ms": 12.5
        }),
    )
    .await;
    assert_same_call(&streamed, &span, true);
    assert_eq!(streamed["ttft_ms"], 12.5);
}

fn anthropic_request(stream: bool) -> Value {
    json!({
        "model": "claude-3-5-haiku",
        "max_tokens": 300,
        "stream": stream,
        "messages": [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check that for you."},
                {"type": "tool_use", "id": "toolu_788f34f2772d6f07631d", "name": "get_weather", "input": {"city": "Tokyo", "unit": "celsius"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_788f34f2772d6f07631d", "content": TOOL_RESULT}]}
        ],
        "tools": [{"name": "get_weather", "description": "Get the current weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    })
}

#[tokio::test]
async fn anthropic_exchanges_match_the_sdk_span() {
    let server = TestServer::start().await;
    post_fixture(&server, "anthropic-sdk-native/tool_call.pb").await;
    settle(&server).await;
    let span = call_by(&server, "source=otlp&q=Based").await;

    let body = post_record(&server, json!({
        "provider": "anthropic",
        "request": anthropic_request(false),
        "response": {"id": "msg_raw_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20250115",
            "content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 32, "output_tokens": 17}},
        "start_time": "2026-01-01T00:00:00Z", "duration_ms": 45.0
    })).await;
    assert_same_call(&body, &span, false);

    let mut events = vec![
        json!({"type": "message_start", "message": {"id": "msg_raw_2", "type": "message", "role": "assistant",
            "model": "claude-3-5-haiku-20250115", "content": [], "stop_reason": null, "usage": {"input_tokens": 32, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ];
    for word in ANSWER.split_inclusive(' ') {
        events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}));
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 17}}));
    events.push(json!({"type": "message_stop"}));
    let streamed = post_record(
        &server,
        json!({
            "provider": "anthropic", "request": anthropic_request(true), "response": events,
            "start_time": "2026-01-01T00:01:00Z", "duration_ms": 61.0
        }),
    )
    .await;
    assert_same_call(&streamed, &span, true);
}

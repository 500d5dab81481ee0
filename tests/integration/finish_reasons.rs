//! Issue 20: finish reasons kept each SDK's spelling (`tool-calls`,
//! `tool_calls`, `end_turn`, …), so grouping by finish reason split one
//! meaning into several. Every stored call now says it in OpenTelemetry's
//! words, with the source's spelling kept in its attributes.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use serde_json::{Value, json};

use crate::generate::{self, hex, string_attr};
use crate::server::TestServer;

const ORIGINAL: &str = "original_finish_reasons";

fn string_array_attr(key: &str, values: &[&str]) -> KeyValue {
    let values = values
        .iter()
        .map(|v| AnyValue {
            value: Some(any_value::Value::StringValue((*v).into())),
        })
        .collect();
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue { values },
            )),
        }),
        ..Default::default()
    }
}

/// An AI SDK `doGenerate` span that ended in tool calls, spelled its way.
fn vercel_span() -> opentelemetry_proto::tonic::trace::v1::Span {
    let mut span = generate::span("ai.generateText.doGenerate");
    span.attributes = vec![
        string_attr("ai.operationId", "ai.generateText.doGenerate"),
        string_attr("ai.model.id", "gpt-4o"),
        string_attr("ai.model.provider", "openai.chat"),
        string_attr(
            "ai.prompt.messages",
            r#"[{"role":"user","content":[{"type":"text","text":"Weather in Oslo?"}]}]"#,
        ),
        string_attr(
            "ai.response.toolCalls",
            r#"[{"toolCallId":"c1","toolName":"weather","input":"{\"city\":\"Oslo\"}"}]"#,
        ),
        string_attr("ai.response.finishReason", "tool-calls"),
    ];
    span
}

/// An OpenTelemetry GenAI span of an Anthropic call, whose instrumentation
/// passed Anthropic's stop reason through.
fn otel_span(reason: &str) -> opentelemetry_proto::tonic::trace::v1::Span {
    let mut span = generate::span("chat claude-3-5-haiku");
    span.attributes = vec![
        string_attr("gen_ai.operation.name", "chat"),
        string_attr("gen_ai.provider.name", "anthropic"),
        string_attr("gen_ai.request.model", "claude-3-5-haiku"),
        string_array_attr("gen_ai.response.finish_reasons", &[reason]),
    ];
    span
}

fn raw_anthropic(stop_reason: &str) -> Value {
    json!({
        "provider": "anthropic",
        "request": {"model": "claude-3-5-haiku", "max_tokens": 5,
            "messages": [{"role": "user", "content": format!("finish {stop_reason}")}]},
        "response": {"id": format!("msg_{stop_reason}"), "type": "message", "role": "assistant",
            "model": "claude-3-5-haiku-20241022", "content": [{"type": "text", "text": "Once upon"}],
            "stop_reason": stop_reason, "usage": {"input_tokens": 9, "output_tokens": 5}},
        "start_time": "2026-11-28T10:00:00Z",
    })
}

fn raw_openai_tool_call() -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Weather?"}]},
        "response": {"id": "chatcmpl-tools", "model": "gpt-4o", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "weather", "arguments": "{}"}}]},
            "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 5}},
        "start_time": "2026-11-28T10:00:01Z",
    })
}

async fn call_of_span(server: &TestServer, trace_id: &str) -> Value {
    let page = server
        .get_json(&format!("/api/v1/calls?trace_id={trace_id}&fresh=true"))
        .await;
    let id = page["calls"][0]["id"].as_str().expect("a call").to_owned();
    server.get_json(&format!("/api/v1/calls/{id}")).await
}

fn assert_normalized(call: &Value, otel: &str, original: &str) {
    assert_eq!(call["finish_reasons"], json!([otel]), "{call}");
    assert_eq!(call["attributes"][ORIGINAL], json!([original]), "{call}");
    for message in call["output_messages"].as_array().into_iter().flatten() {
        if !message["finish_reason"].is_null() {
            assert_eq!(message["finish_reason"], otel, "{call}");
        }
    }
}

#[tokio::test]
async fn every_spelling_is_stored_in_otel_words_with_the_original_kept() {
    let server = TestServer::start().await;
    let vercel = vercel_span();
    let end_turn = otel_span("end_turn");
    let already_otel = otel_span("stop");
    let traces = [&vercel, &end_turn, &already_otel].map(|s| hex(&s.trace_id));
    server
        .post_protobuf(
            "/v1/traces",
            generate::request(vec![vercel, end_turn, already_otel]).encode_to_vec(),
        )
        .await;
    assert_normalized(
        &call_of_span(&server, &traces[0]).await,
        "tool_call",
        "tool-calls",
    );
    assert_normalized(&call_of_span(&server, &traces[1]).await, "stop", "end_turn");
    let untouched = call_of_span(&server, &traces[2]).await;
    assert_eq!(untouched["finish_reasons"], json!(["stop"]));
    assert!(untouched["attributes"][ORIGINAL].is_null(), "{untouched}");

    let reply: Value = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&json!([
            raw_anthropic("max_tokens"),
            raw_openai_tool_call()
        ]))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("JSON");
    let ids = reply["ids"].as_array().expect("ids");
    let max_tokens = server
        .get_json(&format!("/api/v1/calls/{}", ids[0].as_str().expect("id")))
        .await;
    assert_normalized(&max_tokens, "length", "max_tokens");
    let tool_calls = server
        .get_json(&format!("/api/v1/calls/{}", ids[1].as_str().expect("id")))
        .await;
    assert_normalized(&tool_calls, "tool_call", "tool_calls");

    // Re-importing an exported call keeps both the word and the original.
    let mut exported = tool_calls.clone();
    exported["id"] = Value::Null;
    exported["idempotency_key"] = json!("re-imported");
    let reply: Value = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&exported)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("JSON");
    let again = server
        .get_json(&format!(
            "/api/v1/calls/{}",
            reply["ids"][0].as_str().expect("id")
        ))
        .await;
    assert_normalized(&again, "tool_call", "tool_calls");
}

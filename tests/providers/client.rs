//! The client against a local server that streams in awkward pieces,
//! pushes back, fails, lies about its format and hangs up mid-answer.

use std::time::Duration;

use reprise::model::Part;
use reprise::providers::client::{send, send_with_key};
use reprise::providers::{
    ProviderError, ProviderKind, RecordedResponse, Secret, Target, WireFormat, parse_response, sse,
};
use serde_json::json;

use crate::support::{
    Step, chunk, chunked_head, chunked_in_pieces, fixture_text, full_response, last_chunk,
    serve_once,
};

const KEY: &str = "sk-test-7d1f0c2a9b8e4f6a55c3";

fn target(kind: ProviderKind, base_url: &str) -> Target {
    let mut target = Target::new("test-target", kind, base_url);
    target.request_timeout_ms = 10_000;
    target.idle_timeout_ms = 5_000;
    target
}

fn key() -> Secret {
    Secret::new(KEY)
}

fn body(stream: bool) -> serde_json::Value {
    json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], "stream": stream})
}

/// The key must never show in what an error says or prints.
fn assert_key_hidden(error: &ProviderError) {
    assert!(
        !error.to_string().contains(KEY),
        "Display leaks the key: {error}"
    );
    assert!(
        !format!("{error:?}").contains(KEY),
        "Debug leaks the key: {error:?}"
    );
}

#[tokio::test]
async fn openai_stream_in_seven_byte_pieces_is_reassembled_with_usage() {
    let sse_text = fixture_text("openai_chat.stream.sse");
    let mut steps = vec![chunked_head("200 OK", "text/event-stream", "")];
    steps.extend(chunked_in_pieces(sse_text.as_bytes(), 7));
    steps.push(last_chunk());
    let (base_url, server) = serve_once(steps).await;
    let target = target(ProviderKind::OpenAi, &base_url);

    let response = send_with_key(&reqwest::Client::new(), &target, &body(true), Some(&key()))
        .await
        .expect("streams");
    let received = server.await.expect("server");

    assert_eq!(
        received.request_line(),
        "POST /v1/chat/completions HTTP/1.1"
    );
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {KEY}"))
    );
    assert_eq!(
        received.header("accept").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(received.json(), body(true));

    let expected = parse_response(
        WireFormat::OpenAiChat,
        &RecordedResponse::Stream(sse::data_values(&sse_text).expect("fixture")),
    )
    .expect("fixture parses");
    assert!(response.streamed);
    assert_eq!(response.output_messages, expected.output_messages);
    assert_eq!(response.output_messages[0].tool_calls().count(), 2);
    assert_eq!(response.finish_reasons, vec!["tool_calls".to_owned()]);
    assert_eq!(response.usage.input_tokens, Some(88));
    assert_eq!(response.usage.output_tokens, Some(41));
    assert_eq!(
        response.response_id.as_deref(),
        Some("chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG")
    );
    let RecordedResponse::Stream(events) = &response.raw else {
        panic!("a streamed answer keeps its events");
    };
    assert_eq!(events.len(), 11);
    assert_eq!(events.last(), Some(&json!("[DONE]")));
    let ttft_ms = response.ttft_ms.expect("streamed answers have a ttft");
    assert!(ttft_ms <= response.latency_ms);
}

#[tokio::test]
async fn anthropic_crlf_stream_in_five_byte_pieces_sends_anthropic_headers() {
    let sse_text = fixture_text("anthropic.stream.sse");
    let mut steps = vec![chunked_head(
        "200 OK",
        "text/event-stream; charset=utf-8",
        "",
    )];
    steps.extend(chunked_in_pieces(sse_text.as_bytes(), 5));
    steps.push(last_chunk());
    let (base_url, server) = serve_once(steps).await;
    let target = target(ProviderKind::Anthropic, &base_url);

    let response = send_with_key(&reqwest::Client::new(), &target, &body(true), Some(&key()))
        .await
        .expect("streams");
    let received = server.await.expect("server");

    assert_eq!(received.request_line(), "POST /v1/messages HTTP/1.1");
    assert_eq!(received.header("x-api-key").as_deref(), Some(KEY));
    assert_eq!(
        received.header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert_eq!(received.header("authorization"), None);

    let parts = &response.output_messages[0].parts;
    assert!(matches!(parts[0], Part::Reasoning { .. }));
    assert_eq!(parts[1], Part::text("Let me check that for you."));
    let (id, name, arguments) = response.output_messages[0]
        .tool_calls()
        .next()
        .expect("tool call");
    assert_eq!(id.as_deref(), Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6"));
    assert_eq!(name, "get_weather");
    assert_eq!(arguments, &json!({"city": "Tokyo", "unit": "celsius"}));
    assert_eq!(response.usage.input_tokens, Some(1496));
    assert_eq!(response.usage.output_tokens, Some(89));
    assert_eq!(response.finish_reasons, vec!["tool_use".to_owned()]);
}

#[tokio::test]
async fn time_to_first_token_waits_for_output_not_the_first_byte() {
    let event = |data: serde_json::Value| format!("data: {data}\n\n").into_bytes();
    let head = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
    let text = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": null}]});
    let end = json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        chunk(&event(head)),
        chunk(b": keep-alive\n\n"),
        Step::Wait(Duration::from_millis(150)),
        chunk(&event(text)),
        Step::Wait(Duration::from_millis(150)),
        chunk(&event(end)),
        chunk(b"data: [DONE]\n\n"),
        last_chunk(),
    ];
    let (base_url, server) = serve_once(steps).await;
    let target = target(ProviderKind::OpenAi, &base_url);
    let response = send_with_key(&reqwest::Client::new(), &target, &body(true), None)
        .await
        .expect("streams");
    let received = server.await.expect("server");
    assert_eq!(received.header("authorization"), None);

    let ttft_ms = response.ttft_ms.expect("ttft");
    assert!(ttft_ms >= 150.0, "ttft {ttft_ms} ms counted the role event");
    assert!(
        response.latency_ms >= ttft_ms + 150.0,
        "latency {} ms, ttft {ttft_ms} ms",
        response.latency_ms
    );
    assert_eq!(
        response.output_messages[0].joined_text().as_deref(),
        Some("Hello")
    );
}

#[tokio::test]
async fn a_json_answer_is_read_whole_without_ttft() {
    let answer = fixture_text("anthropic.tool_result.response.json");
    let steps = vec![full_response("200 OK", "application/json", "", &answer)];
    let (base_url, _server) = serve_once(steps).await;
    let target = target(ProviderKind::Anthropic, &base_url);
    let response = send_with_key(&reqwest::Client::new(), &target, &body(false), Some(&key()))
        .await
        .expect("answers");
    assert!(!response.streamed);
    assert_eq!(response.ttft_ms, None);
    assert_eq!(response.finish_reasons, vec!["end_turn".to_owned()]);
    assert_eq!(response.usage.input_tokens, Some(129));
    assert!(matches!(response.raw, RecordedResponse::Body(_)));
}

#[tokio::test]
async fn a_429_is_retryable_and_carries_retry_after() {
    let error_body = json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}});
    let steps = vec![full_response(
        "429 Too Many Requests",
        "application/json",
        "retry-after: 3\r\n",
        &error_body.to_string(),
    )];
    let (base_url, _server) = serve_once(steps).await;
    let target = target(ProviderKind::OpenAi, &base_url);
    let error = send_with_key(&reqwest::Client::new(), &target, &body(true), Some(&key()))
        .await
        .expect_err("429");
    assert!(
        matches!(error, ProviderError::Status { status: 429, ref error_type, .. } if error_type.as_deref() == Some("rate_limit_exceeded"))
    );
    assert!(error.is_retryable());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
    assert!(error.to_string().contains("Rate limit reached"), "{error}");
    assert_key_hidden(&error);
}

#[tokio::test]
async fn a_500_is_retryable_and_a_401_echoing_the_key_is_not_and_is_scrubbed() {
    let steps = vec![full_response(
        "500 Internal Server Error",
        "text/plain",
        "",
        "upstream exploded",
    )];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::OpenAi, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("500");
    assert!(matches!(error, ProviderError::Status { status: 500, .. }));
    assert!(error.is_retryable());
    assert_eq!(error.retry_after(), None);
    assert!(error.to_string().contains("upstream exploded"), "{error}");

    let echo = json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key: {KEY}")}});
    let steps = vec![full_response(
        "401 Unauthorized",
        "application/json",
        "",
        &echo.to_string(),
    )];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::Anthropic, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("401");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("[redacted]"), "{error}");
    assert_key_hidden(&error);
}

#[tokio::test]
async fn a_malformed_body_is_a_non_retryable_error() {
    let steps = vec![full_response(
        "200 OK",
        "application/json",
        "",
        "<html>Bad gateway</html>",
    )];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::OpenAi, &base_url),
        &body(false),
        Some(&key()),
    )
    .await
    .expect_err("malformed");
    assert!(
        matches!(error, ProviderError::Malformed { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        chunk(b"data: {\"choices\": [\n\n"),
        last_chunk(),
    ];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::OpenAi, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("malformed event");
    assert!(
        matches!(error, ProviderError::Malformed { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_key_hidden(&error);
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_is_a_retryable_cut() {
    let sse_text = fixture_text("anthropic.stream.sse");
    let half = sse_text.len() / 2;
    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        chunk(&sse_text.as_bytes()[..half]),
        // The server hangs up: no final chunk.
    ];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::Anthropic, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("cut");
    assert!(
        matches!(error, ProviderError::StreamCut { events, .. } if events > 0),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_key_hidden(&error);

    // A stream that ends cleanly but before its final event is cut too.
    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        chunk(&sse_text.as_bytes()[..half]),
        last_chunk(),
    ];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::Anthropic, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("cut");
    assert!(
        matches!(error, ProviderError::StreamCut { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn an_overload_reported_mid_stream_is_retryable() {
    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        chunk(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"),
        chunk(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"),
        last_chunk(),
    ];
    let (base_url, _server) = serve_once(steps).await;
    let error = send_with_key(
        &reqwest::Client::new(),
        &target(ProviderKind::Anthropic, &base_url),
        &body(true),
        Some(&key()),
    )
    .await
    .expect_err("overloaded");
    assert!(
        matches!(error, ProviderError::Provider { ref error_type, .. } if error_type.as_deref() == Some("overloaded_error")),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_silent_server_times_out_retryably() {
    let steps = vec![
        chunked_head("200 OK", "text/event-stream", ""),
        Step::Wait(Duration::from_millis(1500)),
    ];
    let (base_url, _server) = serve_once(steps).await;
    let mut target = target(ProviderKind::OpenAi, &base_url);
    target.idle_timeout_ms = 200;
    let error = send_with_key(&reqwest::Client::new(), &target, &body(true), Some(&key()))
        .await
        .expect_err("timeout");
    assert!(
        matches!(error, ProviderError::Timeout { after_ms: 200, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn nobody_listening_is_a_retryable_connect_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let target = target(
        ProviderKind::OpenAi,
        &format!("http://{address}/v1?api_key={KEY}"),
    );
    let error = send_with_key(&reqwest::Client::new(), &target, &body(true), Some(&key()))
        .await
        .expect_err("refused");
    assert!(matches!(error, ProviderError::Connect { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_key_hidden(&error);
}

#[tokio::test]
async fn send_reads_the_key_from_the_named_variable_and_says_which_is_missing() {
    let mut target = target(ProviderKind::Anthropic, "http://127.0.0.1:9/v1");
    target.api_key_env = Some("REPRISE_TEST_KEY_THAT_IS_NEVER_SET".into());
    let error = send(&reqwest::Client::new(), &target, &body(true))
        .await
        .expect_err("no key");
    assert!(matches!(error, ProviderError::MissingApiKey { .. }));
    assert!(!error.is_retryable());
    assert!(
        error
            .to_string()
            .contains("REPRISE_TEST_KEY_THAT_IS_NEVER_SET"),
        "{error}"
    );
}

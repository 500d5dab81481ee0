//! The fake provider through real HTTP: a server on port 0, a reqwest
//! client, and the wire formats parsed the way a client would. Timing
//! assertions are lower bounds measured around real requests; no test
//! sleeps.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fake_provider::{
    Behavior, FailureKind, FailureRule, FakeConfig, FakeProvider, JudgeDecision, REDACTED,
    ReplyStyle, ScriptRule,
};
use futures::StreamExt;
use serde_json::{Value as Json, json};

async fn start(config: FakeConfig) -> FakeProvider {
    FakeProvider::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// A client whose timeout turns a regression that hangs into a failure.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(provider: &FakeProvider, path: &str, body: &Json) -> reqwest::Response {
    client()
        .post(format!("{}{path}", provider.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_json(provider: &FakeProvider, path: &str, body: &Json) -> (u16, Json) {
    let response = post(provider, path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn openai_chat(model: &str, user: &str) -> Json {
    json!({"model": model, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": user}
    ]})
}

fn anthropic_message(model: &str, user: &str) -> Json {
    json!({"model": model, "max_tokens": 1000, "system": "You are terse.",
           "messages": [{"role": "user", "content": user}]})
}

fn with(mut body: Json, key: &str, value: Json) -> Json {
    body[key] = value;
    body
}

/// One server-sent event and when its last byte arrived.
#[derive(Debug)]
struct Event {
    name: Option<String>,
    data: String,
    arrived: Instant,
}

impl Event {
    fn json(&self) -> Json {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// Reads a whole event stream, noting each event's arrival time.
async fn read_events(response: reqwest::Response) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        let arrived = Instant::now();
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            events.push(parse_event(&block, arrived));
        }
    }
    assert!(
        buffer.is_empty(),
        "stream ended inside an event: {buffer:?}"
    );
    events
}

fn parse_event(block: &str, arrived: Instant) -> Event {
    let mut name = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event: ") {
            name = Some(value.to_string());
        } else if let Some(value) = line.strip_prefix("data: ") {
            data.push_str(value);
        }
    }
    Event {
        name,
        data,
        arrived,
    }
}

fn lorem(words: usize) -> Behavior {
    Behavior {
        words,
        ..Behavior::replying(ReplyStyle::Lorem)
    }
}

fn weather_tool_openai() -> Json {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"}
        },
        "required": ["city"]}}}])
}

fn weather_tool_anthropic() -> Json {
    json!([{"name": "get_weather", "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}])
}

// ---- OpenAI chat -------------------------------------------------------

#[tokio::test]
async fn openai_json_answer_has_the_documented_shape() {
    let mut behavior = Behavior::default();
    behavior.usage.cached_input_tokens = 2;
    behavior.usage.reasoning_tokens = 3;
    behavior.response_model = Some("gpt-test-2025-01-01".to_string());
    let provider = start(FakeConfig::with_default(behavior)).await;
    let (status, body) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("gpt-test", "echo these words"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(body["model"], "gpt-test-2025-01-01");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "echo these words");
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["prompt_tokens"], 3 + 3);
    assert_eq!(usage["completion_tokens"], 3 + 3);
    assert_eq!(usage["total_tokens"], 12);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 2);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 3);
    provider.shutdown().await;
}

#[tokio::test]
async fn openai_stream_matches_the_json_answer() {
    let mut behavior = lorem(10);
    behavior.timing.chunk_words = 3;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let request = openai_chat("gpt-test", "tell me something");
    let (_, whole) = post_json(&provider, "/v1/chat/completions", &request).await;

    let streamed_request = with(
        with(request, "stream", json!(true)),
        "stream_options",
        json!({"include_usage": true}),
    );
    let response = post(&provider, "/v1/chat/completions", &streamed_request).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = read_events(response).await;

    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Json> = events[..events.len() - 1].iter().map(Event::json).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut text = String::new();
    let mut content_chunks = 0;
    for chunk in &chunks[1..chunks.len() - 2] {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert!(chunk["choices"][0]["finish_reason"].is_null());
        text.push_str(chunk["choices"][0]["delta"]["content"].as_str().unwrap());
        content_chunks += 1;
    }
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage_chunk = &chunks[chunks.len() - 1];
    assert_eq!(usage_chunk["choices"], json!([]));

    assert_eq!(content_chunks, 4, "10 words in deltas of 3");
    assert_eq!(
        text,
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(usage_chunk["usage"], whole["usage"]);
    for chunk in &chunks {
        assert_eq!(chunk["id"], chunks[0]["id"]);
    }
    provider.shutdown().await;
}

#[tokio::test]
async fn openai_stream_without_include_usage_has_no_usage_chunk() {
    let provider = start(FakeConfig::default()).await;
    let request = with(openai_chat("m", "a b c"), "stream", json!(true));
    let events = read_events(post(&provider, "/v1/chat/completions", &request).await).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let finish = events[events.len() - 2].json();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    for event in &events[..events.len() - 1] {
        assert!(event.json().get("usage").is_none(), "{}", event.data);
    }
    provider.shutdown().await;
}

#[tokio::test]
async fn openai_tool_call_streams_fragments_that_reassemble() {
    let provider = start(FakeConfig::with_default(Behavior::replying(
        ReplyStyle::ToolCall,
    )))
    .await;
    let request = with(
        openai_chat("m", "weather in Paris?"),
        "tools",
        weather_tool_openai(),
    );
    let (_, whole) = post_json(&provider, "/v1/chat/completions", &request).await;
    let message = &whole["choices"][0]["message"];
    assert!(message["content"].is_null());
    assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
    let call = &message["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Json =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string());

    let events = read_events(
        post(
            &provider,
            "/v1/chat/completions",
            &with(request, "stream", json!(true)),
        )
        .await,
    )
    .await;
    let chunks: Vec<Json> = events[..events.len() - 1].iter().map(Event::json).collect();
    let opening = &chunks[0]["choices"][0]["delta"];
    assert_eq!(opening["role"], "assistant");
    assert_eq!(opening["tool_calls"][0]["index"], 0);
    assert!(
        opening["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("call_")
    );
    assert_eq!(opening["tool_calls"][0]["function"]["name"], "get_weather");
    let mut fragments = Vec::new();
    for chunk in &chunks[1..chunks.len() - 1] {
        let call = &chunk["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert!(call.get("id").is_none());
        fragments.push(call["function"]["arguments"].as_str().unwrap().to_string());
    }
    assert!(fragments.len() > 2, "arguments arrive in several fragments");
    assert!(
        serde_json::from_str::<Json>(&fragments[0]).is_err(),
        "a fragment alone is not JSON"
    );
    let reassembled: Json = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(reassembled, arguments);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn openai_errors_use_the_openai_format() {
    let provider = start(FakeConfig::default()).await;
    let response = client()
        .post(format!("{}/v1/chat/completions", provider.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Json = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not parse the JSON body")
    );

    let (status, body) = post_json(&provider, "/v1/chat/completions", &json!({"model": "m"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");
    assert_eq!(body["error"]["code"], "missing_required_parameter");

    let (status, body) = post_json(&provider, "/v1/nothing", &json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "Invalid URL (POST /v1/nothing)");
    provider.shutdown().await;
}

// ---- Anthropic messages ------------------------------------------------

#[tokio::test]
async fn anthropic_json_answer_has_the_documented_shape() {
    let mut behavior = Behavior::default();
    behavior.usage.cached_input_tokens = 1;
    behavior.usage.cache_creation_input_tokens = 2;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let (status, body) = post_json(
        &provider,
        "/v1/messages",
        &anthropic_message("claude-test", "four words right here"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-test");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "four words right here"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["stop_sequence"].is_null());
    // 7 prompt words: 1 read from cache, 2 written to it, 4 plain.
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 4, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 1, "output_tokens": 4})
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn anthropic_stream_has_the_event_sequence_and_matches_json() {
    let mut behavior = lorem(7);
    behavior.timing.chunk_words = 2;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let request = anthropic_message("claude-test", "say something");
    let (_, whole) = post_json(&provider, "/v1/messages", &request).await;
    let events = read_events(
        post(
            &provider,
            "/v1/messages",
            &with(request, "stream", json!(true)),
        )
        .await,
    )
    .await;

    let names: Vec<&str> = events
        .iter()
        .map(|event| event.name.as_deref().unwrap())
        .collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 4]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected);
    for event in &events {
        assert_eq!(
            event.json()["type"],
            event.name.as_deref().unwrap(),
            "event name matches data type"
        );
    }

    let start_message = &events[0].json()["message"];
    assert_eq!(
        start_message["id"].as_str().unwrap().len(),
        whole["id"].as_str().unwrap().len()
    );
    assert_eq!(start_message["content"], json!([]));
    assert_eq!(
        start_message["usage"]["input_tokens"],
        whole["usage"]["input_tokens"]
    );
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let mut text = String::new();
    for event in &events[3..7] {
        let delta = &event.json()["delta"];
        assert_eq!(delta["type"], "text_delta");
        text.push_str(delta["text"].as_str().unwrap());
    }
    assert_eq!(text, whole["content"][0]["text"].as_str().unwrap());
    let message_delta = events[8].json();
    assert_eq!(message_delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(
        message_delta["usage"]["output_tokens"],
        whole["usage"]["output_tokens"]
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn anthropic_tool_use_streams_input_json_that_reassembles() {
    let provider = start(FakeConfig::with_default(Behavior::replying(
        ReplyStyle::ToolCall,
    )))
    .await;
    let request = with(
        anthropic_message("claude-test", "weather?"),
        "tools",
        weather_tool_anthropic(),
    );
    let (_, whole) = post_json(&provider, "/v1/messages", &request).await;
    assert_eq!(whole["stop_reason"], "tool_use");
    let block = &whole["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_01"));
    assert_eq!(block["name"], "get_weather");
    assert!(block["input"]["city"].is_string());
    assert!(block["input"]["days"].is_u64());

    let events = read_events(
        post(
            &provider,
            "/v1/messages",
            &with(request, "stream", json!(true)),
        )
        .await,
    )
    .await;
    let start_block = &events[1].json()["content_block"];
    assert_eq!(start_block["type"], "tool_use");
    assert_eq!(start_block["name"], "get_weather");
    assert_eq!(start_block["input"], json!({}));
    let mut partial = String::new();
    let mut fragments = 0;
    for event in &events {
        if event.name.as_deref() == Some("content_block_delta") {
            let delta = &event.json()["delta"];
            assert_eq!(delta["type"], "input_json_delta");
            partial.push_str(delta["partial_json"].as_str().unwrap());
            fragments += 1;
        }
    }
    assert!(fragments > 2);
    let input: Json = serde_json::from_str(&partial).unwrap();
    assert_eq!(input, block["input"]);
    let message_delta = events
        .iter()
        .find(|event| event.name.as_deref() == Some("message_delta"))
        .unwrap();
    assert_eq!(message_delta.json()["delta"]["stop_reason"], "tool_use");
    provider.shutdown().await;
}

#[tokio::test]
async fn anthropic_requires_max_tokens_and_a_message_list() {
    let provider = start(FakeConfig::default()).await;
    let without_max_tokens = json!({"model": "c", "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = post_json(&provider, "/v1/messages", &without_max_tokens).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"}})
    );
    let not_a_list = json!({"model": "c", "max_tokens": 10, "messages": {"role": "user"}});
    let (status, body) = post_json(&provider, "/v1/messages", &not_a_list).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "messages: Input should be a valid list"
    );
    assert_eq!(provider.stats().requests_by_path["/v1/messages"], 2);
    provider.shutdown().await;
}

#[tokio::test]
async fn output_limit_cuts_the_answer_in_both_formats() {
    let provider = start(FakeConfig::with_default(lorem(30))).await;
    let request = with(anthropic_message("c", "x"), "max_tokens", json!(5));
    let (_, body) = post_json(&provider, "/v1/messages", &request).await;
    assert_eq!(body["stop_reason"], "max_tokens");
    assert_eq!(body["usage"]["output_tokens"], 5);
    let request = with(openai_chat("m", "x"), "max_completion_tokens", json!(5));
    let (_, body) = post_json(&provider, "/v1/chat/completions", &request).await;
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        5
    );
    provider.shutdown().await;
}

// ---- Reply styles ------------------------------------------------------

#[tokio::test]
async fn script_rules_make_one_model_worse_on_chosen_items() {
    let worse = Behavior {
        script: vec![ScriptRule {
            contains: "capital".to_string(),
            reply: ReplyStyle::Refusal,
            text: None,
        }],
        ..Behavior::default()
    };
    let provider = start(FakeConfig::default().with_model("worse", worse)).await;
    let content = |body: &Json| {
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, good) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("good", "the capital of France"),
    )
    .await;
    let (_, bad) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("worse", "the capital of France"),
    )
    .await;
    let (_, other) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("worse", "two plus two"),
    )
    .await;
    assert_eq!(content(&good), "the capital of France");
    assert!(content(&bad).starts_with("I'm sorry"));
    assert_eq!(content(&other), "two plus two");
    provider.shutdown().await;
}

#[tokio::test]
async fn fixed_json_and_empty_styles() {
    let config = FakeConfig::default()
        .with_model(
            "fixed",
            Behavior {
                text: "Always this.".to_string(),
                ..Behavior::replying(ReplyStyle::Fixed)
            },
        )
        .with_model(
            "json",
            Behavior {
                json: Some(json!({"label": "spam"})),
                ..Behavior::replying(ReplyStyle::Json)
            },
        )
        .with_model("derived-json", Behavior::replying(ReplyStyle::Json))
        .with_model("empty", Behavior::replying(ReplyStyle::Empty));
    let provider = start(config).await;
    let content = |body: Json| {
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (_, fixed) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("fixed", "anything"),
    )
    .await;
    assert_eq!(content(fixed), "Always this.");
    let (_, given) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("json", "anything"),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Json>(&content(given)).unwrap(),
        json!({"label": "spam"})
    );
    let (_, derived) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("derived-json", "anything"),
    )
    .await;
    assert!(serde_json::from_str::<Json>(&content(derived)).unwrap()["answer"].is_string());
    let (_, empty) = post_json(
        &provider,
        "/v1/messages",
        &anthropic_message("empty", "anything"),
    )
    .await;
    assert_eq!(empty["content"], json!([]));
    assert_eq!(empty["usage"]["output_tokens"], 0);
    provider.shutdown().await;
}

// ---- Judge -------------------------------------------------------------

fn judge(decision: JudgeDecision) -> Behavior {
    let mut behavior = Behavior::replying(ReplyStyle::Judge);
    behavior.judge.decision = decision;
    behavior
}

fn judge_prompt(first: (&str, &str), second: (&str, &str)) -> String {
    format!(
        "Which answer is better?\n{}\n{}\n{}\n{}\nReply as JSON: {{\"winner\": \"A\"|\"B\"|\"tie\"}}",
        first.0, first.1, second.0, second.1
    )
}

async fn verdict(provider: &FakeProvider, model: &str, prompt: &str) -> String {
    let (status, body) = post_json(
        provider,
        "/v1/chat/completions",
        &openai_chat(model, prompt),
    )
    .await;
    assert_eq!(status, 200);
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

fn winner(text: &str) -> String {
    let parsed: Json = serde_json::from_str(text).unwrap();
    parsed["winner"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn judge_modes_answer_with_the_configured_verdicts() {
    let mut flaky = judge(JudgeDecision::UnparseableThenOk);
    flaky.judge.failing_attempts = 2;
    flaky.judge.after_failures = JudgeDecision::PreferSecond;
    let config = FakeConfig::default()
        .with_model("first", judge(JudgeDecision::PreferFirst))
        .with_model("second", judge(JudgeDecision::PreferSecond))
        .with_model("longer", judge(JudgeDecision::PreferLonger))
        .with_model("tie", judge(JudgeDecision::Tie))
        .with_model("prose", judge(JudgeDecision::Unparseable))
        .with_model("flaky", flaky);
    let provider = start(config).await;
    let short = "Paris.";
    let long = "The capital of France is Paris, on the Seine.";
    let a_first = judge_prompt(("[Answer A]", short), ("[Answer B]", long));
    let b_first = judge_prompt(("[Answer B]", short), ("[Answer A]", long));

    assert_eq!(winner(&verdict(&provider, "first", &a_first).await), "A");
    assert_eq!(
        winner(&verdict(&provider, "first", &b_first).await),
        "B",
        "first means position"
    );
    assert_eq!(winner(&verdict(&provider, "second", &a_first).await), "B");
    assert_eq!(winner(&verdict(&provider, "second", &b_first).await), "A");
    assert_eq!(winner(&verdict(&provider, "longer", &a_first).await), "B");
    assert_eq!(winner(&verdict(&provider, "longer", &b_first).await), "A");
    assert_eq!(winner(&verdict(&provider, "tie", &a_first).await), "tie");
    let prose = verdict(&provider, "prose", &a_first).await;
    assert!(serde_json::from_str::<Json>(&prose).is_err(), "{prose}");

    // Two failing attempts per prompt, then the verdict; another prompt
    // starts its own count.
    assert!(serde_json::from_str::<Json>(&verdict(&provider, "flaky", &a_first).await).is_err());
    assert!(serde_json::from_str::<Json>(&verdict(&provider, "flaky", &b_first).await).is_err());
    assert!(serde_json::from_str::<Json>(&verdict(&provider, "flaky", &a_first).await).is_err());
    assert_eq!(winner(&verdict(&provider, "flaky", &a_first).await), "B");
    assert_eq!(winner(&verdict(&provider, "flaky", &a_first).await), "B");
    provider.shutdown().await;
}

// ---- Embeddings and models ---------------------------------------------

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn floats(value: &Json) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn embeddings_rank_similar_texts_higher() {
    let provider = start(FakeConfig::default()).await;
    let texts = [
        "how do I reset my password",
        "I forgot my password, how can I reset it",
        "recipe for a quick tomato soup",
    ];
    let request = json!({"model": "text-embedding-test", "input": texts});
    let (status, body) = post_json(&provider, "/v1/embeddings", &request).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(body["usage"]["prompt_tokens"], 6 + 9 + 6);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let vectors: Vec<Vec<f64>> = data.iter().map(|item| floats(&item["embedding"])).collect();
    for (index, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], index);
        assert_eq!(vectors[index].len(), 256);
    }
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]) + 0.3);

    let base64_request =
        json!({"model": "e", "input": texts[0], "encoding_format": "base64", "dimensions": 256});
    let (_, encoded) = post_json(&provider, "/v1/embeddings", &base64_request).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|quad| f64::from(f32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]])))
        .collect();
    assert_eq!(decoded, vectors[0], "base64 carries the same floats");

    let (_, small) = post_json(
        &provider,
        "/v1/embeddings",
        &json!({"model": "e", "input": "x", "dimensions": 8}),
    )
    .await;
    assert_eq!(small["data"][0]["embedding"].as_array().unwrap().len(), 8);
    let (status, error) = post_json(
        &provider,
        "/v1/embeddings",
        &json!({"model": "e", "input": ""}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "input");
    provider.shutdown().await;
}

#[tokio::test]
async fn models_are_listed_in_the_clients_format() {
    let config = FakeConfig::default()
        .with_model("alpha", Behavior::default())
        .with_model("beta", Behavior::default());
    let provider = start(config).await;
    let url = format!("{}/v1/models", provider.base_url());
    let openai: Json = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
    assert_eq!(
        openai["data"][0],
        json!({"id": "alpha", "object": "model", "created": 0, "owned_by": "reprise-fake"})
    );
    let anthropic: Json = client()
        .get(&url)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][1]["type"], "model");
    assert_eq!(anthropic["last_id"], "beta");
    assert_eq!(anthropic["has_more"], false);
    provider.shutdown().await;
}

// ---- Failures ----------------------------------------------------------

fn failing(rules: Vec<FailureRule>) -> FakeConfig {
    FakeConfig::with_default(Behavior {
        failures: rules,
        ..Behavior::default()
    })
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_for_the_first_requests() {
    let mut rule = FailureRule::first(FailureKind::RateLimit, 2);
    rule.retry_after_s = 3;
    let provider = start(failing(vec![rule])).await;
    for _ in 0..2 {
        let response = post(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "3");
        let body: Json = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    }
    let (status, _) = post_json(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
    assert_eq!(status, 200);
    // Counted per model: another model starts at its own first request.
    let response = post(&provider, "/v1/messages", &anthropic_message("c", "hi")).await;
    assert_eq!(response.status(), 429);
    let body: Json = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(provider.stats().failures_by_kind["rate_limit"], 3);
    provider.shutdown().await;
}

#[tokio::test]
async fn server_errors_fire_on_every_kth_request_in_each_format() {
    let every_second = FailureRule::every(FailureKind::ServerError, NonZeroU64::new(2).unwrap());
    let provider = start(failing(vec![every_second])).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            post(&provider, "/v1/chat/completions", &openai_chat("m", "hi"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 500, 200, 500]);
    let (_, body) = post_json(&provider, "/v1/messages", &anthropic_message("c", "hi")).await;
    assert_eq!(body["type"], "message");
    let (status, body) = post_json(&provider, "/v1/messages", &anthropic_message("c", "hi")).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "api_error");

    let mut overloaded = FailureRule::always(FailureKind::Unavailable);
    overloaded.status = Some(529);
    provider.set_config(failing(vec![
        overloaded,
        FailureRule::always(FailureKind::ServerError),
    ]));
    let (status, body) = post_json(&provider, "/v1/messages", &anthropic_message("c", "hi")).await;
    assert_eq!(status, 529, "the first rule that fires wins");
    assert_eq!(body["error"]["type"], "overloaded_error");
    provider.set_config(failing(vec![FailureRule::always(FailureKind::Unavailable)]));
    let (status, body) =
        post_json(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["type"], "server_error");
    provider.shutdown().await;
}

#[tokio::test]
async fn failures_can_target_items_by_text() {
    let mut rule = FailureRule::always(FailureKind::ServerError);
    rule.contains = Some("item-7".to_string());
    let provider = start(failing(vec![rule])).await;
    let (ok, _) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("m", "item-6"),
    )
    .await;
    let (failed, _) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("m", "item-7"),
    )
    .await;
    assert_eq!((ok, failed), (200, 500));
    provider.shutdown().await;
}

#[tokio::test]
async fn malformed_json_body_is_a_200_that_does_not_parse() {
    let provider = start(failing(vec![FailureRule::first(FailureKind::Malformed, 1)])).await;
    let response = post(
        &provider,
        "/v1/chat/completions",
        &openai_chat("m", "hello there"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"id\":\"chatcmpl-"), "{text}");
    assert!(serde_json::from_str::<Json>(&text).is_err());
    let (status, _) = post_json(
        &provider,
        "/v1/chat/completions",
        &openai_chat("m", "hello there"),
    )
    .await;
    assert_eq!(status, 200);
    provider.shutdown().await;
}

#[tokio::test]
async fn malformed_stream_breaks_off_with_a_garbled_event() {
    let mut behavior = lorem(12);
    behavior.timing.chunk_words = 1;
    behavior.failures = vec![FailureRule::always(FailureKind::Malformed)];
    let provider = start(FakeConfig::with_default(behavior)).await;
    let request = with(anthropic_message("c", "go"), "stream", json!(true));
    let events = read_events(post(&provider, "/v1/messages", &request).await).await;
    assert!(events.len() > 3);
    let (last, valid) = events.split_last().unwrap();
    for event in valid {
        event.json();
    }
    assert!(
        serde_json::from_str::<Json>(&last.data).is_err(),
        "{}",
        last.data
    );
    assert!(
        events
            .iter()
            .all(|event| event.name.as_deref() != Some("message_stop"))
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn drop_connection_closes_without_a_response() {
    let provider = start(failing(vec![FailureRule::first(
        FailureKind::DropConnection,
        1,
    )]))
    .await;
    let error = client()
        .post(format!("{}/v1/chat/completions", provider.base_url()))
        .json(&openai_chat("m", "hi"))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert!(
        error.is_request(),
        "the request failed, not the body: {error}"
    );
    let (status, _) = post_json(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
    assert_eq!(status, 200, "the server keeps serving other connections");
    assert_eq!(provider.stats().failures_by_kind["drop_connection"], 1);
    provider.shutdown().await;
}

#[tokio::test]
async fn drop_mid_stream_cuts_the_response_after_it_started() {
    let mut behavior = lorem(20);
    behavior.timing.chunk_words = 1;
    behavior.failures = vec![FailureRule::always(FailureKind::DropMidStream)];
    let provider = start(FakeConfig::with_default(behavior)).await;

    let request = with(openai_chat("m", "go"), "stream", json!(true));
    let response = post(&provider, "/v1/chat/completions", &request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    let mut ended_with_error = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(error) => {
                assert!(!error.is_timeout(), "closed, not stalled: {error}");
                ended_with_error = true;
                break;
            }
        }
    }
    assert!(ended_with_error, "the stream must fail, not end");
    let text = String::from_utf8(received).unwrap();
    assert!(
        text.contains("\"role\":\"assistant\""),
        "some events arrived first: {text}"
    );
    assert!(!text.contains("[DONE]"));

    let response = post(&provider, "/v1/chat/completions", &openai_chat("m", "go")).await;
    assert_eq!(response.status(), 200);
    let error = response.bytes().await.unwrap_err();
    assert!(
        !error.is_timeout(),
        "the JSON body is cut off, not stalled: {error}"
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn hang_outlasts_a_client_timeout_and_ends_at_shutdown() {
    let provider = start(failing(vec![FailureRule::always(FailureKind::Hang)])).await;
    let url = format!("{}/v1/chat/completions", provider.base_url());
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
        .post(&url)
        .json(&openai_chat("m", "hi"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= timeout);

    let pending = tokio::spawn(async move {
        client()
            .post(&url)
            .json(&openai_chat("m", "hi"))
            .send()
            .await
    });
    // Wait until the second request is being held, by watching the stats.
    let deadline = Instant::now() + Duration::from_secs(10);
    while provider.stats().total_requests < 2 {
        assert!(Instant::now() < deadline, "second request never arrived");
        tokio::task::yield_now().await;
    }
    assert_eq!(provider.stats().failures_by_kind["hang"], 2);
    // Well under the server's 5 s grace period: the hang ends on its own
    // when shutdown starts, it is not cut at the end of the grace period.
    tokio::time::timeout(Duration::from_secs(3), provider.shutdown())
        .await
        .expect("shutdown ends a hanging request");
    let outcome = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err(), "the hanging request gets no response");
}

// ---- Timing ------------------------------------------------------------

#[tokio::test]
async fn latency_delays_the_first_byte() {
    let mut behavior = Behavior::default();
    behavior.timing.latency_ms = 150;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let started = Instant::now();
    let response = post(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 200);
    provider.shutdown().await;
}

#[tokio::test]
async fn stream_chunks_are_paced() {
    let mut behavior = lorem(6);
    behavior.timing.latency_ms = 50;
    behavior.timing.chunk_delay_ms = 40;
    behavior.timing.chunk_words = 1;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let started = Instant::now();
    let request = with(openai_chat("m", "go"), "stream", json!(true));
    let events = read_events(post(&provider, "/v1/chat/completions", &request).await).await;
    let content: Vec<&Event> = events
        .iter()
        .filter(|event| {
            event.data != "[DONE]"
                && event.json()["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|text| !text.is_empty())
        })
        .collect();
    assert_eq!(content.len(), 6);
    // The k-th delta cannot arrive before latency + (k-1) delays.
    for (index, event) in content.iter().enumerate() {
        let earliest = Duration::from_millis(50 + 40 * index as u64);
        assert!(
            event.arrived - started >= earliest,
            "delta {index} at {:?}",
            event.arrived - started
        );
    }
    provider.shutdown().await;
}

// ---- Concurrency, recording, inspection --------------------------------

#[tokio::test]
async fn max_in_flight_counts_concurrent_requests() {
    let mut behavior = Behavior::default();
    behavior.timing.latency_ms = 400;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let request = openai_chat("m", "hi");
    let calls: Vec<_> = (0..6)
        .map(|_| post(&provider, "/v1/chat/completions", &request))
        .collect();
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), 200);
    }
    let stats = provider.stats();
    assert_eq!(stats.max_in_flight, 6);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.total_requests, 6);

    provider.reset();
    for _ in 0..3 {
        post(&provider, "/v1/chat/completions", &request).await;
    }
    assert_eq!(
        provider.stats().max_in_flight,
        1,
        "sequential requests never overlap"
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn a_stream_is_in_flight_until_its_last_byte() {
    let mut behavior = lorem(4);
    behavior.timing.chunk_words = 1;
    behavior.timing.chunk_delay_ms = 100;
    let provider = start(FakeConfig::with_default(behavior)).await;
    let request = with(openai_chat("m", "go"), "stream", json!(true));
    let response = post(&provider, "/v1/chat/completions", &request).await;
    assert_eq!(
        provider.stats().in_flight,
        1,
        "headers are out, the body is not"
    );
    let events = read_events(response).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    // The server lets go of the stream just after the client saw its end.
    let deadline = Instant::now() + Duration::from_secs(5);
    while provider.stats().in_flight != 0 {
        assert!(Instant::now() < deadline, "stream still counted in flight");
        tokio::task::yield_now().await;
    }
    provider.shutdown().await;
}

#[tokio::test]
async fn requests_are_recorded_with_keys_redacted() {
    let provider = start(FakeConfig::default()).await;
    let body = with(openai_chat("gpt-test", "record me"), "stream", json!(false));
    client()
        .post(format!(
            "{}/v1/chat/completions?trace=1",
            provider.base_url()
        ))
        .header("authorization", "Bearer sk-test-SECRET-123")
        .header("x-api-key", "sk-ant-SECRET-456")
        .header("x-custom", "kept")
        .json(&body)
        .send()
        .await
        .unwrap();
    post(
        &provider,
        "/v1/messages",
        &anthropic_message("claude-test", "second"),
    )
    .await;

    let recorded = provider.requests();
    assert_eq!(recorded.len(), 2);
    let first = &recorded[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(first.query.as_deref(), Some("trace=1"));
    assert_eq!(first.header("Authorization"), Some(REDACTED));
    assert_eq!(first.header("x-api-key"), Some(REDACTED));
    assert_eq!(first.header("x-custom"), Some("kept"));
    assert!(
        recorded[1].header("authorization").is_none(),
        "absent keys stay absent"
    );
    assert_eq!(first.body.as_ref(), Some(&body));
    assert_eq!(first.model.as_deref(), Some("gpt-test"));
    assert!(!first.stream);
    assert!(recorded[1].seq > first.seq);
    assert!(recorded[1].received_monotonic_ns > first.received_monotonic_ns);
    assert!(first.received_unix_nano > 1_700_000_000_000_000_000);

    let over_http = client()
        .get(format!("{}/_fake/requests", provider.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(over_http.contains(REDACTED));
    assert!(
        !over_http.contains("SECRET"),
        "keys never reach the records"
    );
    assert_eq!(provider.requests().len(), 2, "inspection is not recorded");
    provider.shutdown().await;
}

#[tokio::test]
async fn require_api_key_refuses_requests_without_one() {
    let provider = start(FakeConfig {
        require_api_key: true,
        ..FakeConfig::default()
    })
    .await;
    let (status, body) =
        post_json(&provider, "/v1/chat/completions", &openai_chat("m", "hi")).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key")
    );
    let (status, body) = post_json(&provider, "/v1/messages", &anthropic_message("c", "hi")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "authentication_error");
    let response = client()
        .post(format!("{}/v1/messages", provider.base_url()))
        .header("x-api-key", "k")
        .json(&anthropic_message("c", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    provider.shutdown().await;
}

#[tokio::test]
async fn inspection_endpoints_report_reset_and_reconfigure() {
    let provider = start(FakeConfig::default()).await;
    let base = provider.base_url();
    post(&provider, "/v1/chat/completions", &openai_chat("m", "one")).await;
    let stats: Json = client()
        .get(format!("{base}/_fake/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total_requests"], 1);
    assert_eq!(stats["requests_by_model"]["m"], 1);
    assert_eq!(stats["requests_by_path"]["/v1/chat/completions"], 1);
    assert_eq!(stats["max_in_flight"], 1);

    let toml_config = "[default]\nreply = \"fixed\"\ntext = \"from toml\"\n";
    let response = client()
        .put(format!("{base}/_fake/config"))
        .header("content-type", "application/toml")
        .body(toml_config)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (_, body) = post_json(&provider, "/v1/chat/completions", &openai_chat("m", "two")).await;
    assert_eq!(body["choices"][0]["message"]["content"], "from toml");
    let current: Json = client()
        .get(format!("{base}/_fake/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["default"]["text"], "from toml");

    let response = client()
        .put(format!("{base}/_fake/config"))
        .json(&json!({"default": {"reply": "telepathy"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Json = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("telepathy")
    );
    assert_eq!(
        provider.config().default.text,
        "from toml",
        "a bad config changes nothing"
    );

    let response = client()
        .post(format!("{base}/_fake/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(provider.requests().is_empty());
    assert_eq!(provider.stats().total_requests, 0);
    provider.shutdown().await;
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_resolves() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(fake_provider::serve(
        listener,
        FakeConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let response = client()
        .post(format!("http://{addr}/v1/chat/completions"))
        .json(&openai_chat("m", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        client()
            .get(format!("http://{addr}/v1/models"))
            .send()
            .await
            .is_err(),
        "no longer listening"
    );
}

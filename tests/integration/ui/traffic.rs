//! The data the UI tests look at: every OTLP fixture sent over HTTP; an
//! agent's trace of several nested spans (two LLM calls around a tool
//! call); and raw records with sessions, tags, several models and
//! providers, errors, and a tool-using exchange, spread over the last week
//! so the models page's default range has lines to draw.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::calls_expected::settle;
use crate::fixtures;
use crate::server::TestServer;

/// A word that occurs only in the raw records' questions about omelettes.
pub const SEARCH_WORD: &str = "omelette";

pub fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as u64
}

pub async fn send_fixtures(server: &TestServer) {
    fixtures::send_all(server).await;
}

/// Provider, model, and the model's typical latency in ms.
const MODELS: &[(&str, &str, f64)] = &[
    ("openai", "gpt-4o-mini", 650.0),
    ("openai", "gpt-4o", 1400.0),
    ("anthropic", "claude-3-5-haiku", 900.0),
    ("ollama", "llama3.1:8b", 2100.0),
];

const TOPICS: &[&str] = &[
    "how to fold an omelette without tearing it",
    "the difference between a list and a tuple in Python",
    "a polite reply to a customer asking for a refund",
    "what a Kalman filter estimates",
    "three names for a bakery in Lisbon",
    "why the sky looks blue at noon",
];

/// A seeded number in [0, 1) for record `i` and draw `k` (splitmix64), so
/// the data looks irregular but is the same on every run.
fn draw(i: u64, k: u64) -> f64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// One raw record: `i` picks the model, topic, session, figures and
/// whether it failed.
pub fn record(i: u64, start_unix_nano: u64) -> Value {
    let (provider, model, typical_ms) = MODELS[(draw(i, 1) * MODELS.len() as f64) as usize];
    let topic = TOPICS[(i % TOPICS.len() as u64) as usize];
    let question = format!("Please explain {topic}. (question {i})");
    let answer = format!(
        "Here is a short answer about {topic}: keep it simple, check each step, and ask again if anything is unclear. (answer {i})"
    );
    let input = 40 + (draw(i, 2) * 400.0) as u64;
    let output = 20 + (draw(i, 3) * 300.0) as u64;
    let mut record = if provider == "anthropic" {
        json!({
            "provider": "anthropic",
            "request": {"model": model, "max_tokens": 512, "system": "You are a concise assistant.",
                "messages": [{"role": "user", "content": question}]},
            "response": {"id": format!("msg_ui_{i}"), "type": "message", "role": "assistant", "model": format!("{model}-20241022"),
                "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                "usage": {"input_tokens": input, "output_tokens": output}},
        })
    } else {
        json!({
            "provider": provider,
            "request": {"model": model, "temperature": 0.2, "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": question}]},
            "response": {"id": format!("chatcmpl-ui-{i}"), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}},
        })
    };
    let fields = record.as_object_mut().expect("built as an object");
    // Latency grows with the answer's length, with a long tail.
    let duration_ms = typical_ms * (0.5 + output as f64 / 320.0) * (1.0 + 2.0 * draw(i, 4).powi(6));
    fields.insert("start_time".into(), json!(start_unix_nano));
    fields.insert(
        "duration_ms".into(),
        json!((duration_ms * 10.0).round() / 10.0),
    );
    fields.insert(
        "ttft_ms".into(),
        json!((typical_ms * (0.12 + 0.1 * draw(i, 5)) * 10.0).round() / 10.0),
    );
    fields.insert(
        "service".into(),
        json!(if i.is_multiple_of(3) {
            "support-bot"
        } else {
            "docs-search"
        }),
    );
    fields.insert("session_id".into(), json!(format!("session-{}", i % 5)));
    fields.insert("user_id".into(), json!(format!("user-{}", i % 4)));
    fields.insert(
        "tags".into(),
        json!([if i.is_multiple_of(2) { "even" } else { "odd" }, "ui-test"]),
    );
    fields.insert("idempotency_key".into(), json!(format!("ui-record-{i}")));
    if draw(i, 6) < 0.04 {
        fields.insert("status".into(), json!("error"));
        fields.insert("error".into(), json!({"type": "rate_limit_exceeded", "message": "Rate limit reached; retry after 2 s"}));
    }
    record
}

/// An OpenAI exchange where the model called a tool and then answered from
/// its result.
pub fn tool_record(start_unix_nano: u64) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": "You plan trips. Use tools for facts."},
            {"role": "user", "content": "What is the weather in Lisbon tomorrow?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_weather_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Lisbon\",\"day\":\"tomorrow\"}"}}]},
            {"role": "tool", "tool_call_id": "call_weather_1", "content": "{\"temp_c\":21,\"sky\":\"sunny\"}"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Forecast for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "day": {"type": "string"}}}}}]},
        "response": {"id": "chatcmpl-ui-tool", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Tomorrow Lisbon will be sunny, around 21 °C."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 14, "total_tokens": 134}},
        "start_time": start_unix_nano,
        "duration_ms": 640.0,
        "service": "travel-planner",
        "session_id": "session-trip",
        "user_id": "user-1",
        "tags": ["tools", "ui-test"],
        "idempotency_key": "ui-record-tool",
    })
}

/// Posts records; returns their ids in order.
pub async fn post_records(server: &TestServer, records: &[Value]) -> Vec<String> {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&records)
        .send()
        .await
        .expect("post records");
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("JSON");
    assert_eq!(reply["accepted"], records.len(), "{reply}");
    reply["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect()
}

/// A week of records, busier in the day than at night, plus the tool
/// exchange.
pub async fn send_records(server: &TestServer) -> Vec<String> {
    let now = now_unix_nano();
    let hour = 3_600_000_000_000u64;
    let mut records = Vec::new();
    let mut i = 0;
    for h in 0..7 * 24u64 {
        let hour_of_day = (h % 24) as f64;
        let busy = 0.5 + 0.5 * ((hour_of_day - 8.0) / 24.0 * std::f64::consts::TAU).sin();
        let count = 1 + (busy * 4.0 + draw(h, 7) * 2.0) as u64;
        for k in 0..count {
            let start = now - (7 * 24 - h) * hour + k * hour / count + (draw(i, 8) * 1e9) as u64;
            records.push(record(i, start));
            i += 1;
        }
    }
    records.push(tool_record(now - hour / 2));
    post_records(server, &records).await
}

/// The trace id of [`agent_trace`].
pub const AGENT_TRACE_ID: &str = "a9e7c0de5eed4a2b8c3d1e0f12345678";

fn kv(key: &str, value: Value) -> Value {
    let typed = match value {
        Value::String(text) => json!({"stringValue": text}),
        Value::Number(n) if n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Array(items) => {
            json!({"arrayValue": {"values": items.into_iter().map(|i| json!({"stringValue": i.as_str().unwrap_or_default()})).collect::<Vec<_>>()}})
        }
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": typed})
}

struct SpanSpec<'a> {
    id: &'a str,
    parent: &'a str,
    name: &'a str,
    kind: u8,
    start_ms: u64,
    end_ms: u64,
    error: bool,
    attributes: Vec<Value>,
}

/// An agent's turn as OTLP/JSON: an HTTP server span, the agent span, a
/// chat call that asks for a tool, the tool (whose first HTTP attempt
/// fails), and the chat call that answers from the tool's result, in the
/// OTel GenAI conventions.
pub fn agent_trace(start_unix_nano: u64) -> Value {
    let system =
        json!([{"type": "text", "content": "You are a travel planner. Use tools for facts."}])
            .to_string();
    let question = json!([{"role": "user", "parts": [{"type": "text", "content": "Should I pack an umbrella for Porto on Saturday?"}]}]);
    let tool_call = json!({"type": "tool_call", "id": "call_fc_1", "name": "get_forecast", "arguments": {"city": "Porto", "day": "Saturday"}});
    let first_out =
        json!([{"role": "assistant", "parts": [tool_call], "finish_reason": "tool_call"}]);
    let mut second_in = question.as_array().cloned().unwrap_or_default();
    second_in.push(json!({"role": "assistant", "parts": [tool_call]}));
    second_in.push(json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_fc_1", "response": {"city": "Porto", "rain_mm": 7.5, "chance": 0.8}}]}));
    let second_out = json!([{"role": "assistant", "parts": [{"type": "text", "content": "Yes: Porto expects about 7.5 mm of rain on Saturday (80% chance), so pack an umbrella."}], "finish_reason": "stop"}]);
    let tools = json!([{"type": "function", "name": "get_forecast", "description": "Weather forecast for a city and day",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "day": {"type": "string"}}}}]).to_string();
    let chat = |response_id: &str,
                input: Value,
                output: Value,
                tokens: (i64, i64),
                finish: &str|
     -> Vec<Value> {
        vec![
            kv("gen_ai.operation.name", json!("chat")),
            kv("gen_ai.provider.name", json!("openai")),
            kv("gen_ai.request.model", json!("gpt-4o-mini")),
            kv("gen_ai.response.model", json!("gpt-4o-mini-2024-07-18")),
            kv("gen_ai.response.id", json!(response_id)),
            kv("gen_ai.request.temperature", json!(0.3)),
            kv("gen_ai.usage.input_tokens", json!(tokens.0)),
            kv("gen_ai.usage.output_tokens", json!(tokens.1)),
            kv("gen_ai.response.finish_reasons", json!([finish])),
            kv("gen_ai.system_instructions", json!(system)),
            kv("gen_ai.tool.definitions", json!(tools)),
            kv("gen_ai.input.messages", json!(input.to_string())),
            kv("gen_ai.output.messages", json!(output.to_string())),
        ]
    };
    let spans = vec![
        SpanSpec {
            id: "a000000000000001",
            parent: "",
            name: "POST /api/plan",
            kind: 2,
            start_ms: 0,
            end_ms: 2480,
            error: false,
            attributes: vec![
                kv("http.request.method", json!("POST")),
                kv("http.route", json!("/api/plan")),
                kv("http.response.status_code", json!(200)),
            ],
        },
        SpanSpec {
            id: "a000000000000002",
            parent: "a000000000000001",
            name: "invoke_agent planner",
            kind: 1,
            start_ms: 40,
            end_ms: 2440,
            error: false,
            attributes: vec![
                kv("gen_ai.operation.name", json!("invoke_agent")),
                kv("gen_ai.agent.name", json!("planner")),
            ],
        },
        SpanSpec {
            id: "a000000000000003",
            parent: "a000000000000002",
            name: "chat gpt-4o-mini",
            kind: 3,
            start_ms: 80,
            end_ms: 910,
            error: false,
            attributes: chat(
                "chatcmpl-agent-1",
                question.clone(),
                first_out,
                (212, 24),
                "tool_call",
            ),
        },
        SpanSpec {
            id: "a000000000000004",
            parent: "a000000000000002",
            name: "execute_tool get_forecast",
            kind: 1,
            start_ms: 930,
            end_ms: 1390,
            error: false,
            attributes: vec![
                kv("gen_ai.operation.name", json!("execute_tool")),
                kv("gen_ai.tool.name", json!("get_forecast")),
                kv("gen_ai.tool.call.id", json!("call_fc_1")),
            ],
        },
        SpanSpec {
            id: "a000000000000005",
            parent: "a000000000000004",
            name: "GET forecast-api",
            kind: 3,
            start_ms: 950,
            end_ms: 1060,
            error: true,
            attributes: vec![
                kv("http.request.method", json!("GET")),
                kv("http.response.status_code", json!(503)),
                kv("error.type", json!("503")),
            ],
        },
        SpanSpec {
            id: "a000000000000006",
            parent: "a000000000000004",
            name: "GET forecast-api",
            kind: 3,
            start_ms: 1180,
            end_ms: 1370,
            error: false,
            attributes: vec![
                kv("http.request.method", json!("GET")),
                kv("http.response.status_code", json!(200)),
            ],
        },
        SpanSpec {
            id: "a000000000000007",
            parent: "a000000000000002",
            name: "chat gpt-4o-mini",
            kind: 3,
            start_ms: 1410,
            end_ms: 2420,
            error: false,
            attributes: chat(
                "chatcmpl-agent-2",
                Value::Array(second_in),
                second_out,
                (301, 38),
                "stop",
            ),
        },
    ];
    let ms = 1_000_000u64;
    let spans: Vec<Value> = spans
        .into_iter()
        .map(|s| {
            json!({
                "traceId": AGENT_TRACE_ID, "spanId": s.id, "parentSpanId": s.parent, "name": s.name, "kind": s.kind,
                "startTimeUnixNano": (start_unix_nano + s.start_ms * ms).to_string(),
                "endTimeUnixNano": (start_unix_nano + s.end_ms * ms).to_string(),
                "attributes": s.attributes,
                "status": if s.error { json!({"code": 2, "message": "upstream unavailable"}) } else { json!({}) },
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", json!("travel-agent")), kv("deployment.environment", json!("staging"))]},
        "scopeSpans": [{"scope": {"name": "travel-agent.planner", "version": "1.4.0"}, "spans": spans}],
    }]})
}

/// Sends [`agent_trace`] (two hours ago) as OTLP/JSON.
pub async fn send_agent_trace(server: &TestServer) {
    let body = agent_trace(now_unix_nano() - 2 * 3_600_000_000_000);
    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .json(&body)
        .send()
        .await
        .expect("send agent trace");
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.expect("JSON");
    assert!(
        reply
            .get("partialSuccess")
            .is_none_or(|p| p.get("rejectedSpans").is_none()),
        "{reply}"
    );
    settle(server).await;
}

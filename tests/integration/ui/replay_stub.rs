//! A stand-in for the replay API in front of a real server, so the run
//! page's comparison table, per-pair scores and judge's rationale can be
//! tested in the browser before the comparison endpoint
//! (`GET /api/v1/replays/{id}/comparison`) exists on this branch, with a
//! run whose answers are made to differ in known words. Every other
//! request is passed through to the real server unchanged.
//!
//! The answers follow the replay API's shapes (run with `progress` and a
//! per-target `summary`; results as original call + replays with their
//! calls); the per-pair scores come from the real scorer and the
//! comparison from the real `build_comparisons`, so the numbers the page
//! must show are computed by reprise itself.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reprise::compare::judge::{Outcome, PairJudgement};
use reprise::compare::{
    CallOutcome, CompareConfig, ItemRecord, PairInput, Scorer, build_comparisons,
};
use reprise::model::Message;
use serde_json::{Value, json};

pub const RUN_ID: &str = "01JUIREPLAYRUN0000000000000";
pub const TARGETS: &[(&str, &str)] = &[
    ("llama-local", "llama3.2:1b"),
    ("haiku", "claude-3-5-haiku"),
];

pub struct Stub {
    upstream: String,
    pub run: Value,
    pub results: Value,
    pub comparison: Value,
    /// Bodies of `POST /api/v1/replays`.
    pub started: Mutex<Vec<Value>>,
}

/// What the candidate "said" for an original answer: the same answer with
/// words changed, dropped and added, so the diff has all three.
pub fn candidate_text(original: &str, i: usize) -> String {
    let mut words: Vec<String> = original.split_whitespace().map(str::to_owned).collect();
    if words.len() > 4 {
        words[1] = "brief".to_owned();
        words.remove(3);
    }
    words.push(format!("Hope this helps ({i})."));
    words.join(" ")
}

fn text_of(messages: &Value) -> String {
    let mut texts = Vec::new();
    for message in messages.as_array().into_iter().flatten() {
        for part in message["parts"].as_array().into_iter().flatten() {
            if part["type"] == "text"
                && let Some(text) = part["content"].as_str()
            {
                texts.push(text.to_owned());
            }
        }
    }
    texts.join("\n")
}

fn messages(value: &Value) -> Vec<Message> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// The results page's view of a call: answer, figures, and for the
/// original the prompt.
fn call_view(call: &Value, with_prompt: bool) -> Value {
    let mut view = json!({
        "id": call["id"], "source": call["source"], "provider": call["provider"],
        "request_model": call["request_model"], "response_model": call["response_model"],
        "status": call["status"], "error": call["error"],
        "output_text": text_of(&call["output_messages"]), "output_messages": call["output_messages"],
        "finish_reasons": call["finish_reasons"], "usage": call["usage"],
        "duration_ms": call["duration_ms"], "ttft_ms": call["ttft_ms"],
        "streaming": call["streaming"], "cost_usd": call["cost_usd"],
    });
    if with_prompt {
        view["system_instructions"] = call["system_instructions"].clone();
        view["input_messages"] = call["input_messages"].clone();
    }
    view
}

/// Builds the run, its results and its comparison from real calls.
pub fn build(upstream: &str, originals: &[Value]) -> Stub {
    let scorer = Scorer::english().expect("refusal patterns");
    let mut results = Vec::new();
    let mut records = Vec::new();
    for (i, original) in originals.iter().enumerate() {
        let id = original["id"].as_str().expect("id").to_owned();
        let original_text = text_of(&original["output_messages"]);
        let mut replays = Vec::new();
        for (t, (target, model)) in TARGETS.iter().enumerate() {
            let failed = t == 1 && i == 0;
            let text = candidate_text(&original_text, i);
            let output = json!([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}]);
            let latency_ms = 300.0 + (i * 37 % 11) as f64 * 20.0 + t as f64 * 150.0;
            let candidate = json!({
                "id": format!("01JUICANDIDATE{i:02}{t}00000000000"), "source": "replay", "provider": "openai",
                "request_model": model, "response_model": model, "status": "ok", "error": null,
                "output_messages": output, "finish_reasons": ["stop"],
                "usage": {"input_tokens": 50 + i, "output_tokens": 30 + i}, "duration_ms": latency_ms,
                "ttft_ms": 80.0 + i as f64, "streaming": true, "cost_usd": 0.0001 * (i + 1) as f64,
            });
            let scores = scorer.score_pair(&PairInput {
                original: &messages(&original["output_messages"]),
                candidate: &messages(&output),
                expect_json: false,
                embeddings: None,
            });
            let outcome = [Outcome::Win, Outcome::Tie, Outcome::Loss][(i + t) % 3];
            let judgement = PairJudgement {
                outcome,
                position_inconsistent: false,
            };
            let rationale = format!(
                "Answer {i} from {target} covers the same steps as the original; judged {outcome:?}."
            );
            let mut item = json!({
                "original_call_id": id, "target": target, "repetition": 0,
                "state": if failed { "failed" } else { "done" }, "attempts": if failed { 3 } else { 1 },
                "error": if failed { json!("HTTP 500 from the target after 3 attempts") } else { Value::Null },
                "result_call_id": if failed { Value::Null } else { candidate["id"].clone() },
                "latency_ms": latency_ms, "ttft_ms": candidate["ttft_ms"], "input_tokens": 50 + i,
                "output_tokens": 30 + i, "cost_usd": candidate["cost_usd"], "estimated_cost_usd": 0.0002,
                "call": if failed { Value::Null } else { call_view(&candidate, false) },
            });
            if !failed {
                item["scores"] = json!(scores);
                item["judgement"] = json!(judgement);
                item["rationale"] = json!(rationale);
            }
            replays.push(item);
            let original_outcome = CallOutcome {
                duration_ms: original["duration_ms"].as_f64(),
                ttft_ms: original["ttft_ms"].as_f64(),
                input_tokens: original["usage"]["input_tokens"].as_i64(),
                output_tokens: original["usage"]["output_tokens"].as_i64(),
                cost_usd: original["cost_usd"].as_f64(),
                error: original["status"] == "error",
            };
            let candidate_outcome = CallOutcome {
                duration_ms: Some(latency_ms),
                ttft_ms: candidate["ttft_ms"].as_f64(),
                input_tokens: Some(50 + i as i64),
                output_tokens: Some(30 + i as i64),
                cost_usd: candidate["cost_usd"].as_f64(),
                error: failed,
            };
            records.push(ItemRecord {
                item_id: id.clone(),
                target: target.to_string(),
                original: original_outcome,
                candidate: candidate_outcome,
                scores: (!failed).then(|| scores.clone()),
                judgement: (!failed).then_some(judgement),
                rubric: None,
            });
        }
        results.push(json!({"original_call_id": id, "original": call_view(original, true), "replays": replays}));
    }
    let comparisons = build_comparisons(&records, &CompareConfig::default());
    let total = (originals.len() * TARGETS.len()) as u64;
    let summary: Vec<Value> = TARGETS
        .iter()
        .enumerate()
        .map(|(t, (target, model))| {
            let failed = u64::from(t == 1);
            let n = originals.len() as u64;
            json!({"target": target, "model": model,
                "progress": {"total": n, "pending": 0, "running": 0, "done": n - failed, "failed": failed, "cancelled": 0},
                "latency_p50_ms": 400.0 + t as f64 * 150.0, "latency_p95_ms": 560.0 + t as f64 * 150.0,
                "ttft_p50_ms": 85.0, "input_tokens": 50 * n, "output_tokens": 30 * n,
                "output_tokens_per_s": 70.5, "cost_usd": 0.0021})
        })
        .collect();
    let run = json!({
        "id": RUN_ID, "name": "gpt-4o-mini vs local llama", "state": "done", "stop_reason": null,
        "created_at_unix_nano": 1_780_000_000_000_000_000u64, "finished_at_unix_nano": 1_780_000_060_000_000_000u64,
        "targets": TARGETS.iter().map(|(name, model)| json!({"name": name, "kind": "openai", "base_url": "http://127.0.0.1:8080/v1", "model": model})).collect::<Vec<_>>(),
        "repeat": 1, "stream": true, "selection": {"filters": {"tag": "ui-test"}},
        "overrides": {}, "budget": {"max_calls": 100, "max_cost_usd": 1.0},
        "progress": {"total": total, "pending": 0, "running": 0, "done": total - 1, "failed": 1, "cancelled": 0},
        "summary": summary,
    });
    Stub {
        upstream: upstream.to_owned(),
        run,
        results: json!({"run_id": RUN_ID, "results": results, "next_cursor": null}),
        comparison: json!({"run_id": RUN_ID, "comparisons": comparisons}),
        started: Mutex::new(Vec::new()),
    }
}

/// Serves the stub on a free port; returns `http://ADDR`.
pub async fn serve(stub: Arc<Stub>) -> String {
    let app = Router::new()
        .route("/api/v1/replays/targets", get(targets))
        .route("/api/v1/replays", get(list).post(start))
        .route("/api/v1/replays/{id}", get(run))
        .route("/api/v1/replays/{id}/results", get(results))
        .route("/api/v1/replays/{id}/comparison", get(comparison))
        .fallback(pass_through)
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn targets() -> Json<Value> {
    let targets: Vec<Value> = TARGETS
        .iter()
        .map(|(name, model)| json!({"name": name, "kind": "openai", "model": model}))
        .collect();
    Json(json!({"targets": targets}))
}

async fn list(State(stub): State<Arc<Stub>>) -> Json<Value> {
    let mut listed = stub.run.clone();
    if let Some(object) = listed.as_object_mut() {
        object.shift_remove("summary");
    }
    Json(json!({"replays": [listed], "next_cursor": null}))
}

async fn start(State(stub): State<Arc<Stub>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    stub.started.lock().expect("lock").push(body);
    (StatusCode::CREATED, Json(stub.run.clone())).into_response()
}

fn not_found(id: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found", "message": format!("replay run {id} not found")}}))).into_response()
}

async fn run(State(stub): State<Arc<Stub>>, Path(id): Path<String>) -> Response {
    if id != RUN_ID {
        return not_found(&id);
    }
    Json(stub.run.clone()).into_response()
}

async fn results(State(stub): State<Arc<Stub>>, Path(id): Path<String>) -> Response {
    if id != RUN_ID {
        return not_found(&id);
    }
    Json(stub.results.clone()).into_response()
}

async fn comparison(State(stub): State<Arc<Stub>>, Path(id): Path<String>) -> Response {
    if id != RUN_ID {
        return not_found(&id);
    }
    Json(stub.comparison.clone()).into_response()
}

async fn pass_through(State(stub): State<Arc<Stub>>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(response) = reqwest::get(format!("{}{path}", stub.upstream)).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let body = response.bytes().await.unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        Body::from(body),
    )
        .into_response()
}

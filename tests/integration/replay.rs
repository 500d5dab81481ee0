//! Replay through the real interfaces: recorded fixture traffic ingested
//! over OTLP/HTTP into a real `reprise serve`, replayed through the API
//! (and the CLI) against the fake provider, with what the fake received
//! checked against what each translation must produce. No fixed sleeps:
//! every wait polls with a deadline.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_provider::{
    Behavior, FailureKind, FailureRule, FakeConfig, FakeProvider, RecordedRequest, ReplyStyle,
};
use serde_json::{Value, json};

use crate::calls_expected::settle;
use crate::fixtures;
use crate::server::TestServer;

pub const OPENAI_MODEL: &str = "replay-oai";
pub const ANTHROPIC_MODEL: &str = "replay-claude";
/// The Anthropic target's default max_tokens.
const DEFAULT_MAX_TOKENS: i64 = 300;

/// A fake provider, a server whose config names targets on it, and the
/// config file.
pub struct Harness {
    pub fake: FakeProvider,
    pub server: TestServer,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

/// The two standard targets plus `extra` TOML (more targets).
pub fn targets_toml(fake: &FakeProvider, extra: &str) -> String {
    let base = format!("{}/v1", fake.base_url());
    format!(
        r#"
[targets.oai]
kind = "openai"
base_url = "{base}"
model = "{OPENAI_MODEL}"
max_concurrency = 4

[targets.claude]
kind = "anthropic"
base_url = "{base}"
model = "{ANTHROPIC_MODEL}"
max_tokens = {DEFAULT_MAX_TOKENS}
max_concurrency = 4
{extra}
"#
    )
}

pub async fn harness(fake_config: FakeConfig, extra_targets: &str) -> Harness {
    let extra = extra_targets.to_owned();
    harness_with(fake_config, move |_| extra).await
}

/// A harness whose extra targets are written once the fake's address is known.
pub async fn harness_with(
    fake_config: FakeConfig,
    extra_targets: impl FnOnce(&FakeProvider) -> String,
) -> Harness {
    harness_with_args(fake_config, extra_targets, |_| Vec::new()).await
}

/// [`harness_with`], the server also given the flags `server_args` makes
/// from the harness's directory.
pub async fn harness_with_args(
    fake_config: FakeConfig,
    extra_targets: impl FnOnce(&FakeProvider) -> String,
    server_args: impl FnOnce(&Path) -> Vec<String>,
) -> Harness {
    let fake = FakeProvider::start("127.0.0.1:0".parse().expect("addr"), fake_config)
        .await
        .expect("fake provider");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("reprise.toml");
    let extra = extra_targets(&fake);
    std::fs::write(&config, targets_toml(&fake, &extra)).expect("config");
    let db = dir.path().join("reprise.db");
    let mut args = vec![
        "--config".to_owned(),
        config.to_str().expect("path").to_owned(),
    ];
    args.extend(server_args(dir.path()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::start_on(&db, &args).await;
    Harness {
        fake,
        server,
        config,
        _dir: dir,
    }
}

impl Harness {
    pub fn db(&self) -> PathBuf {
        self.server.db_path()
    }

    /// Starts the server again on the same database and config (after a kill).
    pub async fn restart(&mut self) {
        let db = self.db();
        self.server =
            TestServer::start_on(&db, &["--config", self.config.to_str().expect("path")]).await;
    }
}

fn fixture_list() -> Vec<Value> {
    let expected = fixtures::read_json(&fixtures::root().join("expected.json"));
    expected["fixtures"].as_array().expect("fixtures").clone()
}

/// Sends one fixture's traces and logs (by its id in expected.json) and
/// waits until they are derived.
pub async fn ingest_fixture(server: &TestServer, fixture: &Value) {
    let root = fixtures::root();
    let traces = fixture["files"]["traces_pb"].as_str().expect("traces");
    server
        .post_protobuf("/v1/traces", fixtures::read(&root.join(traces)))
        .await;
    if let Some(logs) = fixture["files"]["logs_pb"].as_str() {
        server
            .post_protobuf("/v1/logs", fixtures::read(&root.join(logs)))
            .await;
    }
    server.derived().await;
}

pub async fn ingest_all_fixtures(server: &TestServer) {
    for fixture in fixture_list() {
        ingest_fixture(server, &fixture).await;
    }
    settle(server).await;
}

/// Ingests the fixtures whose id starts with `prefix`; returns the ids of
/// the calls stored (oldest first).
pub async fn ingest_fixtures_named(server: &TestServer, prefix: &str) -> Vec<String> {
    for fixture in fixture_list() {
        if fixture["id"]
            .as_str()
            .is_some_and(|id| id.starts_with(prefix))
        {
            ingest_fixture(server, &fixture).await;
        }
    }
    settle(server).await;
    let calls = list_calls(server).await;
    let mut ids: Vec<String> = calls
        .iter()
        .filter(|c| c["source"] != "replay")
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    ids.reverse();
    ids
}

/// Every call the API lists (all pages), newest first.
pub async fn list_calls(server: &TestServer) -> Vec<Value> {
    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/calls?limit=1000&cursor={cursor}"),
            None => "/api/v1/calls?limit=1000".to_owned(),
        };
        let page = server.get_json(&path).await;
        calls.extend(page["calls"].as_array().expect("calls").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return calls,
        }
    }
}

pub async fn start_replay(server: &TestServer, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/replays"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = response.status();
    let run: Value = response.json().await.expect("JSON");
    assert_eq!(status, 201, "{run}");
    run
}

/// Polls the run until `done(run)` holds.
pub async fn wait_for_run(
    server: &TestServer,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let run = server.get_json(&format!("/api/v1/replays/{id}")).await;
        if done(&run) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run never got {what}: {run}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_finished(server: &TestServer, id: &str) -> Value {
    wait_for_run(server, id, "finished", |run| run["state"] != "running").await
}

/// Every result group of a run (all pages).
pub async fn all_results(server: &TestServer, id: &str) -> Vec<Value> {
    let mut groups = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/replays/{id}/results?limit=7&cursor={cursor}"),
            None => format!("/api/v1/replays/{id}/results?limit=7"),
        };
        let page = server.get_json(&path).await;
        groups.extend(page["results"].as_array().expect("results").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return groups,
        }
    }
}

pub async fn get_call(server: &TestServer, id: &str) -> Value {
    server.get_json(&format!("/api/v1/calls/{id}")).await
}

fn chat_requests(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests
        .iter()
        .filter(|r| r.path == "/v1/chat/completions" || r.path == "/v1/messages")
        .collect()
}

// ---------------------------------------------------------------------------
// What a translation must produce, written independently of the
// translators: both the canonical call and the body sent are reduced to
// the same flat view of the conversation.

/// A tool result's content as text.
fn result_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

/// Tool-call arguments as JSON (arguments sent as text are parsed).
fn arguments_json(value: &Value) -> Value {
    match value {
        Value::String(text) if text.trim().is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
        Value::Null => json!({}),
        other => other.clone(),
    }
}

fn text_event(events: &mut Vec<Value>, role: &str, text: &str) {
    if !text.is_empty() {
        events.push(json!(["text", role, text]));
    }
}

/// The conversation a canonical call holds, as events in order.
fn canonical_view(call: &Value) -> Vec<Value> {
    let mut events = Vec::new();
    let messages = call["input_messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let starts_with_system = messages
        .first()
        .is_some_and(|m| m["role"] == "system" || m["role"] == "developer");
    if !starts_with_system {
        for part in call["system_instructions"].as_array().into_iter().flatten() {
            text_event(
                &mut events,
                "system",
                part["content"].as_str().unwrap_or(""),
            );
        }
    }
    for message in &messages {
        let role = match message["role"].as_str().unwrap_or("") {
            "developer" => "system",
            "tool" => "user",
            other => other,
        };
        for part in message["parts"].as_array().into_iter().flatten() {
            match part["type"].as_str() {
                Some("text") => {
                    text_event(&mut events, role, part["content"].as_str().unwrap_or(""))
                }
                Some("tool_call") => events.push(json!([
                    "tool_call",
                    part["id"],
                    part["name"],
                    arguments_json(&part["arguments"])
                ])),
                Some("tool_call_response") => events.push(json!([
                    "tool_result",
                    part["id"],
                    result_text(&part["response"])
                ])),
                other => events.push(json!(["other", other])),
            }
        }
    }
    events
}

fn content_events(events: &mut Vec<Value>, role: &str, content: &Value) {
    match content {
        Value::String(text) => text_event(events, role, text),
        Value::Array(blocks) => {
            for block in blocks {
                match block["type"].as_str() {
                    Some("text") => text_event(events, role, block["text"].as_str().unwrap_or("")),
                    Some("tool_use") => events.push(json!([
                        "tool_call",
                        block["id"],
                        block["name"],
                        block["input"]
                    ])),
                    Some("tool_result") => events.push(json!([
                        "tool_result",
                        block["tool_use_id"],
                        result_text(&block["content"])
                    ])),
                    other => events.push(json!(["other", other])),
                }
            }
        }
        _ => {}
    }
}

/// The conversation an OpenAI Chat Completions body holds.
fn openai_view(body: &Value) -> Vec<Value> {
    let mut events = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = match message["role"].as_str().unwrap_or("") {
            "developer" => "system",
            other => other,
        };
        if role == "tool" {
            events.push(json!([
                "tool_result",
                message["tool_call_id"],
                result_text(&message["content"])
            ]));
            continue;
        }
        content_events(&mut events, role, &message["content"]);
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            events.push(json!([
                "tool_call",
                call["id"],
                call["function"]["name"],
                arguments_json(&call["function"]["arguments"])
            ]));
        }
    }
    events
}

/// The conversation an Anthropic Messages body holds.
fn anthropic_view(body: &Value) -> Vec<Value> {
    let mut events = Vec::new();
    content_events(&mut events, "system", &body["system"]);
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or("");
        content_events(&mut events, role, &message["content"]);
    }
    events
}

fn canonical_tools(call: &Value) -> Vec<Value> {
    call["tool_definitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!([t["name"], t["description"], t["parameters"]]))
        .collect()
}

fn openai_tools(body: &Value) -> Vec<Value> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let f = &t["function"];
            json!([f["name"], f["description"], f["parameters"]])
        })
        .collect()
}

fn anthropic_tools(body: &Value) -> Vec<Value> {
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!([t["name"], t["description"], t["input_schema"]]))
        .collect()
}

/// Every difference between what a body says and what the original call
/// says it must.
fn body_differences(original: &Value, kind: &str, body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |what: &str, want: Value, got: Value| {
        if want != got {
            problems.push(format!("{what}: expected {want}, sent {got}"));
        }
    };
    let params = &original["request_params"];
    let stops = params.get("stop_sequences").cloned().unwrap_or(Value::Null);
    match kind {
        "openai" => {
            check("model", json!(OPENAI_MODEL), body["model"].clone());
            check("stream", json!(true), body["stream"].clone());
            check(
                "stream_options",
                json!({"include_usage": true}),
                body["stream_options"].clone(),
            );
            check(
                "messages",
                json!(canonical_view(original)),
                json!(openai_view(body)),
            );
            check(
                "tools",
                json!(canonical_tools(original)),
                json!(openai_tools(body)),
            );
            check(
                "max_tokens",
                params.get("max_tokens").cloned().unwrap_or(Value::Null),
                body.get("max_tokens").cloned().unwrap_or(Value::Null),
            );
            check(
                "stop",
                stops,
                body.get("stop").cloned().unwrap_or(Value::Null),
            );
        }
        _ => {
            check("model", json!(ANTHROPIC_MODEL), body["model"].clone());
            check("stream", json!(true), body["stream"].clone());
            check(
                "messages",
                json!(canonical_view(original)),
                json!(anthropic_view(body)),
            );
            check(
                "tools",
                json!(canonical_tools(original)),
                json!(anthropic_tools(body)),
            );
            check(
                "max_tokens",
                params
                    .get("max_tokens")
                    .cloned()
                    .unwrap_or(json!(DEFAULT_MAX_TOKENS)),
                body["max_tokens"].clone(),
            );
            check(
                "stop_sequences",
                stops,
                body.get("stop_sequences").cloned().unwrap_or(Value::Null),
            );
            let roles: Vec<&str> = body["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["role"].as_str())
                .collect();
            let alternates = roles.windows(2).all(|w| w[0] != w[1]);
            check("alternating roles", json!(true), json!(alternates));
        }
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = params.get(key) {
            check(key, value.clone(), body[key].clone());
        }
    }
    problems
}

#[tokio::test]
async fn every_fixture_call_is_replayed_to_both_kinds_of_target() {
    let h = harness(FakeConfig::default(), "").await;
    ingest_all_fixtures(&h.server).await;
    let originals = list_calls(&h.server).await;
    assert!(originals.len() >= 60, "{} calls", originals.len());

    let run = start_replay(
        &h.server,
        json!({"name": "fixtures", "targets": ["oai", "claude"], "filters": {}}),
    )
    .await;
    let id = run["id"].as_str().expect("id").to_owned();
    assert_eq!(run["progress"]["total"], originals.len() * 2);
    let run = wait_finished(&h.server, &id).await;
    assert_eq!(run["state"], "done", "{run}");

    let requests = h.fake.requests();
    let sent: Vec<&Value> = chat_requests(&requests)
        .into_iter()
        .filter_map(|r| r.body.as_ref())
        .collect();
    let groups = all_results(&h.server, &id).await;
    assert_eq!(groups.len(), originals.len());
    let mut problems = Vec::new();
    let mut done = 0;
    let mut refused = 0;
    let mut with_tool_results = 0;
    let mut with_tool_calls = 0;
    let mut with_max_tokens = 0;
    let mut with_stops = 0;
    for group in &groups {
        let original = get_call(&h.server, group["original_call_id"].as_str().expect("id")).await;
        for item in group["replays"].as_array().expect("replays") {
            let target = item["target"].as_str().expect("target");
            let kind = if target == "oai" {
                "openai"
            } else {
                "anthropic"
            };
            let label = format!("{} → {target}", original["id"]);
            if item["state"] == "failed" {
                // Nothing sent, and the translator said why.
                let error = item["error"].as_str().unwrap_or("");
                assert_eq!(item["attempts"], 0, "{label}: {item}");
                assert!(item["call"].is_null(), "{label}: {item}");
                if !refusal_is_justified(&original, error) {
                    problems.push(format!("{label} failed: {error}"));
                }
                refused += 1;
                continue;
            }
            assert_eq!(item["state"], "done", "{label}: {item}");
            done += 1;
            let result =
                get_call(&h.server, item["result_call_id"].as_str().expect("result")).await;
            assert_eq!(result["source"], "replay");
            assert_eq!(result["attributes"]["replay.run_id"], json!(id));
            assert_eq!(
                result["attributes"]["replay.original_call_id"],
                original["id"]
            );
            assert_eq!(result["attributes"]["replay.target"], json!(target));
            assert_eq!(result["status"], "ok", "{label}: {result}");
            assert_eq!(result["streaming"], true);
            assert!(result["ttft_ms"].as_f64().is_some(), "{label}: no TTFT");
            let body = &result["raw"]["request"];
            assert!(
                sent.contains(&body),
                "{label}: the fake never received the body the result records"
            );
            let view = canonical_view(&original);
            with_tool_results += view.iter().any(|e| e[0] == "tool_result") as usize;
            with_tool_calls += view.iter().any(|e| e[0] == "tool_call") as usize;
            let params = &original["request_params"];
            with_max_tokens += params.get("max_tokens").is_some() as usize;
            with_stops += params.get("stop_sequences").is_some() as usize;
            for difference in body_differences(&original, kind, body) {
                problems.push(format!("{label}: {difference}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The fixtures really exercised parameters, tool calls and tool results.
    assert!(
        with_max_tokens >= 20 && with_stops >= 2,
        "{with_max_tokens} {with_stops}"
    );
    assert!(
        with_tool_calls >= 20 && with_tool_results >= 20,
        "{with_tool_calls} {with_tool_results}"
    );
    assert_eq!(done + refused, originals.len() * 2);
    assert!(
        done >= originals.len() * 2 - 16,
        "{done} done, {refused} refused"
    );
    assert_eq!(sent.len(), done, "one request per replayed item");
}

/// A translation may refuse a call only for what the call really holds:
/// no input at all, or a recorded parameter the target has no word for
/// (and then the error says how to go on).
fn refusal_is_justified(original: &Value, error: &str) -> bool {
    let input_empty = original["input_messages"]
        .as_array()
        .is_none_or(|m| m.is_empty());
    if input_empty {
        return error.contains("no input messages");
    }
    let Some(param) = error
        .strip_prefix('`')
        .and_then(|rest| rest.split_once('`'))
        .map(|(param, _)| param)
    else {
        return false;
    };
    original["request_params"].get(param).is_some()
        && error.contains("cannot be sent to")
        && error.contains("allow_drop")
}

/// Targets with the given model on the fake, for tests that shape one
/// model's behavior.
fn model_target(fake: &FakeProvider, name: &str, model: &str, settings: &str) -> String {
    format!(
        "\n[targets.{name}]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"{model}\"\n{settings}\n",
        fake.base_url()
    )
}

async fn run_on_ids(h: &Harness, target: &str, ids: &[String], extra: Value) -> String {
    let mut body = json!({"targets": [target], "ids": ids});
    if let (Some(object), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            object.insert(key.clone(), value.clone());
        }
    }
    let run = start_replay(&h.server, body).await;
    run["id"].as_str().expect("id").to_owned()
}

async fn items_of(h: &Harness, id: &str) -> Vec<Value> {
    let mut items = Vec::new();
    for group in all_results(&h.server, id).await {
        items.extend(
            group["replays"]
                .as_array()
                .expect("replays")
                .iter()
                .cloned(),
        );
    }
    items
}

#[tokio::test]
async fn latency_and_ttft_are_at_least_the_fake_delays() {
    let mut slow = Behavior::replying(ReplyStyle::Lorem);
    slow.words = 10;
    slow.timing.latency_ms = 150;
    slow.timing.chunk_delay_ms = 30;
    slow.timing.chunk_words = 1;
    let fake_config = FakeConfig::default().with_model("slow", slow);
    let h = harness_with(fake_config, |fake| {
        model_target(fake, "slow", "slow", "max_concurrency = 2")
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/chat_").await;
    assert!(!ids.is_empty());

    let streamed = run_on_ids(&h, "slow", &ids, json!({})).await;
    let whole = run_on_ids(&h, "slow", &ids, json!({"stream": false})).await;
    for (id, stream) in [(&streamed, true), (&whole, false)] {
        let run = wait_finished(&h.server, id).await;
        assert_eq!(run["state"], "done", "{run}");
        for item in items_of(&h, id).await {
            assert_eq!(item["state"], "done", "{item}");
            let latency = item["latency_ms"].as_f64().expect("latency");
            if stream {
                // 150 ms before the first byte, then 9 gaps of 30 ms between 10 words.
                let ttft = item["ttft_ms"].as_f64().expect("ttft");
                assert!(ttft >= 150.0, "ttft {ttft}");
                assert!(latency >= 150.0 + 9.0 * 30.0, "latency {latency}");
                assert!(latency >= ttft);
                assert_eq!(item["output_tokens"], 10);
            } else {
                assert!(item["ttft_ms"].is_null(), "{item}");
                assert!(latency >= 150.0, "latency {latency}");
            }
        }
        let summary = &run["summary"][0];
        assert!(summary["latency_p50_ms"].as_f64().expect("p50") >= 150.0);
        assert_eq!(summary["ttft_p50_ms"].is_null(), !stream, "{summary}");
    }
}

#[tokio::test]
async fn retries_honour_retry_after_and_back_off_on_server_errors() {
    let mut limited = Behavior::default();
    let mut rule = FailureRule::first(FailureKind::RateLimit, 1);
    rule.retry_after_s = 1;
    limited.failures.push(rule);
    let mut broken = Behavior::default();
    broken
        .failures
        .push(FailureRule::first(FailureKind::ServerError, 2));
    let mut dead = Behavior::default();
    dead.failures
        .push(FailureRule::always(FailureKind::ServerError));
    let mut hung = Behavior::default();
    hung.failures.push(FailureRule::always(FailureKind::Hang));
    let fake_config = FakeConfig::default()
        .with_model("limited", limited)
        .with_model("broken", broken)
        .with_model("dead", dead)
        .with_model("hung", hung);
    let h = harness_with(fake_config, |fake| {
        [
            model_target(fake, "limited", "limited", "max_concurrency = 1"),
            model_target(fake, "broken", "broken", "max_concurrency = 1"),
            model_target(fake, "dead", "dead", "max_concurrency = 1\nmax_retries = 2"),
            model_target(fake, "hung", "hung", "timeout_s = 0.3\nmax_retries = 1"),
        ]
        .concat()
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/chat_multiturn").await;
    let one = &ids[..1];

    let limited_run = run_on_ids(&h, "limited", one, json!({})).await;
    let broken_run = run_on_ids(&h, "broken", one, json!({})).await;
    let dead_run = run_on_ids(&h, "dead", one, json!({})).await;
    let hung_run = run_on_ids(&h, "hung", one, json!({})).await;
    for id in [&limited_run, &broken_run, &dead_run, &hung_run] {
        wait_finished(&h.server, id).await;
    }
    let requests = h.fake.requests();
    let arrivals = |model: &str| -> Vec<u64> {
        requests
            .iter()
            .filter(|r| r.model.as_deref() == Some(model))
            .map(|r| r.received_monotonic_ns)
            .collect()
    };

    let limited_items = items_of(&h, &limited_run).await;
    assert_eq!(limited_items[0]["state"], "done");
    assert_eq!(limited_items[0]["attempts"], 2);
    let times = arrivals("limited");
    assert_eq!(times.len(), 2);
    let waited_ms = (times[1] - times[0]) as f64 / 1e6;
    assert!(
        waited_ms >= 1000.0,
        "retried after {waited_ms} ms, Retry-After said 1 s"
    );

    let broken_items = items_of(&h, &broken_run).await;
    assert_eq!(broken_items[0]["state"], "done");
    assert_eq!(broken_items[0]["attempts"], 3);
    let times = arrivals("broken");
    assert_eq!(times.len(), 3);
    // Backoff: 250 ms base with jitter down to half, doubling.
    assert!(times[1] - times[0] >= 125_000_000, "{times:?}");
    assert!(times[2] - times[1] >= 250_000_000, "{times:?}");

    let dead_items = items_of(&h, &dead_run).await;
    let dead_item = &dead_items[0];
    assert_eq!(dead_item["state"], "failed");
    assert_eq!(dead_item["attempts"], 3, "one try and max_retries = 2");
    assert!(
        dead_item["error"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 500"),
        "{dead_item}"
    );
    // The failure is a result too: an error call, linked like any other.
    assert_eq!(dead_item["call"]["status"], "error", "{dead_item}");
    assert_eq!(arrivals("dead").len(), 3);

    // A server that never answers is given up on after the target's
    // timeout, retried, and given up on again.
    let hung_items = items_of(&h, &hung_run).await;
    let hung_item = &hung_items[0];
    assert_eq!(hung_item["state"], "failed", "{hung_item}");
    assert_eq!(hung_item["attempts"], 2);
    assert!(
        hung_item["error"]
            .as_str()
            .unwrap_or("")
            .contains("timed out"),
        "{hung_item}"
    );
    let latency = hung_item["call"]["duration_ms"].as_f64().expect("duration");
    assert!((300.0..3000.0).contains(&latency), "{latency}");
    assert_eq!(arrivals("hung").len(), 2);
}

#[tokio::test]
async fn concurrency_and_rate_limits_are_never_exceeded() {
    let mut slow = Behavior::default();
    slow.timing.latency_ms = 100;
    let fake_config = FakeConfig::default()
        .with_model("narrow", slow.clone())
        .with_model("paced", Behavior::default());
    let h = harness_with(fake_config, |fake| {
        [
            model_target(fake, "narrow", "narrow", "max_concurrency = 3"),
            model_target(
                fake,
                "paced",
                "paced",
                "max_concurrency = 8\nrequests_per_second = 4",
            ),
        ]
        .concat()
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    assert!(ids.len() >= 5, "{ids:?}");

    let narrow = run_on_ids(&h, "narrow", &ids, json!({"repeat": 4})).await;
    let run = wait_finished(&h.server, &narrow).await;
    assert_eq!(run["progress"]["done"], ids.len() * 4, "{run}");
    let stats = h.fake.stats();
    assert_eq!(stats.max_in_flight, 3, "in flight at once: {stats:?}");

    h.fake.reset();
    let paced = run_on_ids(&h, "paced", &ids, json!({"repeat": 2})).await;
    let run = wait_finished(&h.server, &paced).await;
    let count = ids.len() * 2;
    assert_eq!(run["progress"]["done"], count, "{run}");
    let mut times: Vec<u64> = h
        .fake
        .requests()
        .iter()
        .map(|r| r.received_monotonic_ns)
        .collect();
    times.sort_unstable();
    assert_eq!(times.len(), count);
    // No window of one second holds more than 4 starts; arrivals are
    // allowed 50 ms of loopback delivery jitter.
    for (i, start) in times.iter().enumerate() {
        let window_end = start + 950_000_000;
        let in_window = times[i..].iter().filter(|t| **t < window_end).count();
        assert!(
            in_window <= 4,
            "{in_window} requests within a second: {times:?}"
        );
    }
    let span_s = (times[count - 1] - times[0]) as f64 / 1e9;
    let minimum_s = ((count - 1) / 4) as f64 - 0.05;
    assert!(
        span_s >= minimum_s,
        "{count} requests at 4/s took only {span_s} s"
    );
}

#[tokio::test]
async fn budget_guards_stop_the_run_before_it_overspends() {
    let h = harness_with(FakeConfig::default(), |fake| {
        model_target(
            fake,
            "priced",
            "priced",
            "max_concurrency = 1\nparams = { max_tokens = 100 }\nprice = { input_per_1m = 1000.0, output_per_1m = 1000.0 }",
        )
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let items = ids.len() * 3;

    let capped = run_on_ids(
        &h,
        "oai",
        &ids,
        json!({"repeat": 3, "budget": {"max_calls": 4}}),
    )
    .await;
    let run = wait_finished(&h.server, &capped).await;
    assert_eq!(run["state"], "stopped", "{run}");
    assert!(
        run["stop_reason"]
            .as_str()
            .unwrap_or("")
            .contains("max_calls"),
        "{run}"
    );
    assert_eq!(run["progress"]["done"], 4);
    assert_eq!(run["progress"]["cancelled"], items - 4);
    let cancelled: Vec<Value> = items_of(&h, &capped)
        .await
        .into_iter()
        .filter(|i| i["state"] == "cancelled")
        .collect();
    assert!(
        cancelled
            .iter()
            .all(|i| i["error"].as_str().unwrap_or("").contains("max_calls"))
    );
    assert_eq!(chat_requests(&h.fake.requests()).len(), 4);

    // Each item is estimated at its recorded input tokens plus the 100
    // output tokens it may ask for, at $0.001 a token (about $0.12), and
    // really costs about $0.03: $0.2 admits a few items, never all six.
    h.fake.reset();
    let costly = run_on_ids(&h, "priced", &ids, json!({"budget": {"max_cost_usd": 0.2}})).await;
    let run = wait_finished(&h.server, &costly).await;
    assert_eq!(run["state"], "stopped", "{run}");
    assert!(
        run["stop_reason"]
            .as_str()
            .unwrap_or("")
            .contains("max_cost_usd"),
        "{run}"
    );
    let spent = run["summary"][0]["cost_usd"].as_f64().unwrap_or(0.0);
    assert!(spent > 0.0 && spent <= 0.2, "spent {spent}");
    let sent = chat_requests(&h.fake.requests()).len();
    assert!(sent < ids.len(), "{sent} of {} sent", ids.len());
    assert_eq!(run["progress"]["done"], sent);
}

#[tokio::test]
async fn a_cancelled_run_stops_sending() {
    let mut slow = Behavior::default();
    slow.timing.latency_ms = 400;
    let h = harness_with(FakeConfig::default().with_model("slow", slow), |fake| {
        model_target(fake, "slow", "slow", "max_concurrency = 1")
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let id = run_on_ids(&h, "slow", &ids, json!({"repeat": 5})).await;
    wait_for_run(&h.server, &id, "one item done", |run| {
        run["progress"]["done"] == 1
    })
    .await;

    let response = reqwest::Client::new()
        .post(h.server.url(&format!("/api/v1/replays/{id}/cancel")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), 200);
    let run: Value = response.json().await.expect("JSON");
    assert_eq!(run["state"], "cancelled");
    assert_eq!(run["progress"]["pending"], 0);
    assert_eq!(run["progress"]["running"], 0);
    // In flight when cancelled: the fake may still see that one request.
    let sent_at_cancel = chat_requests(&h.fake.requests()).len();
    let again = reqwest::Client::new()
        .post(h.server.url(&format!("/api/v1/replays/{id}/cancel")))
        .send()
        .await
        .expect("cancel again");
    assert_eq!(again.status(), 409);
    // Long enough for several more 400 ms requests had the run gone on.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < quiet_until {
        assert!(chat_requests(&h.fake.requests()).len() <= sent_at_cancel + 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = h.server.get_json(&format!("/api/v1/replays/{id}")).await;
    assert_eq!(run["state"], "cancelled");
    let done = run["progress"]["done"].as_u64().expect("done");
    assert!(done <= 2, "{run}");
    assert_eq!(
        run["progress"]["cancelled"].as_u64(),
        Some(ids.len() as u64 * 5 - done)
    );
}

#[tokio::test]
async fn a_run_resumes_after_sigkill_and_stores_every_result_once() {
    let mut slow = Behavior::default();
    slow.timing.latency_ms = 60;
    let mut h = harness_with(FakeConfig::default().with_model("slow", slow), |fake| {
        model_target(fake, "slow", "slow", "max_concurrency = 2")
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let repeat = 6;
    let total = ids.len() * repeat;
    let id = run_on_ids(&h, "slow", &ids, json!({"repeat": repeat})).await;
    wait_for_run(&h.server, &id, "a few items done", |run| {
        run["progress"]["done"].as_u64().unwrap_or(0) >= 4
    })
    .await;
    h.server.kill().await;
    let done_before = get_run_after_restart(&mut h, &id).await;
    assert!(
        done_before < total as u64,
        "killed too late to test resuming"
    );

    let run = wait_finished(&h.server, &id).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(run["progress"]["done"], total);

    // Exactly one stored result call per item.
    let mut per_item: HashMap<(String, String), usize> = HashMap::new();
    let mut result_bodies: Vec<Value> = Vec::new();
    for summary in list_calls(&h.server).await {
        if summary["source"] != "replay" {
            continue;
        }
        let call = get_call(&h.server, summary["id"].as_str().expect("id")).await;
        let attributes = &call["attributes"];
        if attributes["replay.run_id"] != json!(id) {
            continue;
        }
        let key = (
            attributes["replay.original_call_id"].to_string(),
            attributes["replay.repetition"].to_string(),
        );
        *per_item.entry(key).or_default() += 1;
        result_bodies.push(call["raw"]["request"].clone());
    }
    assert_eq!(per_item.len(), total);
    assert!(per_item.values().all(|n| *n == 1), "{per_item:?}");
    // The fake saw every item at least once: each distinct body was
    // received at least as often as items carry it.
    let requests = h.fake.requests();
    let received: Vec<&Value> = chat_requests(&requests)
        .into_iter()
        .filter_map(|r| r.body.as_ref())
        .collect();
    assert!(received.len() >= total);
    for body in &result_bodies {
        let needed = result_bodies.iter().filter(|b| *b == body).count();
        let seen = received.iter().filter(|b| **b == body).count();
        assert!(
            seen >= needed,
            "a body sent {seen} times for {needed} items"
        );
    }
}

#[tokio::test]
async fn a_server_told_to_stop_gives_its_run_back_for_the_next_start() {
    let mut slow = Behavior::default();
    slow.timing.latency_ms = 200;
    let mut h = harness_with(FakeConfig::default().with_model("slow", slow), |fake| {
        model_target(fake, "slow", "slow", "max_concurrency = 2")
    })
    .await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let total = ids.len() * 4;
    let id = run_on_ids(&h, "slow", &ids, json!({"repeat": 4})).await;
    wait_for_run(&h.server, &id, "an item done", |run| {
        run["progress"]["done"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    let status = h.server.stop().await;
    assert!(status.success(), "{status:?}");
    // Read the file while no server runs: a restarted one would claim
    // items again at once.
    let (running, leased) = items_in_flight(&h.db()).await;
    assert_eq!(running, 0, "items in flight went back to pending");
    assert_eq!(leased, 0, "no item keeps the stopped server's lease");
    h.restart().await;
    let run = h.server.get_json(&format!("/api/v1/replays/{id}")).await;
    assert_eq!(run["state"], "running");
    let done_at_restart = run["progress"]["done"].as_u64().expect("done");
    assert!(
        done_at_restart < total as u64,
        "stopped too late to test resuming"
    );
    // Released, not left to expire: the new server takes the run up at
    // once, well before a dead process's lease would run out.
    let restarted = tokio::time::Instant::now();
    wait_for_run(&h.server, &id, "a new item done", |run| {
        run["progress"]["done"].as_u64().unwrap_or(0) > done_at_restart
    })
    .await;
    assert!(
        restarted.elapsed() < Duration::from_secs(4),
        "{:?}",
        restarted.elapsed()
    );
    let run = wait_finished(&h.server, &id).await;
    assert_eq!(run["state"], "done");
    assert_eq!(run["progress"]["done"], total);
}

/// Items in state `running`, and items still holding a lease, read from
/// the database file.
async fn items_in_flight(db: &Path) -> (i64, i64) {
    use sqlx::Row as _;
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    let row = sqlx::query(
        "SELECT COALESCE(SUM(state = 'running'), 0) AS running, \
         COALESCE(SUM(lease_owner IS NOT NULL AND state IN ('pending', 'running')), 0) AS leased \
         FROM replay_items",
    )
    .fetch_one(&pool)
    .await
    .expect("items");
    let counts = (row.get("running"), row.get("leased"));
    pool.close().await;
    counts
}

/// Restarts the server; returns how many items were done when it came back.
async fn get_run_after_restart(h: &mut Harness, id: &str) -> u64 {
    h.restart().await;
    let run = h.server.get_json(&format!("/api/v1/replays/{id}")).await;
    run["progress"]["done"].as_u64().expect("done")
}

#[tokio::test]
async fn runs_are_listed_newest_first_and_bad_requests_say_why() {
    let h = harness(FakeConfig::default(), "").await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/chat_multiturn").await;
    let first = run_on_ids(&h, "oai", &ids, json!({"name": "first"})).await;
    let second = run_on_ids(&h, "claude", &ids, json!({"name": "second"})).await;
    wait_finished(&h.server, &first).await;
    wait_finished(&h.server, &second).await;
    let page = h.server.get_json("/api/v1/replays?limit=1").await;
    assert_eq!(page["replays"][0]["id"], json!(second));
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let page = h
        .server
        .get_json(&format!("/api/v1/replays?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page["replays"][0]["id"], json!(first));
    assert_eq!(page["replays"][0]["progress"]["done"], 1);

    let client = reqwest::Client::new();
    let bad = [
        (json!({"targets": ["nope"]}), "no target named `nope`"),
        (
            json!({"targets": ["oai"], "filters": {"servce": "x"}}),
            "servce",
        ),
        (json!({"targets": ["oai"], "repeat": 0}), "repeat"),
        (
            json!({"targets": ["oai"], "filters": {"service": "nobody"}}),
            "no recorded call",
        ),
        (
            json!({"targets": ["oai"], "budget": {"max_cost_usd": 1}}),
            "price",
        ),
        (json!({"targets": ["oai"], "colour": "red"}), "colour"),
    ];
    for (body, needle) in bad {
        let response = client
            .post(h.server.url("/api/v1/replays"))
            .json(&body)
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.expect("JSON");
        let message = error["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{body}: {message}");
    }
    let missing = client
        .get(h.server.url("/api/v1/replays/01JD3T8Q3W9J5M6Z4X8Y2K7B1C"))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), 404);
}

/// `reprise dev fake-provider` on a free port; returns the child and its base URL.
async fn spawn_fake_provider_cli() -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(["dev", "fake-provider", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn fake provider");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("fake provider printed its address")
        .expect("read")
        .expect("a line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("url")
        .to_owned();
    (child, url)
}

fn run_cli(db: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .arg("replay")
        .arg("--db")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run reprise replay")
}

#[tokio::test]
async fn the_cli_replays_beside_a_running_server() {
    let h = harness(FakeConfig::default(), "").await;
    let ids = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let (mut fake_cli, fake_url) = spawn_fake_provider_cli().await;
    let db = h.db();
    let target_url = format!("{fake_url}/v1");
    let output = tokio::task::spawn_blocking(move || {
        run_cli(
            &db,
            &[
                "--quiet",
                "--target-url",
                &target_url,
                "--target-model",
                "cli-model",
                "--provider",
                "openai",
                "--repeat",
                "2",
                "--name",
                "from-cli",
            ],
        )
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("cli-model"))
        .unwrap_or_else(|| panic!("no summary row: {stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2], (ids.len() * 2).to_string(), "done column: {row}");
    assert_eq!(cells[3], "0", "failed column: {row}");
    assert!(stdout.contains(" done"), "{stdout}");

    // The server sees the run the CLI made and finished.
    let page = h.server.get_json("/api/v1/replays").await;
    let run = &page["replays"][0];
    assert_eq!(run["name"], "from-cli");
    assert_eq!(run["state"], "done");
    assert_eq!(run["progress"]["done"], ids.len() * 2);
    // The server's own fake got nothing: the CLI's target was the other one.
    assert!(chat_requests(&h.fake.requests()).is_empty());

    // A config-file target by name, with a budget, from the CLI too.
    let db = h.db();
    let config = h.config.clone();
    let output = tokio::task::spawn_blocking(move || {
        run_cli(
            &db,
            &[
                "--quiet",
                "--config",
                config.to_str().expect("path"),
                "--target",
                "claude",
                "--ids",
                &ids[0],
                "--max-calls",
                "1",
            ],
        )
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("claude")), "{stdout}");
    assert_eq!(chat_requests(&h.fake.requests()).len(), 1);
    let _ = fake_cli.kill().await;
}

/// Real inference: a llama.cpp server (tests/localmodel/) when
/// `REPRISE_LOCAL_LLM_URL` points at one.
#[tokio::test]
async fn replays_against_a_real_local_model_when_one_is_running() {
    let Ok(url) = std::env::var("REPRISE_LOCAL_LLM_URL") else {
        eprintln!("REPRISE_LOCAL_LLM_URL is not set: skipping the local-model replay test");
        return;
    };
    let max_tokens = 12;
    let fake = FakeProvider::start("127.0.0.1:0".parse().expect("addr"), FakeConfig::default())
        .await
        .expect("fake");
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("reprise.toml");
    let toml = format!(
        "{}\n[targets.local]\nkind = \"openai\"\nbase_url = \"{url}\"\nmodel = \"tiny\"\nmax_concurrency = 2\nparams = {{ max_tokens = {max_tokens}, temperature = 0 }}\nallow_drop = [\"top_k\"]\n",
        targets_toml(&fake, "")
    );
    std::fs::write(&config, toml).expect("config");
    let server = TestServer::start_on(
        &dir.path().join("reprise.db"),
        &["--config", config.to_str().expect("path")],
    )
    .await;
    let ids = ingest_fixtures_named(&server, "openllmetry-openai/chat_").await;
    let run = start_replay(
        &server,
        json!({"targets": ["local"], "ids": ids, "repeat": 2}),
    )
    .await;
    let id = run["id"].as_str().expect("id");
    let run = wait_finished(&server, id).await;
    assert_eq!(run["state"], "done", "{run}");
    let mut prompt_tokens: HashMap<String, i64> = HashMap::new();
    for group in all_results(&server, id).await {
        for item in group["replays"].as_array().expect("replays") {
            assert_eq!(item["state"], "done", "{item}");
            let call = &item["call"];
            assert_eq!(call["status"], "ok", "{call}");
            assert_eq!(call["finish_reasons"], json!(["length"]), "{call}");
            assert_eq!(call["usage"]["output_tokens"], max_tokens, "{call}");
            let input = call["usage"]["input_tokens"]
                .as_i64()
                .expect("prompt tokens");
            assert!(input > 0);
            // The same prompt tokenizes the same on both repetitions.
            let original = group["original_call_id"].as_str().expect("id").to_owned();
            assert_eq!(*prompt_tokens.entry(original).or_insert(input), input);
            assert!(call["ttft_ms"].as_f64().is_some_and(|t| t > 0.0), "{call}");
            assert!(
                call["duration_ms"].as_f64().is_some_and(|t| t > 0.0),
                "{call}"
            );
            assert_eq!(call["streaming"], true);
        }
    }
}

/// `source=production` lists what applications sent and leaves out the
/// calls replays made, which `source=replay` lists alone.
#[tokio::test]
async fn production_traffic_is_listed_apart_from_replay_results() {
    let h = harness(FakeConfig::default(), "").await;
    let originals = ingest_fixtures_named(&h.server, "openllmetry-openai/").await;
    let run = start_replay(&h.server, json!({"targets": ["oai"], "ids": originals})).await;
    let id = run["id"].as_str().expect("run id").to_owned();
    wait_finished(&h.server, &id).await;
    let ids = |page: &Value| -> std::collections::BTreeSet<String> {
        page["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let production = h
        .server
        .get_json("/api/v1/calls?source=production&limit=1000")
        .await;
    let replayed = h
        .server
        .get_json("/api/v1/calls?source=replay&limit=1000")
        .await;
    let everything = h.server.get_json("/api/v1/calls?limit=1000").await;
    let originals: std::collections::BTreeSet<String> = originals.into_iter().collect();
    assert_eq!(ids(&production), originals);
    assert_eq!(ids(&replayed).len(), originals.len());
    assert!(ids(&replayed).is_disjoint(&ids(&production)));
    assert_eq!(
        ids(&everything).len(),
        ids(&production).len() + ids(&replayed).len()
    );
    let stats = h
        .server
        .get_json("/api/v1/stats?source=production&group_by=none")
        .await;
    assert_eq!(
        stats["groups"][0]["count"].as_u64(),
        Some(originals.len() as u64),
        "{stats}"
    );
}

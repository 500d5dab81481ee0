//! Replay dead ends a new user met (issue 20), through the real
//! interfaces: calls sent as OTLP/JSON to a real `reprise serve`, replayed
//! through the API and the CLI against the fake provider, and read back
//! through the API and the CLI's output.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use fake_provider::{Behavior, FailureKind, FailureRule, FakeConfig, RecordedRequest};
use serde_json::{Map, Value, json};

use crate::calls_expected::settle;
use crate::generate::{hex, random_bytes};
use crate::replay::{harness, list_calls, start_replay, wait_finished};
use crate::server::TestServer;

/// A JSON object as an OTLP/JSON attribute list: strings, integers,
/// doubles and booleans as themselves, anything else as its JSON text.
fn otlp_attributes(object: &Value) -> Value {
    let mut out = Vec::new();
    for (key, value) in object.as_object().expect("object") {
        let value = match value {
            Value::String(text) => json!({"stringValue": text}),
            Value::Bool(flag) => json!({"boolValue": flag}),
            Value::Number(number) if number.is_i64() => {
                json!({"intValue": number.as_i64().expect("i64").to_string()})
            }
            Value::Number(number) => json!({"doubleValue": number.as_f64()}),
            other => json!({"stringValue": other.to_string()}),
        };
        out.push(json!({"key": key, "value": value}));
    }
    Value::Array(out)
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64
}

/// Sends one span with `attributes` under instrumentation scope `scope`,
/// waits until it is stored, and returns the id of the call it became.
pub async fn ingest_span(
    server: &TestServer,
    scope: &str,
    name: &str,
    attributes: Value,
) -> String {
    let before: Vec<Value> = list_calls(server).await;
    let start = now_unix_nano() - 2_000_000_000;
    let span = json!({
        "traceId": hex(&random_bytes::<16>()),
        "spanId": hex(&random_bytes::<8>()),
        "name": name,
        "kind": 3,
        "startTimeUnixNano": start.to_string(),
        "endTimeUnixNano": (start + 400_000_000).to_string(),
        "attributes": otlp_attributes(&attributes),
    });
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "ux-bot"}}]},
        "scopeSpans": [{"scope": {"name": scope}, "spans": [span]}]
    }]});
    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST /v1/traces");
    assert_eq!(response.status(), 200);
    settle(server).await;
    let after = list_calls(server).await;
    assert_eq!(after.len(), before.len() + 1, "one new call: {after:?}");
    after[0]["id"].as_str().expect("id").to_owned()
}

/// A `doGenerate` span as the Vercel AI SDK writes it (ai 5/6,
/// `experimental_telemetry: {isEnabled: true}`), with `extra` attributes.
fn vercel_attributes(extra: Value) -> Value {
    let mut attributes = json!({
        "ai.operationId": "ai.generateText.doGenerate",
        "operation.name": "ai.generateText.doGenerate",
        "ai.model.id": "gpt-4o-mini",
        "ai.model.provider": "openai.chat",
        "ai.prompt.messages": r#"[{"role":"user","content":[{"type":"text","text":"What is the capital of France?"}]}]"#,
        "ai.response.text": "Paris.",
        "ai.response.finishReason": "stop",
        "ai.usage.inputTokens": 14,
        "ai.usage.outputTokens": 2,
        "ai.settings.maxRetries": 2,
        "ai.settings.temperature": 0.3,
        "ai.settings.maxOutputTokens": 50,
        "gen_ai.system": "openai.chat",
        "gen_ai.request.model": "gpt-4o-mini",
    });
    let object = attributes.as_object_mut().expect("object");
    for (key, value) in extra.as_object().expect("object") {
        object.insert(key.clone(), value.clone());
    }
    attributes
}

fn chat_bodies(requests: &[RecordedRequest]) -> Vec<Map<String, Value>> {
    requests
        .iter()
        .filter(|r| r.path == "/v1/chat/completions" || r.path == "/v1/messages")
        .filter_map(|r| r.body.as_ref()?.as_object().cloned())
        .collect()
}

#[tokio::test]
async fn vercel_sdk_client_settings_stay_attributes_and_are_not_replayed() {
    let h = harness(FakeConfig::default(), "").await;
    let id = ingest_span(
        &h.server,
        "ai",
        "ai.generateText.doGenerate",
        vercel_attributes(json!({})),
    )
    .await;
    let call = h.server.get_json(&format!("/api/v1/calls/{id}")).await;
    let params = &call["request_params"];
    assert_eq!(params["temperature"], 0.3, "{call}");
    assert_eq!(params["max_tokens"], 50, "{call}");
    assert!(params.get("maxRetries").is_none(), "{params}");
    assert_eq!(call["attributes"]["ai.settings.maxRetries"], 2, "{call}");

    let run = start_replay(&h.server, json!({"targets": ["oai"], "ids": [id]})).await;
    let run = wait_finished(&h.server, run["id"].as_str().expect("id")).await;
    assert_eq!(run["progress"]["done"], 1, "{run}");
    let bodies = chat_bodies(&h.fake.requests());
    assert_eq!(bodies.len(), 1);
    assert!(!bodies[0].contains_key("maxRetries"), "{:?}", bodies[0]);
    assert_eq!(bodies[0]["temperature"], 0.3);
    assert_eq!(bodies[0]["max_tokens"], 50);
}

/// `reprise replay` on the server's database file, with `args`.
fn replay_cli(db: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .arg("replay")
        .arg("--db")
        .arg(db)
        .arg("--quiet")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run reprise replay")
}

async fn replay_cli_async(db: &Path, args: &[&str]) -> (String, String) {
    let (success, stdout, stderr) = replay_cli_status(db, args).await;
    assert!(success, "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// `reprise replay` with `args`: whether it exited 0, its stdout and stderr.
async fn replay_cli_status(db: &Path, args: &[&str]) -> (bool, String, String) {
    let db = db.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        replay_cli(&db, &args)
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stdout, stderr)
}

/// The newest run, as the API shows it.
async fn newest_run(server: &TestServer) -> Value {
    let page = server.get_json("/api/v1/replays").await;
    let id = page["replays"][0]["id"].as_str().expect("a run").to_owned();
    server.get_json(&format!("/api/v1/replays/{id}")).await
}

/// An OTel GenAI chat span with a request attribute OpenAI has no
/// parameter for: it is kept in `request_params`, and a translation to
/// OpenAI refuses it unless the user lets it go.
pub fn otel_attributes_with_unknown_param() -> Value {
    json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.custom_knob": 3,
        "gen_ai.input.messages": r#"[{"role":"user","parts":[{"type":"text","content":"Hello there"}]}]"#,
        "gen_ai.output.messages": r#"[{"role":"assistant","parts":[{"type":"text","content":"Hi."}],"finish_reason":"stop"}]"#,
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 1,
    })
}

#[tokio::test]
async fn an_ad_hoc_target_can_drop_or_null_a_parameter_it_cannot_send() {
    let h = harness(FakeConfig::default(), "").await;
    let id = ingest_span(
        &h.server,
        "opentelemetry.util.genai",
        "chat gpt-4o-mini",
        otel_attributes_with_unknown_param(),
    )
    .await;
    let call = h.server.get_json(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(call["request_params"]["custom_knob"], 3, "{call}");
    let url = format!("{}/v1", h.fake.base_url());
    let adhoc = [
        "--target-url",
        &url,
        "--target-model",
        "adhoc",
        "--ids",
        &id,
    ];

    // Refused (the run fails, and so does the command), and the error
    // says how to go on.
    let (success, stdout, _) = replay_cli_status(&h.db(), &adhoc).await;
    assert!(!success, "{stdout}");
    let refused = newest_run(&h.server).await;
    assert_eq!(refused["progress"]["failed"], 1, "{refused}");
    assert!(chat_bodies(&h.fake.requests()).is_empty());
    assert!(
        stdout.contains("untranslatable ×1: `custom_knob` cannot be sent")
            && stdout.contains("--allow-drop custom_knob"),
        "{stdout}"
    );

    for way in [
        ["--allow-drop", "custom_knob"],
        ["--set", "custom_knob=null"],
    ] {
        let mut args = adhoc.to_vec();
        args.extend(way);
        replay_cli_async(&h.db(), &args).await;
        let run = newest_run(&h.server).await;
        assert_eq!(run["progress"]["done"], 1, "{way:?}: {run}");
        let bodies = chat_bodies(&h.fake.requests());
        let last = bodies.last().expect("a request");
        assert!(!last.contains_key("custom_knob"), "{way:?}: {last:?}");
    }
    let run = newest_run(&h.server).await;
    assert_eq!(run["overrides"], json!({"custom_knob": null}), "{run}");

    // The API takes the same option.
    let run = start_replay(
        &h.server,
        json!({"targets": ["oai"], "ids": [id], "allow_drop": ["custom_knob"]}),
    )
    .await;
    assert_eq!(run["allow_drop"], json!(["custom_knob"]));
    let run = wait_finished(&h.server, run["id"].as_str().expect("id")).await;
    assert_eq!(run["progress"]["done"], 1, "{run}");
}

#[tokio::test]
async fn the_ai_sdk_tool_choice_reaches_openai_and_anthropic_in_their_own_shapes() {
    let h = harness(FakeConfig::default(), "").await;
    let tools = r#"{"type":"function","name":"weather","description":"Weather now","inputSchema":{"type":"object","properties":{"city":{"type":"string"}}}}"#;
    let mut ids = Vec::new();
    for choice in [
        r#"{"type":"auto"}"#,
        r#"{"type":"required"}"#,
        r#"{"type":"tool","toolName":"weather"}"#,
    ] {
        let attributes = vercel_attributes(json!({
            "ai.prompt.tools": [tools],
            "ai.prompt.toolChoice": choice,
        }));
        ids.push(ingest_span(&h.server, "ai", "ai.generateText.doGenerate", attributes).await);
    }
    let run = start_replay(&h.server, json!({"targets": ["oai", "claude"], "ids": ids})).await;
    let run = wait_finished(&h.server, run["id"].as_str().expect("id")).await;
    assert_eq!(run["progress"]["done"], 6, "{run}");
    let mut seen: Vec<(String, Value)> = chat_bodies(&h.fake.requests())
        .into_iter()
        .map(|body| (body["model"].to_string(), body["tool_choice"].clone()))
        .collect();
    seen.sort_by_key(|(model, choice)| format!("{model}{choice}"));
    let oai = json!(crate::replay::OPENAI_MODEL).to_string();
    let claude = json!(crate::replay::ANTHROPIC_MODEL).to_string();
    let mut expected = vec![
        (oai.clone(), json!("auto")),
        (oai.clone(), json!("required")),
        (
            oai,
            json!({"type": "function", "function": {"name": "weather"}}),
        ),
        (claude.clone(), json!({"type": "auto"})),
        (claude.clone(), json!({"type": "any"})),
        (claude, json!({"type": "tool", "name": "weather"})),
    ];
    expected.sort_by_key(|(model, choice)| format!("{model}{choice}"));
    assert_eq!(seen, expected);
}

/// Prices in dollars per million tokens, high enough that the CLI's four
/// decimals show them.
const TABLE_INPUT_PER_1M: f64 = 1000.0;
const TABLE_OUTPUT_PER_1M: f64 = 2000.0;
const TARGET_INPUT_PER_1M: f64 = 3000.0;
const TARGET_OUTPUT_PER_1M: f64 = 5000.0;

/// A server with the standard targets plus `priced` (the same model at a
/// price of its own), and a price table that knows the targets' model.
async fn priced_harness() -> (crate::replay::Harness, std::path::PathBuf) {
    let prices_dir = tempfile::tempdir().expect("dir");
    let prices = prices_dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        format!(
            "[[models]]\nname = \"{}\"\ninput = {TABLE_INPUT_PER_1M:.1}\noutput = {TABLE_OUTPUT_PER_1M:.1}\n",
            crate::replay::OPENAI_MODEL
        ),
    )
    .expect("prices");
    let mut h = crate::replay::harness_with(FakeConfig::default(), |fake| {
        format!(
            "\n[targets.priced]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"{}\"\nprice = {{ input_per_1m = {TARGET_INPUT_PER_1M:.1}, output_per_1m = {TARGET_OUTPUT_PER_1M:.1} }}\n",
            fake.base_url(),
            crate::replay::OPENAI_MODEL
        )
    })
    .await;
    let db = h.db();
    h.server.stop().await;
    h.server = TestServer::start_on(
        &db,
        &[
            "--config",
            h.config.to_str().expect("path"),
            "--prices",
            prices.to_str().expect("path"),
        ],
    )
    .await;
    // The price file must outlive the test's server and CLI runs.
    let kept = prices_dir.keep().join("prices.toml");
    (h, kept)
}

fn expected_cost(usage: &Value, input_per_1m: f64, output_per_1m: f64) -> f64 {
    let input = usage["input_tokens"].as_f64().expect("input tokens");
    let output = usage["output_tokens"].as_f64().expect("output tokens");
    (input * input_per_1m + output * output_per_1m) / 1e6
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no cost ({actual})"));
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.max(1.0),
        "{what}: {actual} != {expected}"
    );
}

#[tokio::test]
async fn a_replay_costs_the_same_in_items_summary_result_calls_table_and_comparison() {
    let (h, prices) = priced_harness().await;
    let id = ingest_span(
        &h.server,
        "opentelemetry.util.genai",
        "chat gpt-4o-mini",
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.input.messages": r#"[{"role":"user","parts":[{"type":"text","content":"Name three colours of the rainbow"}]}]"#,
            "gen_ai.output.messages": r#"[{"role":"assistant","parts":[{"type":"text","content":"Red, orange and yellow."}],"finish_reason":"stop"}]"#,
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 6,
        }),
    )
    .await;
    let run = start_replay(
        &h.server,
        json!({"targets": ["oai", "priced"], "ids": [id]}),
    )
    .await;
    let run_id = run["id"].as_str().expect("id").to_owned();
    let run = wait_finished(&h.server, &run_id).await;
    assert_eq!(run["progress"]["done"], 2, "{run}");

    let groups = crate::replay::all_results(&h.server, &run_id).await;
    let mut item_costs = Map::new();
    for item in groups[0]["replays"].as_array().expect("replays") {
        let target = item["target"].as_str().expect("target");
        let result = h
            .server
            .get_json(&format!(
                "/api/v1/calls/{}",
                item["result_call_id"].as_str().expect("result")
            ))
            .await;
        // The table's price for an unpriced target, the target's own else.
        let expected = match target {
            "oai" => expected_cost(&result["usage"], TABLE_INPUT_PER_1M, TABLE_OUTPUT_PER_1M),
            _ => expected_cost(&result["usage"], TARGET_INPUT_PER_1M, TARGET_OUTPUT_PER_1M),
        };
        assert_close(&result["cost_usd"], expected, &format!("{target} call"));
        assert_close(&item["cost_usd"], expected, &format!("{target} item"));
        assert_close(
            &item["call"]["cost_usd"],
            expected,
            &format!("{target} result"),
        );
        item_costs.insert(target.to_owned(), json!(expected));
    }
    for summary in run["summary"].as_array().expect("summary") {
        let target = summary["target"].as_str().expect("target");
        assert_close(
            &summary["cost_usd"],
            item_costs[target].as_f64().expect("cost"),
            target,
        );
    }

    // compare's cost per 1,000 calls is the same cost × 1,000.
    let response = reqwest::Client::new()
        .post(
            h.server
                .url(&format!("/api/v1/replays/{run_id}/comparison")),
        )
        .json(&json!({}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 202);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let report = loop {
        let report = h
            .server
            .get_json(&format!("/api/v1/replays/{run_id}/comparison"))
            .await;
        if report["scoring"] == "done" {
            break report;
        }
        assert!(tokio::time::Instant::now() < deadline, "{report}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for comparison in report["comparisons"].as_array().expect("comparisons") {
        let target = comparison["target"].as_str().expect("target");
        let cost = item_costs[target].as_f64().expect("cost");
        assert_close(
            &comparison["cost_per_1000_calls_usd"]["candidate"]["mean"],
            cost * 1000.0,
            &format!("{target} comparison"),
        );
    }

    // The CLI's table, for an ad hoc target priced by the table.
    let url = format!("{}/v1", h.fake.base_url());
    let (stdout, _) = replay_cli_async(
        &h.db(),
        &[
            "--prices",
            prices.to_str().expect("path"),
            "--target-url",
            &url,
            "--target-model",
            crate::replay::OPENAI_MODEL,
            "--ids",
            &id,
        ],
    )
    .await;
    let run = newest_run(&h.server).await;
    let cost = run["summary"][0]["cost_usd"]
        .as_f64()
        .expect("summary cost");
    assert_close(
        &json!(cost),
        item_costs["oai"].as_f64().expect("cost"),
        "CLI run",
    );
    let row = stdout
        .lines()
        .find(|line| line.starts_with(crate::replay::OPENAI_MODEL))
        .unwrap_or_else(|| panic!("no row: {stdout}"));
    assert!(row.contains(&format!("{cost:.4}")), "{row}\n{stdout}");
}

/// A run in which every item failed ends `failed`, and the API, the CLI's
/// table and each item say why: the error classes with their counts and
/// first messages.
#[tokio::test]
async fn a_run_whose_items_all_failed_is_failed_and_says_why() {
    let garbled = Behavior {
        failures: vec![FailureRule::always(FailureKind::Malformed)],
        ..Behavior::default()
    };
    let h = harness(FakeConfig::default().with_model("garbled", garbled), "").await;
    let untranslatable = ingest_span(
        &h.server,
        "opentelemetry.util.genai",
        "chat gpt-4o-mini",
        otel_attributes_with_unknown_param(),
    )
    .await;
    let plain = ingest_span(
        &h.server,
        "ai",
        "ai.generateText.doGenerate",
        vercel_attributes(json!({})),
    )
    .await;

    // From the CLI: one item cannot be translated, the other's answer is
    // garbled. A failed run fails the command, so scripts notice.
    let url = format!("{}/v1", h.fake.base_url());
    let (success, stdout, stderr) = replay_cli_status(
        &h.db(),
        &[
            "--target-url",
            &url,
            "--target-model",
            "garbled",
            "--ids",
            &format!("{untranslatable},{plain}"),
        ],
    )
    .await;
    assert!(!success, "a failed run exits non-zero: {stdout}\n{stderr}");
    let run = newest_run(&h.server).await;
    assert!(
        stderr.contains(&format!(
            "replay run {} failed",
            run["id"].as_str().expect("id")
        )),
        "{stderr}"
    );
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["progress"]["failed"], 2, "{run}");
    let errors = &run["summary"][0]["errors"];
    let classes: Vec<(&str, u64)> = errors
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["class"].as_str().expect("class"),
                e["count"].as_u64().expect("count"),
            )
        })
        .collect();
    let mut sorted = classes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [("malformed_response", 1), ("untranslatable", 1)],
        "{errors}"
    );
    for error in errors.as_array().expect("errors") {
        let message = error["first_message"].as_str().expect("message");
        match error["class"].as_str() {
            Some("untranslatable") => assert!(message.contains("custom_knob"), "{message}"),
            _ => assert!(!message.is_empty()),
        }
        let line = format!(
            "{} ×1: {}",
            error["class"].as_str().expect("class"),
            message.lines().next().expect("a line")
        );
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    assert!(stdout.contains("garbled failed items:"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.ends_with(" failed") && l.starts_with("run ")),
        "{stdout}"
    );
    let run_id = run["id"].as_str().expect("id");
    let items: Vec<Value> = crate::replay::all_results(&h.server, run_id)
        .await
        .iter()
        .flat_map(|g| g["replays"].as_array().expect("replays").clone())
        .collect();
    let mut item_classes: Vec<&str> = items
        .iter()
        .map(|i| i["error_class"].as_str().expect("class"))
        .collect();
    item_classes.sort();
    assert_eq!(item_classes, ["malformed_response", "untranslatable"]);

    // A run with an answer among its failures is done, with its failures.
    let run = start_replay(
        &h.server,
        json!({"targets": ["oai"], "ids": [untranslatable, plain]}),
    )
    .await;
    let run = wait_finished(&h.server, run["id"].as_str().expect("id")).await;
    assert_eq!(run["state"], "done", "{run}");
    assert_eq!(
        run["summary"][0]["errors"][0]["class"], "untranslatable",
        "{run}"
    );
    assert_eq!(run["summary"][0]["errors"][0]["count"], 1, "{run}");
}

/// An OTel GenAI chat span whose answer is a tool call; `with_tools` says
/// whether the instrumentation recorded the tool definitions.
pub fn tool_call_attributes(with_tools: bool) -> Value {
    let mut attributes = json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#,
        "gen_ai.output.messages": r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#,
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 7,
    });
    if with_tools {
        attributes["gen_ai.tool.definitions"] = json!(
            r#"[{"type":"function","name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]"#
        );
    }
    attributes
}

/// Issue 20: a call whose answer was a tool call but whose tool
/// definitions were not recorded is replayed without tools. The user is
/// told when the run is created (API answer, CLI stderr), each such item
/// and its result call are marked, the run's summary and notes count them
/// (API, CLI table, UI's data), and compare says so instead of a bare `-`.
#[tokio::test]
async fn calls_replayed_without_their_tools_are_flagged_from_creation_to_comparison() {
    let h = harness(FakeConfig::default(), "").await;
    let bare = ingest_span(
        &h.server,
        "opentelemetry.util.genai",
        "chat gpt-4o-mini",
        tool_call_attributes(false),
    )
    .await;
    let equipped = ingest_span(
        &h.server,
        "opentelemetry.util.genai",
        "chat gpt-4o-mini",
        tool_call_attributes(true),
    )
    .await;

    let created = start_replay(
        &h.server,
        json!({"targets": ["oai"], "ids": [bare, equipped]}),
    )
    .await;
    let warnings = created["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{created}");
    let warning = &warnings[0];
    assert_eq!(warning["kind"], "tools_missing");
    assert_eq!(
        (&warning["calls"], &warning["checked"], &warning["selected"]),
        (&json!(1), &json!(2), &json!(2))
    );
    let message = warning["message"].as_str().expect("message");
    assert!(
        message.starts_with("1 of the 2 selected calls will be sent without tools"),
        "{message}"
    );
    assert!(message.contains("gen_ai.tool.definitions"), "{message}");

    let run_id = created["id"].as_str().expect("id").to_owned();
    let run = wait_finished(&h.server, &run_id).await;
    assert_eq!(run["progress"]["done"], 2, "{run}");
    assert_eq!(run["summary"][0]["tools_missing"], 1, "{run}");
    let notes = run["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{run}");
    assert!(
        notes[0]
            .as_str()
            .expect("note")
            .starts_with("oai: 1 item was sent without tools"),
        "{run}"
    );

    // Each item says whether it went without tools, and so does its result call.
    let groups = crate::replay::all_results(&h.server, &run_id).await;
    for group in &groups {
        let original = group["original_call_id"].as_str().expect("original");
        let item = &group["replays"][0];
        let result = h
            .server
            .get_json(&format!(
                "/api/v1/calls/{}",
                item["result_call_id"].as_str().expect("result")
            ))
            .await;
        let missing = original == bare;
        assert_eq!(item["tools_missing"], missing, "{item}");
        assert_eq!(
            result["attributes"].get("replay.tools_missing"),
            missing.then_some(&json!(true)),
            "{result}"
        );
    }
    // What the provider got: tools for the equipped call only.
    let bodies = chat_bodies(&h.fake.requests());
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies.iter().filter(|b| b.contains_key("tools")).count(), 1);

    // compare counts them and says why, rather than leaving a `-`.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args(["compare", &run_id, "--db"])
        .arg(h.db())
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run reprise compare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let row = stdout
        .lines()
        .find(|line| line.starts_with("replayed without tools"))
        .unwrap_or_else(|| panic!("no row: {stdout}"));
    assert!(row.trim_end().ends_with("1 of 2"), "{row}");
    assert!(
        stdout.contains("oai: 1 of 2 items were replayed without tools"),
        "{stdout}"
    );

    // The CLI warns before it sends, and its table says it after.
    let url = format!("{}/v1", h.fake.base_url());
    let (stdout, stderr) = replay_cli_async(
        &h.db(),
        &[
            "--target-url",
            &url,
            "--target-model",
            crate::replay::OPENAI_MODEL,
            "--ids",
            &bare,
        ],
    )
    .await;
    assert!(
        stderr.contains("warning: 1 of the 1 selected calls will be sent without tools"),
        "{stderr}"
    );
    assert!(stdout.contains("1 item was sent without tools"), "{stdout}");
}

//! Comparing through the real interfaces: originals with known answers
//! ingested over OTLP/JSON into a real `reprise serve`, replayed against the
//! fake provider, then scored with the fake provider as the judge, through
//! the HTTP API and the `reprise compare` binary.
//!
//! The originals are built here rather than taken from the fixtures so the
//! expected counts are known: every original answer is about 100
//! characters, the candidate answers 300 characters, except on prompts
//! marked WORSE where it answers "No.". A judge that prefers the longer
//! answer therefore finds the candidate worse on exactly the WORSE items.

use std::path::Path;
use std::time::Duration;

use fake_provider::{Behavior, FakeConfig, FakeProvider, JudgeDecision, ReplyStyle, ScriptRule};
use serde_json::{Value, json};
use sqlx::Row as _;

use crate::calls_expected::settle;
use crate::replay::{
    Harness, harness_with, harness_with_args, list_calls, start_replay, wait_finished,
};
use crate::server::TestServer;

const CANDIDATE: &str = "cand-mixed";
const LONG_ANSWER_WORDS: usize = 50;
const UNPARSEABLE_RETRIES: u64 = 2;

fn judge_behavior(decision: JudgeDecision) -> Behavior {
    let mut behavior = Behavior::replying(ReplyStyle::Judge);
    behavior.judge.decision = decision;
    behavior.judge.failing_attempts = 1;
    behavior.judge.end_marker = Some("[End of Answer B]".to_owned());
    behavior
}

fn fake_config() -> FakeConfig {
    let mut candidate = Behavior::replying(ReplyStyle::Fixed);
    candidate.text = "Here is a thorough answer. ".repeat(LONG_ANSWER_WORDS / 5);
    candidate.script = vec![ScriptRule {
        contains: "WORSE".to_owned(),
        reply: ReplyStyle::Fixed,
        text: Some("No.".to_owned()),
    }];
    FakeConfig::default()
        .with_model(CANDIDATE, candidate)
        .with_model("judge-first", judge_behavior(JudgeDecision::PreferFirst))
        .with_model("judge-longer", judge_behavior(JudgeDecision::PreferLonger))
        .with_model("judge-tie", judge_behavior(JudgeDecision::Tie))
        .with_model(
            "judge-unparseable",
            judge_behavior(JudgeDecision::Unparseable),
        )
        .with_model(
            "judge-flaky",
            judge_behavior(JudgeDecision::UnparseableThenOk),
        )
        .with_model("judge-rubric", rubric_judge())
}

/// A rubric judge grading by which answer it is shown: the candidate's
/// thorough answer 9, an original 6, anything else ("No.") 2.
fn rubric_judge() -> Behavior {
    let grade =
        |score: u8, rationale: &str| json!({"score": score, "rationale": rationale}).to_string();
    let mut judge = Behavior::replying(ReplyStyle::Fixed);
    judge.text = grade(RUBRIC_SHORT, "Too short to help.");
    judge.script = vec![
        ScriptRule {
            contains: "Here is a thorough answer".to_owned(),
            reply: ReplyStyle::Fixed,
            text: Some(grade(RUBRIC_THOROUGH, "Thorough.")),
        },
        ScriptRule {
            contains: "Original answer number".to_owned(),
            reply: ReplyStyle::Fixed,
            text: Some(grade(RUBRIC_ORIGINAL, "Plain but correct.")),
        },
    ];
    judge
}

const RUBRIC_THOROUGH: u8 = 9;
const RUBRIC_ORIGINAL: u8 = 6;
const RUBRIC_SHORT: u8 = 2;

fn targets(fake: &FakeProvider) -> String {
    let mut toml = String::new();
    for (name, model) in [
        ("cand", CANDIDATE),
        ("judge-first", "judge-first"),
        ("judge-longer", "judge-longer"),
        ("judge-tie", "judge-tie"),
        ("judge-unparseable", "judge-unparseable"),
        ("judge-flaky", "judge-flaky"),
        ("judge-rubric", "judge-rubric"),
    ] {
        toml.push_str(&format!(
            "\n[targets.{name}]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"{model}\"\n",
            fake.base_url()
        ));
    }
    toml.push_str(&format!(
        "\n[compare]\nunparseable_retries = {UNPARSEABLE_RETRIES}\n"
    ));
    toml
}

fn attribute(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}

/// One OTLP span per prompt, each a chat call with its answer.
fn originals_otlp(prompts: &[String]) -> Value {
    let mut spans = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let input = json!([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]);
        let answer = format!(
            "Original answer number {i:02}: a plain reply of about one hundred characters to the question."
        );
        let output = json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]);
        let start = 1_790_000_000_000_000_000u64 + i as u64 * 1_000_000_000;
        spans.push(json!({
            "traceId": format!("{:032x}", 0xc0ffee00 + i),
            "spanId": format!("{:016x}", 0xbeef00 + i),
            "name": "chat orig-model",
            "kind": 3,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 400_000_000).to_string(),
            "attributes": [
                attribute("gen_ai.operation.name", json!({"stringValue": "chat"})),
                attribute("gen_ai.provider.name", json!({"stringValue": "openai"})),
                attribute("gen_ai.request.model", json!({"stringValue": "orig-model"})),
                attribute("gen_ai.response.model", json!({"stringValue": "orig-model"})),
                attribute("gen_ai.usage.input_tokens", json!({"intValue": "20"})),
                attribute("gen_ai.usage.output_tokens", json!({"intValue": "25"})),
                attribute("gen_ai.input.messages", json!({"stringValue": input.to_string()})),
                attribute("gen_ai.output.messages", json!({"stringValue": output.to_string()})),
            ],
            "status": {}
        }));
    }
    json!({"resourceSpans": [{
        "resource": {"attributes": [attribute("service.name", json!({"stringValue": "compare-test"}))]},
        "scopeSpans": [{"scope": {"name": "compare-test"}, "spans": spans}]
    }]})
}

/// `count` prompts; those whose index is in `worse` are marked WORSE.
fn prompts(count: usize, worse: &[usize]) -> Vec<String> {
    let mut prompts = Vec::new();
    for i in 0..count {
        let mark = if worse.contains(&i) { " WORSE" } else { "" };
        prompts.push(format!(
            "Question {i:02}{mark}: what should I know about topic {i}?"
        ));
    }
    prompts
}

/// Ingests the originals; returns (call id, prompt) pairs.
async fn ingest_originals(server: &TestServer, prompts: &[String]) -> Vec<(String, String)> {
    let response = reqwest::Client::new()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body(originals_otlp(prompts).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    settle(server).await;
    let mut ids = Vec::new();
    for call in list_calls(server).await {
        if call["source"] == "replay" {
            continue;
        }
        let id = call["id"].as_str().expect("id").to_owned();
        let full = server.get_json(&format!("/api/v1/calls/{id}")).await;
        let prompt = full["input_messages"][0]["parts"][0]["content"]
            .as_str()
            .expect("prompt")
            .to_owned();
        ids.push((id, prompt));
    }
    assert_eq!(ids.len(), prompts.len(), "one call per original span");
    ids
}

/// Ingests, replays against the candidate, and waits for the run.
async fn replayed_run(h: &Harness, count: usize, worse: &[usize]) -> (String, Vec<String>) {
    let originals = ingest_originals(&h.server, &prompts(count, worse)).await;
    let ids: Vec<&str> = originals.iter().map(|(id, _)| id.as_str()).collect();
    let run = start_replay(&h.server, json!({"targets": ["cand"], "ids": ids})).await;
    let run_id = run["id"].as_str().expect("run id").to_owned();
    let finished = wait_finished(&h.server, &run_id).await;
    assert_eq!(finished["state"], "done", "{finished}");
    let mut worse_ids = Vec::new();
    for (id, prompt) in &originals {
        if prompt.contains("WORSE") {
            worse_ids.push(id.clone());
        }
    }
    worse_ids.sort();
    (run_id, worse_ids)
}

fn chat_requests_for(fake: &FakeProvider, model: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions" && r.model.as_deref() == Some(model))
        .count()
}

async fn post_scoring(server: &TestServer, run_id: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/replays/{run_id}/comparison")))
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// Polls the comparison until its newest scoring is done.
async fn wait_scored(server: &TestServer, run_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let report = server
            .get_json(&format!("/api/v1/replays/{run_id}/comparison"))
            .await;
        if report["scoring"] == "done" {
            return report;
        }
        assert_ne!(report["scoring"], "failed", "{report}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "scoring never finished: {report}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn score_via_api(server: &TestServer, run_id: &str, body: Value) -> Value {
    let (status, started) = post_scoring(server, run_id, body).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["scoring"], "running");
    let report = wait_scored(server, run_id).await;
    assert_eq!(
        report["shown"]["scoring_id"], started["scoring_id"],
        "the newest scoring is shown"
    );
    report
}

/// Runs `reprise compare` without blocking the test's runtime, which also
/// serves the fake provider the CLI's judge calls.
async fn run_compare(db: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .arg("compare")
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run reprise compare")
}

fn stdout_of(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "reprise compare failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn judge_counts(report: &Value) -> (u64, u64, u64, u64) {
    let judge = &report["comparisons"][0]["judge"];
    (
        judge["wins"]["count"].as_u64().expect("wins"),
        judge["ties"]["count"].as_u64().expect("ties"),
        judge["losses"]["count"].as_u64().expect("losses"),
        judge["position_inconsistent"]["count"]
            .as_u64()
            .expect("inconsistent"),
    )
}

#[tokio::test]
async fn a_worse_candidate_is_found_worse_and_a_rescore_calls_only_the_new_judge() {
    let h = harness_with(fake_config(), targets).await;
    let worse = [1, 4, 7, 10];
    let (run_id, worse_ids) = replayed_run(&h, 12, &worse).await;
    let candidate_requests = chat_requests_for(&h.fake, CANDIDATE);
    assert_eq!(candidate_requests, 12);

    // A judge preferring the longer answer sees through the swap: the
    // candidate wins 8 and loses exactly the 4 WORSE items, in both orders.
    let report = score_via_api(&h.server, &run_id, json!({"judge": "judge-longer"})).await;
    assert_eq!(judge_counts(&report), (8, 0, 4, 0), "{report}");
    assert_eq!(report["counts"][0]["judged"], 12);
    assert_eq!(report["counts"][0]["unparseable"], 0);
    assert_eq!(
        chat_requests_for(&h.fake, "judge-longer"),
        24,
        "two orders per pair"
    );
    let mut losses: Vec<String> = report["regressions"]
        .as_array()
        .expect("regressions")
        .iter()
        .filter(|r| r["kind"] == "judge_loss")
        .map(|r| r["item_id"].as_str().expect("item").to_owned())
        .collect();
    losses.sort();
    assert_eq!(losses, worse_ids, "the judge's losses are the WORSE items");
    for regression in report["regressions"].as_array().expect("regressions") {
        if regression["kind"] == "judge_loss" {
            assert_eq!(regression["candidate"], "No.");
            assert!(
                regression["original"]
                    .as_str()
                    .expect("original")
                    .starts_with("Original answer")
            );
            assert_eq!(regression["rationale"], "This answer is more thorough.");
        }
    }
    // Every pair was scored for similarity too.
    assert_eq!(report["comparisons"][0]["similarity"]["n"], 12, "{report}");

    // Rescoring with a judge that always prefers the first answer: every
    // pair is a position-inconsistent tie, and the candidate is not called.
    let output = run_compare(
        &h.db(),
        &h.config,
        &[&run_id, "--judge", "judge-first", "--format", "json"],
    )
    .await;
    let cli_json: Value = serde_json::from_str(&stdout_of(&output)).expect("CLI JSON");
    assert_eq!(judge_counts(&cli_json), (0, 12, 0, 12), "{cli_json}");
    assert_eq!(chat_requests_for(&h.fake, CANDIDATE), candidate_requests);
    assert_eq!(chat_requests_for(&h.fake, "judge-first"), 24);
    assert_ne!(
        cli_json["shown"]["scoring_id"], report["shown"]["scoring_id"],
        "another judge is another scoring"
    );

    // The API shows the same newest scoring, byte for byte as JSON.
    let api_json = h
        .server
        .get_json(&format!("/api/v1/replays/{run_id}/comparison"))
        .await;
    assert_eq!(api_json, cli_json);
    // The older scoring is still there by id.
    let older_id = report["shown"]["scoring_id"].as_str().expect("id");
    let older = h
        .server
        .get_json(&format!(
            "/api/v1/replays/{run_id}/comparison?scoring={older_id}"
        ))
        .await;
    assert_eq!(judge_counts(&older), (8, 0, 4, 0));

    // Running compare again with the same judge scores nothing new.
    let again = run_compare(
        &h.db(),
        &h.config,
        &[&run_id, "--judge", "judge-first", "--format", "json"],
    )
    .await;
    let again_json: Value = serde_json::from_str(&stdout_of(&again)).expect("JSON");
    assert_eq!(again_json, cli_json);
    assert_eq!(
        chat_requests_for(&h.fake, "judge-first"),
        24,
        "nothing judged twice"
    );

    // The other formats show the same numbers.
    let table = stdout_of(&run_compare(&h.db(), &h.config, &[&run_id, "--no-score"]).await);
    assert!(table.contains("judge tie"), "{table}");
    assert!(table.contains("12/12"), "{table}");
    assert!(table.contains("cand"), "{table}");
    let markdown = stdout_of(
        &run_compare(
            &h.db(),
            &h.config,
            &[&run_id, "--no-score", "--format", "markdown"],
        )
        .await,
    );
    assert!(markdown.contains("| judge tie | 12/12"), "{markdown}");
    let html = stdout_of(
        &run_compare(
            &h.db(),
            &h.config,
            &[&run_id, "--no-score", "--format", "html"],
        )
        .await,
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<td>12/12"), "{html}");
    for external in ["<script", "<link", "src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "HTML must be self-contained: {external}"
        );
    }
}

/// Rubric mode through the API and the CLI: each answer is graded alone,
/// once, and the report pairs the grades item by item.
#[tokio::test]
async fn a_rubric_judge_grades_each_answer_alone_and_the_report_pairs_the_grades() {
    let h = harness_with(fake_config(), targets).await;
    let worse = [2, 5, 8];
    let (run_id, _) = replayed_run(&h, 9, &worse).await;

    let report = score_via_api(
        &h.server,
        &run_id,
        json!({"judge": "judge-rubric", "rubric": true}),
    )
    .await;
    assert_eq!(
        chat_requests_for(&h.fake, "judge-rubric"),
        18,
        "one grade per answer, original and candidate"
    );
    let rubric = &report["comparisons"][0]["rubric"];
    assert_eq!(rubric["n"], 9, "{report}");
    let mean = |side: &str| rubric[side]["mean"].as_f64().expect("mean");
    let good = (9 - worse.len()) as f64;
    let bad = worse.len() as f64;
    let thorough = f64::from(RUBRIC_THOROUGH);
    let (original, short) = (f64::from(RUBRIC_ORIGINAL), f64::from(RUBRIC_SHORT));
    assert_eq!(mean("original"), original);
    assert_eq!(mean("candidate"), (good * thorough + bad * short) / 9.0);
    let expected_difference = (good * (thorough - original) + bad * (short - original)) / 9.0;
    assert!(
        (mean("difference") - expected_difference).abs() < 1e-9,
        "{rubric}"
    );
    assert!(
        report["comparisons"][0]["judge"].is_null(),
        "rubric mode grades instead of comparing in pairs"
    );

    // The CLI reads the same scoring, and asks the judge nothing again.
    let output = run_compare(
        &h.db(),
        &h.config,
        &[
            &run_id,
            "--judge",
            "judge-rubric",
            "--rubric",
            "--format",
            "json",
        ],
    )
    .await;
    let cli_json: Value = serde_json::from_str(&stdout_of(&output)).expect("CLI JSON");
    assert_eq!(cli_json["comparisons"][0]["rubric"], *rubric);
    assert_eq!(chat_requests_for(&h.fake, "judge-rubric"), 18);
}

#[tokio::test]
async fn unparseable_verdicts_are_retried_then_recorded_not_guessed() {
    let h = harness_with(fake_config(), targets).await;
    let (run_id, _) = replayed_run(&h, 5, &[2]).await;

    let report = score_via_api(&h.server, &run_id, json!({"judge": "judge-unparseable"})).await;
    let counts = &report["counts"][0];
    assert_eq!(counts["items"], 5);
    assert_eq!(counts["judged"], 0, "no verdict is guessed: {report}");
    assert_eq!(counts["unparseable"], 5);
    assert_eq!(counts["judge_retries"], 5 * 2 * UNPARSEABLE_RETRIES);
    assert_eq!(
        chat_requests_for(&h.fake, "judge-unparseable") as u64,
        5 * 2 * (1 + UNPARSEABLE_RETRIES)
    );
    let judge = &report["comparisons"][0]["judge"];
    assert!(judge.is_null() || judge["n"] == 0, "{judge}");
    // The raw replies are stored with the item.
    let records =
        stored_records(&h.db(), report["shown"]["scoring_id"].as_str().expect("id")).await;
    assert_eq!(records.len(), 5);
    for record in &records {
        let first = &record["judge"]["candidate_as_a"];
        assert_eq!(first["status"], "unparseable");
        let replies = first["raw_replies"].as_array().expect("replies");
        assert_eq!(replies.len() as u64, 1 + UNPARSEABLE_RETRIES);
        assert!(replies[0].as_str().expect("text").contains("hard to say"));
        assert!(record["judge"]["judgement"].is_null());
    }

    // A judge that answers prose once and then a verdict resolves on retry.
    let report = score_via_api(&h.server, &run_id, json!({"judge": "judge-flaky"})).await;
    let counts = &report["counts"][0];
    assert_eq!(counts["judged"], 5, "{report}");
    assert_eq!(counts["unparseable"], 0);
    assert_eq!(counts["judge_retries"], 5 * 2);
    assert_eq!(chat_requests_for(&h.fake, "judge-flaky"), 5 * 2 * 2);
    // It then prefers the first answer: ties, flagged.
    assert_eq!(judge_counts(&report), (0, 5, 0, 5));
}

#[tokio::test]
async fn the_comparison_of_an_unknown_run_is_404_and_bad_requests_say_why() {
    let h = harness_with(fake_config(), targets).await;
    let response = reqwest::get(
        h.server
            .url("/api/v1/replays/01JD3T8Q3W9J5M6Z4X8Y2K7B1C/comparison"),
    )
    .await
    .expect("GET");
    assert_eq!(response.status(), 404);
    let (status, _) = post_scoring(&h.server, "01JD3T8Q3W9J5M6Z4X8Y2K7B1C", json!({})).await;
    assert_eq!(status, 404);

    let (run_id, _) = replayed_run(&h, 2, &[]).await;
    let (status, body) = post_scoring(&h.server, &run_id, json!({"judge": "nobody"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("nobody")
    );
    let (status, body) = post_scoring(&h.server, &run_id, json!({"judg": "judge-tie"})).await;
    assert_eq!(status, 400, "{body}");

    // Before any scoring the comparison says so; scores without a judge
    // still compare the answers.
    let before = h
        .server
        .get_json(&format!("/api/v1/replays/{run_id}/comparison"))
        .await;
    assert_eq!(before["scoring"], "none");
    let report = score_via_api(&h.server, &run_id, json!({})).await;
    assert_eq!(report["comparisons"][0]["n_items"], 2);
    assert!(report["comparisons"][0]["judge"].is_null());
    assert!(
        report["comparisons"][0]["similarity"]["mean"]
            .as_f64()
            .is_some(),
        "{report}"
    );
}

/// The stored records of a scoring, read from the database file.
async fn stored_records(db: &Path, scoring_id: &str) -> Vec<Value> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    let rows = sqlx::query(
        "SELECT record FROM comparison_items WHERE scoring = \
         (SELECT id FROM comparison_scorings WHERE scoring_id = ?) ORDER BY item",
    )
    .bind(scoring_id)
    .fetch_all(&pool)
    .await
    .expect("records");
    let mut records = Vec::new();
    for row in rows {
        let text: String = row.get("record");
        records.push(serde_json::from_str(&text).expect("record JSON"));
    }
    pool.close().await;
    records
}

/// A judge's reply and rationale quote what they judge; they are content,
/// redacted with the project's policy before the scored item is stored.
#[tokio::test]
async fn judge_replies_are_redacted_with_the_stores_policy() {
    const QUOTED: &str = "margaret.hamilton@apollo.example";
    let mut judge = Behavior::replying(ReplyStyle::Fixed);
    judge.text =
        json!({"score": 7, "rationale": format!("Cites {QUOTED} as its source.")}).to_string();
    let fake = fake_config().with_model("judge-quoting", judge);
    let extra = |fake: &FakeProvider| {
        format!(
            "{}\n[targets.judge-quoting]\nkind = \"openai\"\nbase_url = \"{}/v1\"\nmodel = \"judge-quoting\"\n",
            targets(fake),
            fake.base_url()
        )
    };
    let h = harness_with_args(fake, extra, |dir| {
        let policy = dir.join("redaction.toml");
        std::fs::write(&policy, "[default]\ndetectors = [\"secrets\", \"email\"]\n")
            .expect("policy");
        vec![
            "--redaction".to_owned(),
            policy.to_str().expect("path").to_owned(),
        ]
    })
    .await;
    let (run_id, _) = replayed_run(&h, 3, &[]).await;
    let report = score_via_api(
        &h.server,
        &run_id,
        json!({"judge": "judge-quoting", "rubric": true}),
    )
    .await;
    assert!(chat_requests_for(&h.fake, "judge-quoting") > 0, "{report}");
    let text = report.to_string();
    assert!(!text.contains(QUOTED), "{text}");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .args([
            "check",
            "--db",
            h.db().to_str().expect("path"),
            "--find",
            QUOTED,
        ])
        .output()
        .expect("reprise check");
    assert!(
        output.status.success(),
        "the judge's quote is stored: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

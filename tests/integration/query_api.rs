//! The query API through HTTP: raw records in, every filter, pagination
//! under concurrent inserts, full-text search, sorting, stats checked
//! against numbers computed here, export parsed back, and `reprise import`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::server::TestServer;

const T0: u64 = 1_780_000_000_000_000_000;

/// A raw OpenAI exchange with the given properties.
fn record(i: u64, service: &str, model: &str, duration_ms: f64, input: i64, output: i64) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": model, "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": format!("question number {i} about topic{}", i % 7)}]},
        "response": {"id": format!("chatcmpl-{i}"), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("answer {i}")}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}},
        "start_time": T0 + i * 1_000_000_000,
        "duration_ms": duration_ms,
        "service": service,
        "session_id": format!("s{}", i % 4),
        "user_id": format!("u{}", i % 3),
        "tags": if i.is_multiple_of(2) { json!(["even"]) } else { json!(["odd"]) },
        "metadata": {"tenant": if i.is_multiple_of(5) { "acme" } else { "other" }},
        "idempotency_key": format!("record-{i}"),
    })
}

/// A call's start, which the API writes as a decimal string.
fn start_of(call: &Value) -> u64 {
    call["start_time_unix_nano"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("start_time_unix_nano is a decimal string: {call}"))
}

async fn post(server: &TestServer, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(body)
        .send()
        .await
        .expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(server.url(path)).await.expect("get");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// Every call id matching `query`, following cursors.
async fn all_ids(server: &TestServer, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/calls?limit=7&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(server, &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        for call in page["calls"].as_array().expect("calls") {
            ids.push(call["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

struct Loaded {
    server: TestServer,
    records: Vec<Value>,
    ids: Vec<String>,
}

/// A server with 40 varied records.
async fn loaded() -> Loaded {
    let server = TestServer::start().await;
    let models = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku"];
    let records: Vec<Value> = (0..40u64)
        .map(|i| {
            let mut r = record(i, if i % 2 == 0 { "bot" } else { "search" }, models[(i % 3) as usize], 100.0 + i as f64 * 10.0, 10 + i as i64, 5 + (i as i64 % 4));
            if i % 9 == 0 {
                r["status"] = json!("error");
                r["error"] = json!({"type": "rate_limit", "message": "slow down"});
            }
            if models[(i % 3) as usize].starts_with("claude") {
                r["provider"] = json!("anthropic");
                r["request"] = json!({"model": "claude-3-5-haiku", "max_tokens": 64, "system": "You are terse.",
                    "messages": [{"role": "user", "content": format!("question number {i} about topic{}", i % 7)}]});
                r["response"] = json!({"id": format!("msg_{i}"), "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
                    "content": [{"type": "text", "text": format!("answer {i}")}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": 10 + i, "output_tokens": 5 + (i % 4)}});
            }
            r
        })
        .collect();
    let (status, reply) = post(&server, &json!(records)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 40);
    let ids = reply["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().expect("id").to_owned())
        .collect();
    Loaded {
        server,
        records,
        ids,
    }
}

fn expect_ids(loaded: &Loaded, keep: impl Fn(usize, &Value) -> bool) -> BTreeSet<String> {
    loaded
        .records
        .iter()
        .enumerate()
        .filter(|(i, r)| keep(*i, r))
        .map(|(i, _)| loaded.ids[i].clone())
        .collect()
}

#[tokio::test]
async fn every_filter_selects_exactly_the_matching_calls() {
    let loaded = loaded().await;
    let s = &loaded.server;
    let model_of = |r: &Value| r["request"]["model"].as_str().unwrap_or("").to_owned();
    let window = format!(
        "since={}&until={}",
        T0 + 10_000_000_000,
        T0 + 20_000_000_000
    );
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        (
            "service=bot",
            expect_ids(&loaded, |_, r| r["service"] == "bot"),
        ),
        (
            "provider=anthropic",
            expect_ids(&loaded, |_, r| r["provider"] == "anthropic"),
        ),
        (
            "model=gpt-4o",
            expect_ids(&loaded, |_, r| model_of(r) == "gpt-4o"),
        ),
        (
            "model=claude-3-5-haiku-20241022",
            expect_ids(&loaded, |_, r| model_of(r) == "claude-3-5-haiku"),
        ),
        ("status=error", expect_ids(&loaded, |i, _| i % 9 == 0)),
        ("status=ok", expect_ids(&loaded, |i, _| i % 9 != 0)),
        ("session_id=s1", expect_ids(&loaded, |i, _| i % 4 == 1)),
        ("user_id=u2", expect_ids(&loaded, |i, _| i % 3 == 2)),
        ("tag=even", expect_ids(&loaded, |i, _| i % 2 == 0)),
        ("attr.tenant=acme", expect_ids(&loaded, |i, _| i % 5 == 0)),
        (
            "min_duration_ms=300&max_duration_ms=400",
            expect_ids(&loaded, |i, _| (20..=30).contains(&i)),
        ),
        (
            "min_tokens=40",
            expect_ids(&loaded, |i, _| 15 + i + (i % 4) >= 40),
        ),
        (
            "max_tokens=20",
            expect_ids(&loaded, |i, _| 15 + i + (i % 4) <= 20),
        ),
        ("source=raw", expect_ids(&loaded, |_, _| true)),
        ("source=otlp", BTreeSet::new()),
        (
            window.as_str(),
            expect_ids(&loaded, |i, _| (10..20).contains(&i)),
        ),
        ("service=bot&tag=odd", BTreeSet::new()),
        ("q=topic3", expect_ids(&loaded, |i, _| i % 7 == 3)),
        ("q=answer%2012", expect_ids(&loaded, |i, _| i == 12)),
        ("q=topi*", expect_ids(&loaded, |_, _| true)),
    ];
    for (query, expected) in cases {
        let got: BTreeSet<String> = all_ids(s, query).await.into_iter().collect();
        assert_eq!(got, expected, "filter {query}");
    }
}

#[tokio::test]
async fn bad_parameters_name_the_parameter() {
    let server = TestServer::start().await;
    for (query, name) in [
        ("status=maybe", "status"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("cursor=garbage", "cursor"),
        ("sort=price", "sort"),
        ("min_tokens=many", "min_tokens"),
        ("trace_id=xyz", "trace_id"),
        ("modle=gpt", "modle"),
    ] {
        let (status, body) = get(&server, &format!("/api/v1/calls?{query}")).await;
        assert_eq!(status, 400, "{query}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(name), "{query}: {message}");
        assert!(body["error"]["code"].is_string());
    }
    let (status, body) = get(&server, "/api/v1/calls/not-an-id").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(&server, "/api/v1/calls/01JD3T8Q3W9J5M6Z4X8Y2K7B1C").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn pages_stay_stable_while_calls_are_inserted() {
    let loaded = loaded().await;
    let s = &loaded.server;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut extra = 100u64;
    loop {
        let mut path = "/api/v1/calls?limit=6".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (_, page) = get(s, &path).await;
        for call in page["calls"].as_array().expect("calls") {
            seen.push(call["id"].as_str().expect("id").to_owned());
        }
        // Between pages: one call newer than everything, one older.
        for start in [T0 + 1_000 * 1_000_000_000 + extra, T0 - extra] {
            let mut r = record(extra, "late", "gpt-4o", 1.0, 1, 1);
            r["start_time"] = json!(start);
            r["idempotency_key"] = json!(format!("late-{start}"));
            post(s, &r).await;
            extra += 1;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no call is shown twice");
    for id in &loaded.ids {
        assert!(
            unique.contains(id),
            "call {id} that existed before paging was shown"
        );
    }
}

#[tokio::test]
async fn sorting_by_latency_tokens_and_cost_pages_in_order() {
    let loaded = loaded().await;
    let s = &loaded.server;
    for (sort, field) in [
        ("latency", "duration_ms"),
        ("tokens", "tokens"),
        ("cost", "cost_usd"),
    ] {
        for order in ["asc", "desc"] {
            let mut values = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/api/v1/calls?limit=9&sort={sort}&order={order}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let (status, page) = get(s, &path).await;
                assert_eq!(status, 200, "{page}");
                for call in page["calls"].as_array().expect("calls") {
                    let value = match field {
                        "tokens" => {
                            call["usage"]["input_tokens"].as_f64().unwrap_or(0.0)
                                + call["usage"]["output_tokens"].as_f64().unwrap_or(0.0)
                        }
                        other => call[other].as_f64().unwrap_or(-1.0),
                    };
                    values.push(value);
                }
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            assert_eq!(values.len(), 40, "{sort} {order}");
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).expect("numbers"));
            if order == "desc" {
                sorted.reverse();
            }
            assert_eq!(values, sorted, "{sort} {order}");
        }
    }
    // A cursor from one sort is refused by another.
    let (_, page) = get(s, "/api/v1/calls?limit=5&sort=cost").await;
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (status, _) = get(s, &format!("/api/v1/calls?cursor={cursor}")).await;
    assert_eq!(status, 400);
}

/// Nearest-rank percentile, computed independently of the server.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

#[tokio::test]
async fn stats_match_numbers_computed_here() {
    let loaded = loaded().await;
    let (status, stats) = get(&loaded.server, "/api/v1/stats?group_by=model").await;
    assert_eq!(status, 200, "{stats}");
    let groups = stats["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 3);
    for group in groups {
        let model = group["key"].as_str().expect("key");
        let members: Vec<(usize, &Value)> = loaded
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r["request"]["model"] == model)
            .collect();
        assert_eq!(group["count"], members.len(), "{model}");
        let errors = members.iter().filter(|(i, _)| i % 9 == 0).count();
        assert_eq!(group["errors"], errors, "{model}");
        let input: u64 = members.iter().map(|(i, _)| 10 + *i as u64).sum();
        assert_eq!(group["input_tokens"], input, "{model}");
        let mut latencies: Vec<f64> = members
            .iter()
            .map(|(i, _)| 100.0 + *i as f64 * 10.0)
            .collect();
        latencies.sort_by(|a, b| a.partial_cmp(b).expect("numbers"));
        for (q, name) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
            let want = nearest_rank(&latencies, q);
            let got = group["latency_ms"][name].as_f64().expect("percentile");
            assert!(
                (got - want).abs() / want < 0.02,
                "{model} {name}: {got} vs {want}"
            );
        }
        let cost = group["cost_usd"].as_f64().expect("cost");
        assert!(cost > 0.0, "{model} is in the price table");
    }
    let (_, by_day) = get(&loaded.server, "/api/v1/stats?group_by=day&service=bot").await;
    let total: u64 = by_day["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(total, 20);
    let (status, _) = get(&loaded.server, "/api/v1/stats?group_by=colour").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn export_streams_every_call_and_parses_back() {
    let loaded = loaded().await;
    let text = reqwest::get(
        loaded
            .server
            .url("/api/v1/export?format=jsonl&service=search"),
    )
    .await
    .expect("export")
    .text()
    .await
    .expect("body");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 20);
    let (_, one) = get(
        &loaded.server,
        &format!("/api/v1/calls/{}", lines[0]["id"].as_str().expect("id")),
    )
    .await;
    assert_eq!(
        lines[0], one,
        "an exported line is the call as the API returns it"
    );
    let starts: Vec<u64> = lines.iter().map(start_of).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    let text = reqwest::get(
        loaded
            .server
            .url("/api/v1/export?format=openai-chat&provider=openai&status=ok"),
    )
    .await
    .expect("export")
    .text()
    .await
    .expect("body");
    let examples: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(!examples.is_empty());
    for example in &examples {
        let messages = example["messages"].as_array().expect("messages");
        assert_eq!(messages[0]["role"], "system");
        assert_eq!(messages.last().expect("last")["role"], "assistant");
        assert!(
            messages.last().expect("last")["content"]
                .as_str()
                .expect("text")
                .starts_with("answer ")
        );
    }
}

#[tokio::test]
async fn records_are_validated_one_by_one_and_resending_is_harmless() {
    let server = TestServer::start().await;
    let good = record(1, "bot", "gpt-4o", 10.0, 1, 1);
    let bad = json!({"request": {"model": "x", "messages": []}, "status": "maybe"});
    let (status, reply) = post(&server, &json!([good, bad, "nope"])).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 1);
    let rejected = reply["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["index"], 1);
    assert!(
        rejected[0]["error"]
            .as_str()
            .expect("error")
            .contains("status")
    );
    let (status, again) = post(&server, &good).await;
    assert_eq!(status, 200);
    assert_eq!(again["ids"][0], reply["ids"][0]);
    assert_eq!(all_ids(&server, "").await.len(), 1, "stored once");
    let (status, body) = post(&server, &json!([bad])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_records");
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn reprise_import_reports_bad_lines_and_is_safe_to_rerun() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("import.db");
    let file = dir.path().join("records.jsonl");
    let mut lines: Vec<String> = (0..30)
        .map(|i| record(i, "imported", "gpt-4o", 5.0, 3, 2).to_string())
        .collect();
    lines.insert(4, "{not json".into());
    lines.insert(
        10,
        json!({"request": {"messages": []}, "tags": "x"}).to_string(),
    );
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
            .args(["import"])
            .arg(&file)
            .arg("--db")
            .arg(&db)
            .output()
            .expect("run import")
    };
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        !first.status.success(),
        "bad lines make the exit code non-zero"
    );
    assert!(stderr.contains("line 5:"), "{stderr}");
    assert!(
        stderr.contains("line 11:") && stderr.contains("tags"),
        "{stderr}"
    );
    assert!(stderr.contains("30 stored"), "{stderr}");
    let second = run();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("0 stored, 30 already stored"), "{stderr}");
    let server = TestServer::start_on(&db, &[]).await;
    assert_eq!(all_ids(&server, "service=imported").await.len(), 30);
}

#[tokio::test]
async fn a_session_lists_its_calls_in_order_with_totals() {
    let loaded = loaded().await;
    let (status, session) = get(&loaded.server, "/api/v1/sessions/s1?limit=4").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["totals"]["count"], 10);
    let expected_input: u64 = (0..40u64).filter(|i| i % 4 == 1).map(|i| 10 + i).sum();
    assert_eq!(session["totals"]["input_tokens"], expected_input);
    let calls = session["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 4);
    assert!(session["next_cursor"].is_string());
    let starts: Vec<u64> = calls.iter().map(start_of).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let (status, _) = get(&loaded.server, "/api/v1/sessions/nobody").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_trace_is_a_span_tree_with_its_calls() {
    use crate::generate::{self, hex, string_attr};
    use prost::Message as _;
    let server = TestServer::start().await;
    let root = generate::span("POST /chat");
    let mut child = generate::span("chat gpt-4o");
    child.trace_id = root.trace_id.clone();
    child.parent_span_id = root.span_id.clone();
    child.attributes = vec![
        string_attr("gen_ai.operation.name", "chat"),
        string_attr("gen_ai.provider.name", "openai"),
        string_attr("gen_ai.request.model", "gpt-4o"),
        string_attr(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"hello tree"}]}]"#,
        ),
    ];
    let trace_id = hex(&root.trace_id);
    let (root_id, child_id) = (hex(&root.span_id), hex(&child.span_id));
    server
        .post_protobuf(
            "/v1/traces",
            generate::request(vec![child, root]).encode_to_vec(),
        )
        .await;
    server.derived().await;
    let (status, trace) = get(&server, &format!("/api/v1/traces/{trace_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(trace["roots"], json!([root_id]));
    let spans = trace["spans"].as_array().expect("spans");
    let root_span = spans
        .iter()
        .find(|s| s["span_id"] == root_id.as_str())
        .expect("root");
    assert_eq!(root_span["children"], json!([child_id]));
    assert!(root_span["call_id"].is_null());
    let child_span = spans
        .iter()
        .find(|s| s["span_id"] == child_id.as_str())
        .expect("child");
    let calls = trace["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(child_span["call_id"], calls[0]["id"]);
    assert_eq!(calls[0]["request_model"], "gpt-4o");
}

#[tokio::test]
async fn costs_are_computed_at_ingest_and_recomputed_with_new_prices() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("costs.db");
    let prices = dir.path().join("prices.toml");
    let write_prices = |input: f64| {
        std::fs::write(
            &prices,
            format!("[[models]]\nname = \"tiny\"\ninput = {input}\noutput = 10.0\n"),
        )
        .expect("write prices");
    };
    write_prices(1.0);
    let prices_arg = prices.to_str().expect("utf-8 path").to_owned();
    let mut server = TestServer::start_on(&db, &["--prices", &prices_arg]).await;
    // 1,000,000 input and 100,000 output tokens: 1.0 + 1.0 = $2.00.
    let (_, reply) = post(&server, &record(1, "bot", "tiny", 5.0, 1_000_000, 100_000)).await;
    let id = reply["ids"][0].as_str().expect("id").to_owned();
    let (_, call) = get(&server, &format!("/api/v1/calls/{id}")).await;
    assert!(
        (call["cost_usd"].as_f64().expect("cost") - 2.0).abs() < 1e-9,
        "{call}"
    );
    server.stop().await;

    // Input price doubled: 2.0 + 1.0 = $3.00 after recomputing.
    write_prices(2.0);
    let server = TestServer::start_on(&db, &["--prices", &prices_arg]).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/costs/recompute?service=bot"))
        .send()
        .await
        .expect("recompute");
    let result: Value = response.json().await.expect("JSON");
    assert_eq!(result, json!({"examined": 1, "updated": 1}));
    let (_, call) = get(&server, &format!("/api/v1/calls/{id}")).await;
    assert!(
        (call["cost_usd"].as_f64().expect("cost") - 3.0).abs() < 1e-9,
        "{call}"
    );
}

/// Checks that stats answered from the daily rollups equal the same stats
/// computed from the calls themselves: `min_tokens=0` matches every call
/// and is not a rollup column, so with it the server scans the calls.
pub async fn assert_rollups_agree_with_a_scan(server: &TestServer, queries: &[String]) {
    for query in queries {
        let (status, rolled) = get(server, &format!("/api/v1/stats?{query}")).await;
        assert_eq!(status, 200, "{query}: {rolled}");
        let (status, scanned) = get(server, &format!("/api/v1/stats?{query}&min_tokens=0")).await;
        assert_eq!(status, 200, "{query}: {scanned}");
        let (rolled, scanned) = (&rolled["groups"], &scanned["groups"]);
        assert_eq!(
            rolled.as_array().map(Vec::len),
            scanned.as_array().map(Vec::len),
            "{query}: {rolled} vs {scanned}"
        );
        for (a, b) in rolled
            .as_array()
            .expect("groups")
            .iter()
            .zip(scanned.as_array().expect("groups"))
        {
            // Sums of costs may round differently in another order.
            let cost = |g: &Value| g["cost_usd"].as_f64().expect("cost");
            assert!(
                (cost(a) - cost(b)).abs() <= 1e-9 * cost(b).abs().max(1.0),
                "{query}: {a} vs {b}"
            );
            let without_cost = |g: &Value| {
                let mut g = g.clone();
                g["cost_usd"] = Value::Null;
                g
            };
            assert_eq!(without_cost(a), without_cost(b), "{query}");
        }
    }
}

#[tokio::test]
async fn stats_from_daily_rollups_equal_stats_from_the_calls() {
    const DAY: u64 = 86_400_000_000_000;
    const HOUR: u64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("rollups.db");
    let prices = dir.path().join("prices.toml");
    let write_prices = |input: f64| {
        let text = format!(
            "[[models]]\nname = \"gpt-4o\"\ninput = {input}\noutput = 10.0\n\
             [[models]]\nname = \"gpt-4o-mini\"\ninput = 0.15\noutput = 0.6\n"
        );
        std::fs::write(&prices, text).expect("write prices");
    };
    write_prices(2.5);
    let prices_arg = prices.to_str().expect("utf-8 path").to_owned();
    let mut server = TestServer::start_on(&db, &["--prices", &prices_arg]).await;
    // 120 calls, one every 53 minutes from the start of a day: four and a
    // half days, with calls of unpriced models, errors and missing TTFTs.
    let day0 = T0 / DAY * DAY;
    let models = ["gpt-4o", "gpt-4o-mini", "local-llama"];
    let records: Vec<Value> = (0..120u64)
        .map(|i| {
            let service = ["bot", "search", "batch"][(i % 3) as usize];
            let model = models[(i * 7 % 3) as usize];
            let mut r = record(
                i,
                service,
                model,
                80.0 + (i * 37 % 900) as f64,
                10 + i as i64,
                3 + i as i64 % 11,
            );
            r["start_time"] = json!(day0 + i * 53 * 60_000_000_000);
            if i % 4 != 0 {
                r["ttft_ms"] = json!(20.0 + (i * 13 % 200) as f64);
            }
            if i % 10 == 3 {
                r["status"] = json!("error");
                r["error"] = json!({"type": "timeout"});
            }
            if i % 17 == 5 {
                r["provider"] = json!("vllm");
            }
            r
        })
        .collect();
    let (status, reply) = post(&server, &json!(records)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["accepted"], 120);

    let mut queries = Vec::new();
    let ranges = [
        String::new(),
        format!("&since={}", day0 + DAY + 5 * HOUR),
        format!("&until={}", day0 + 3 * DAY + 7 * HOUR),
        format!("&since={}&until={}", day0 + DAY, day0 + 3 * DAY),
        format!("&since={}&until={}", day0 + 2 * HOUR, day0 + 4 * DAY + HOUR),
        format!(
            "&since={}&until={}",
            day0 + DAY + HOUR,
            day0 + DAY + 9 * HOUR
        ),
    ];
    for group_by in ["model", "provider", "service", "day", "none"] {
        for filter in [
            "",
            "&service=bot",
            "&model=gpt-4o",
            "&status=error",
            "&source=raw",
            "&provider=vllm",
        ] {
            for range in &ranges {
                queries.push(format!("group_by={group_by}{filter}{range}"));
            }
        }
    }
    assert_rollups_agree_with_a_scan(&server, &queries).await;
    let (_, all) = get(&server, "/api/v1/stats?group_by=none").await;
    assert_eq!(all["groups"][0]["count"], 120);
    let cost_before = all["groups"][0]["cost_usd"].as_f64().expect("cost");
    server.stop().await;

    // Repricing updates stored calls: the rollups follow.
    write_prices(5.0);
    let server = TestServer::start_on(&db, &["--prices", &prices_arg]).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/costs/recompute?model=gpt-4o"))
        .send()
        .await
        .expect("recompute");
    assert_eq!(response.status(), 200);
    let (_, all) = get(&server, "/api/v1/stats?group_by=none").await;
    assert!(
        all["groups"][0]["cost_usd"].as_f64().expect("cost") > cost_before,
        "{all}"
    );
    assert_rollups_agree_with_a_scan(&server, &queries).await;
}

#[tokio::test]
async fn a_store_written_before_the_rollups_gets_them_on_upgrade() {
    const HOUR: u64 = 3_600_000_000_000;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("old.db");
    let mut server = TestServer::start_on(&db, &[]).await;
    let models = ["gpt-4o", "gpt-4o-mini"];
    let records: Vec<Value> = (0..60u64)
        .map(|i| {
            let model = models[(i % 2) as usize];
            let mut r = record(
                i,
                "bot",
                model,
                50.0 + (i * 41 % 700) as f64,
                10 + i as i64,
                7,
            );
            r["start_time"] = json!(T0 + i * 5 * HOUR);
            r["ttft_ms"] = json!(10.0 + i as f64);
            r
        })
        .collect();
    let (status, reply) = post(&server, &json!(records)).await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;

    // Take the file back to the schema before migration 0007, calls and
    // all, as an older reprise left it.
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open db");
    for statement in [
        "DROP TRIGGER calls_rollup_insert",
        "DROP TRIGGER calls_rollup_delete",
        "DROP TRIGGER calls_rollup_update_before",
        "DROP TRIGGER calls_rollup_update_after",
        "DROP VIEW call_contributions",
        "DROP VIEW call_rollup_changes",
        "DROP TABLE call_rollups",
        "DELETE FROM _sqlx_migrations WHERE version = 7",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    pool.close().await;

    let server = TestServer::start_on(&db, &[]).await;
    let (_, all) = get(&server, "/api/v1/stats?group_by=none").await;
    assert_eq!(all["groups"][0]["count"], 60, "{all}");
    let queries = ["model", "day", "none"].map(|g| format!("group_by={g}"));
    assert_rollups_agree_with_a_scan(&server, &queries).await;
}

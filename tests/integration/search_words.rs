//! Issue 20: ordinary words with punctuation (`gpt-4o`, `e-mail`, `don't`,
//! `alpha.apples`) answered 400 "is not a valid search", because the index
//! cannot run the phrases SQLite makes of them. They now match every call
//! holding all of their tokens, in the listing, stats and export alike.

use serde_json::{Value, json};

use crate::server::TestServer;

const T0: u64 = 1_780_000_000_000_000_000;

fn record(i: u64, question: &str, answer: &str) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]},
        "response": {"id": format!("chatcmpl-w{i}"), "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5}},
        "start_time": T0 + i * 1_000_000_000,
        "idempotency_key": format!("words-{i}"),
    })
}

/// Calls whose text holds the words of the searches below, and ones that
/// hold only some of their tokens.
async fn server_with_words() -> (TestServer, Vec<String>) {
    let server = TestServer::start().await;
    let records = json!([
        record(0, "Is gpt-4o better at maths?", "It depends."),
        record(1, "Send me an e-mail please", "Don't worry, I will."),
        record(2, "Compare alpha.apples with beta.pears", "Apples win."),
        record(
            3,
            "What is gpt-3?",
            "An older model with 4o parameters, see e.g. a mail."
        ),
        record(4, "Don't", "t"),
    ]);
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(&records)
        .send()
        .await
        .expect("post");
    let reply: Value = response.json().await.expect("JSON");
    let ids = reply["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect();
    (server, ids)
}

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let response = reqwest::get(server.url(path)).await.expect("get");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn q(words: &str) -> String {
    form_urlencoded::byte_serialize(words.as_bytes()).collect()
}

async fn listed(server: &TestServer, words: &str) -> Vec<String> {
    let (status, body) = get(server, &format!("/api/v1/calls?q={}", q(words))).await;
    assert_eq!(status, 200, "q={words}: {body}");
    let page: Value = serde_json::from_str(&body).expect("JSON");
    let mut ids: Vec<String> = page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn pick(ids: &[String], which: &[usize]) -> Vec<String> {
    let mut picked: Vec<String> = which.iter().map(|&i| ids[i].clone()).collect();
    picked.sort();
    picked
}

#[tokio::test]
async fn punctuated_words_match_in_the_listing() {
    let (server, ids) = server_with_words().await;
    // Call 3 holds `gpt` and `4o` apart: the index keeps no positions, so
    // it matches too, as the README says (every word must appear).
    assert_eq!(listed(&server, "gpt-4o").await, pick(&ids, &[0, 3]));
    assert_eq!(listed(&server, "e-mail").await, pick(&ids, &[1, 3]));
    assert_eq!(listed(&server, "don't").await, pick(&ids, &[1, 4]));
    assert_eq!(listed(&server, "alpha.apples").await, pick(&ids, &[2]));
    assert_eq!(listed(&server, "gpt-4o maths").await, pick(&ids, &[0]));
    assert_eq!(listed(&server, "alpha.app*").await, pick(&ids, &[2]));
}

#[tokio::test]
async fn punctuated_words_match_in_stats_and_export() {
    let (server, ids) = server_with_words().await;
    let (status, body) = get(
        &server,
        &format!("/api/v1/stats?group_by=none&q={}", q("gpt-4o")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stats: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(stats["groups"][0]["count"], 2, "{stats}");

    let (status, body) = get(&server, &format!("/api/v1/export?q={}", q("e-mail"))).await;
    assert_eq!(status, 200, "{body}");
    let mut exported: Vec<String> = body
        .lines()
        .map(|line| {
            let call: Value = serde_json::from_str(line).expect("JSON line");
            call["id"].as_str().expect("id").to_owned()
        })
        .collect();
    exported.sort();
    assert_eq!(exported, pick(&ids, &[1, 3]));
}

#[tokio::test]
async fn what_search_cannot_do_is_a_clear_400() {
    let (server, _) = server_with_words().await;
    for (words, says) in [
        ("\"gpt-4o better\"", "exact phrase"),
        ("gp*4o", "end of a word"),
        ("gpt OR claude", "no OR"),
        ("--", "no words"),
    ] {
        for endpoint in ["calls?", "stats?group_by=none&", "export?"] {
            let (status, body) = get(&server, &format!("/api/v1/{endpoint}q={}", q(words))).await;
            assert_eq!(status, 400, "{endpoint} q={words}: {body}");
            let error: Value = serde_json::from_str(&body).expect("JSON");
            let message = error["error"]["message"].as_str().expect("message");
            assert!(message.contains(says), "q={words}: {message}");
        }
    }
}

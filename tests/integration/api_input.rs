//! Bad input on the JSON API gets the answer the OTLP routes give: gzip
//! bodies are read, other encodings refused with 415, a NUL in a search is
//! a 400, and an export whose search the listing refuses is refused before
//! its status line, not answered 200 with nothing in it.

use std::io::Write as _;

use serde_json::{Value, json};

use crate::server::TestServer;

fn record(marker: &str) -> Value {
    json!({
        "provider": "openai",
        "request": {"model": "gpt-4o", "messages": [
            {"role": "user", "content": format!("question about {marker}")}]},
        "response": {"id": format!("chatcmpl-{marker}"), "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "an answer"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}},
        "start_time": 1_765_000_000_000_000_000u64,
        "duration_ms": 12.5,
        "idempotency_key": marker,
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

async fn post_records(server: &TestServer, encoding: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .header("content-type", "application/json");
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.body(body).send().await.expect("post");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn gzip_records_are_stored_and_other_encodings_are_415() {
    let server = TestServer::start().await;
    let body = serde_json::to_vec(&record("zipped")).expect("JSON");
    let (status, answer) = post_records(&server, Some("gzip"), gzip(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let id = answer["ids"][0].as_str().expect("id");
    let call = server.get_json(&format!("/api/v1/calls/{id}")).await;
    assert_eq!(call["request_model"], "gpt-4o");

    let (status, answer) = post_records(&server, Some("br"), body.clone()).await;
    assert_eq!(status, 415, "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("br"), "{message}");

    // Replay requests are read the same way.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/replays"))
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(b"{}".to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn a_nul_in_a_search_is_400() {
    let server = TestServer::start().await;
    for path in [
        "/api/v1/calls?q=hello%00world",
        "/api/v1/stats?q=%00",
        "/api/v1/export?q=a%00",
        "/api/v1/calls?service=x%00",
    ] {
        let response = reqwest::get(server.url(path)).await.expect("get");
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.expect("JSON");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("NUL"), "{path}: {message}");
    }
}

#[tokio::test]
async fn export_answers_a_search_as_the_listing_does() {
    let server = TestServer::start().await;
    let body = serde_json::to_vec(&json!([record("gpt-4o"), record("e-mail")])).expect("JSON");
    assert_eq!(post_records(&server, None, body).await.0, 200);
    // Model names and hyphenated words: whatever the listing says of each
    // search, the export says the same, before its status line.
    for q in ["gpt-4o", "e-mail", "alpha.apples", "don't", "question"] {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", q)
            .finish();
        let listing = reqwest::get(server.url(&format!("/api/v1/calls?{query}")))
            .await
            .expect("list");
        let listing_status = listing.status().as_u16();
        let listing_body: Value = listing.json().await.expect("JSON");
        let export = reqwest::get(server.url(&format!("/api/v1/export?{query}")))
            .await
            .expect("export");
        assert_eq!(export.status().as_u16(), listing_status, "q={q}");
        let text = export.text().await.expect("body");
        if listing_status == 200 {
            let exported = text.lines().filter(|line| !line.is_empty()).count();
            let listed = listing_body["calls"].as_array().expect("calls").len();
            assert_eq!(exported, listed, "q={q}");
        } else {
            let refused: Value = serde_json::from_str(&text).expect("a JSON error");
            assert_eq!(refused["error"], listing_body["error"], "q={q}");
        }
    }
}

//! Issue 20: a raw record without a start time got its id from the time it
//! arrived, so re-posting it or importing a file twice stored it twice. Its
//! id now comes from its idempotency key or its content alone.

use serde_json::{Value, json};

use crate::server::TestServer;

/// A raw OpenAI exchange with no start or end time.
fn timeless_record(i: u64, key: Option<&str>) -> Value {
    let mut record = json!({
        "provider": "openai",
        "request": {"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": format!("timeless question {i}")}]},
        "response": {"id": format!("chatcmpl-t{i}"), "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("timeless answer {i}")}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3}},
        "duration_ms": 250.0,
        "service": "timeless",
    });
    if let Some(key) = key {
        record["idempotency_key"] = json!(key);
    }
    record
}

async fn post(server: &TestServer, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/calls"))
        .json(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn stored_ids(server: &TestServer) -> Vec<String> {
    let page = server
        .get_json("/api/v1/calls?service=timeless&limit=1000")
        .await;
    page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Waits until the wall clock has moved on by at least a millisecond (the
/// resolution of an id's time part), so a second post cannot share the
/// first one's arrival time by luck.
async fn next_millisecond() {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
    };
    let start = now_ms();
    while now_ms() <= start + 1 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_reposted_record_without_start_time_is_stored_once() {
    let server = TestServer::start().await;
    let batch = json!([timeless_record(1, Some("key-1")), timeless_record(2, None)]);
    let first = post(&server, &batch).await;
    assert_eq!(first["stored"], 2, "{first}");
    assert_eq!(first["already_stored"], 0, "{first}");
    next_millisecond().await;
    let second = post(&server, &batch).await;
    assert_eq!(
        second["ids"], first["ids"],
        "the same records, the same ids"
    );
    assert_eq!(second["stored"], 0, "{second}");
    assert_eq!(second["already_stored"], 2, "{second}");
    assert_eq!(stored_ids(&server).await.len(), 2, "stored once each");

    // Stored at its arrival time all the same.
    let id = first["ids"][0].as_str().expect("id");
    let call = server.get_json(&format!("/api/v1/calls/{id}")).await;
    let start_ms = call["start_time_unix_nano"]
        .as_u64()
        .or_else(|| call["start_time_unix_nano"].as_str()?.parse().ok())
        .expect("start")
        / 1_000_000;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    assert!(
        now_ms - start_ms < 60_000,
        "a record without a time is stored at its arrival: {call}"
    );
}

#[tokio::test]
async fn a_changed_record_without_key_is_a_new_call() {
    let server = TestServer::start().await;
    post(&server, &timeless_record(1, None)).await;
    let mut changed = timeless_record(1, None);
    changed["response"]["choices"][0]["message"]["content"] = json!("another answer");
    let reply = post(&server, &changed).await;
    assert_eq!(reply["stored"], 1, "different content, different call");
    assert_eq!(stored_ids(&server).await.len(), 2);
}

fn import(file: &std::path::Path, target: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_reprise"))
        .arg("import")
        .arg(file)
        .args(target)
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

fn timeless_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("timeless.jsonl");
    let lines: Vec<String> = (0..12)
        .map(|i| {
            let key = format!("import-{i}");
            timeless_record(i, (i % 2 == 0).then_some(key.as_str())).to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    file
}

#[tokio::test]
async fn importing_a_file_without_times_twice_stores_it_once() {
    let dir = tempfile::tempdir().expect("dir");
    let file = timeless_file(dir.path());
    let db = dir.path().join("import.db");
    let db_arg = db.to_str().expect("utf-8 path");
    let first = import(&file, &["--db", db_arg]);
    assert!(first.contains("12 stored, 0 already stored"), "{first}");
    let second = import(&file, &["--db", db_arg]);
    assert!(second.contains("0 stored, 12 already stored"), "{second}");
    let server = TestServer::start_on(&db, &[]).await;
    assert_eq!(stored_ids(&server).await.len(), 12);
}

#[tokio::test]
async fn importing_twice_into_a_server_says_what_was_already_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let file = timeless_file(dir.path());
    let server = TestServer::start().await;
    let url = server.url("");
    let first = import(&file, &["--server", &url]);
    assert!(first.contains("12 stored, 0 already stored"), "{first}");
    let second = import(&file, &["--server", &url]);
    assert!(second.contains("0 stored, 12 already stored"), "{second}");
    assert_eq!(stored_ids(&server).await.len(), 12);
}
